package policy

import (
	"math"
	"time"

	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// The rules of the other implementations, as each reads its settings and
// runs them: confirmed in gRPC C-core 1.51.1 (Debian's python3-grpcio: its
// channel argument strings and traces, its behaviour on the wire, and
// chttp2_transport.cc, writing.cc, frame_ping.cc of the 1.5x sources),
// grpc-js 1.14.7 (build/src/transport.js, subchannel.js, server.js) and
// grpc-java 1.41.3 (Debian's libgrpc-java: NettyChannelBuilder,
// NettyServerBuilder, KeepAliveManager, KeepAliveEnforcer, read with javap).
const (
	// C-core.
	CCoreServerKeepaliveTime = 2 * time.Hour    // grpc.keepalive_time_ms of a server when absent
	CCoreKeepaliveTimeout    = 20 * time.Second // grpc.keepalive_timeout_ms when absent
	CCoreMinRecvPingInterval = 5 * time.Minute  // grpc.http2.min_ping_interval_without_data_ms when absent
	CCoreMaxPingStrikes      = 2                // grpc.http2.max_ping_strikes when absent; 0 turns enforcement off
	CCoreMaxPingsWithoutData = 2                // grpc.http2.max_pings_without_data when absent; 0 lifts the limit
	// CCoreMinPingInterval is how often a C-core 1.51 client pings at
	// most, whatever grpc.keepalive_time_ms says: writing.cc delays a PING
	// until a second after the previous one (measured: keepalive_time_ms
	// 100 pings every second). Without an RPC and without
	// grpc.keepalive_permit_without_calls it pings not at all.
	CCoreMinPingInterval = time.Second

	// grpc-js.
	JSKeepaliveTimeout = 20 * time.Second // grpc.keepalive_timeout_ms when absent
	// JSMaxMillis is grpc-js's "unlimited": options at or above it
	// (2^31-1 ms, about 24.8 days) are off.
	JSMaxMillis = math.MaxInt32

	// grpc-java.
	JavaMinKeepaliveTime     = 10 * time.Second // KeepAliveManager clamps keepAliveTime, client and server, to this
	JavaMinKeepaliveTimeout  = 10 * time.Millisecond
	JavaKeepaliveTimeout     = 20 * time.Second // keepAliveTimeout when not called
	JavaServerKeepaliveTime  = 2 * time.Hour    // NettyServerBuilder's keepAliveTime when not called
	JavaPermitKeepaliveTime  = 5 * time.Minute  // permitKeepAliveTime when not called
	JavaMinMaxConnectionTime = time.Second      // maxConnectionIdle and maxConnectionAge are raised to this
	JavaMaxPingStrikes       = 2                // KeepAliveEnforcer.MAX_PING_STRIKES
	// JavaAsLargeAsInfinite: durations of 1000 days or more turn the
	// setting off.
	JavaAsLargeAsInfinite = 1000 * 24 * time.Hour
)

// NoEnforcement is Server.MaxPingStrikes of a server that never ends a
// connection for its PINGs.
const NoEnforcement = -1

// Server is a server's keepalive policy as its transport runs it, whatever
// its implementation: defaults filled in, clamps applied, Infinity for off.
type Server struct {
	Impl pulse.Implementation
	// Time and Timeout: the server's own keepalive PINGs.
	Time, Timeout time.Duration
	// MinTime is the shortest interval between a client's PINGs the server
	// accepts while RPCs are in flight (or always, with Permit).
	MinTime time.Duration
	// Permit: the server accepts PINGs, at MinTime, when no RPC is in
	// flight; otherwise only one per IdlePingWindow.
	Permit bool
	// MaxPingStrikes is how many early PINGs the server tolerates; the next
	// one ends the connection with GOAWAY too_many_pings. NoEnforcement:
	// none ever does.
	MaxPingStrikes                                             int
	MaxConnectionIdle, MaxConnectionAge, MaxConnectionAgeGrace time.Duration
}

// Enforces reports whether the server ever ends a connection for its
// client's PINGs.
func (s Server) Enforces() bool { return s.MaxPingStrikes != NoEnforcement }

// GoServer returns a grpc-go server's policy (see EffectiveServer).
func GoServer(kp keepalive.ServerParameters, kep keepalive.EnforcementPolicy) Server {
	kp, kep = EffectiveServer(kp, kep)
	return Server{
		Impl: pulse.ImplementationGo, Time: kp.Time, Timeout: kp.Timeout, MinTime: kep.MinTime, Permit: kep.PermitWithoutStream,
		MaxPingStrikes: MaxPingStrikes, MaxConnectionIdle: kp.MaxConnectionIdle, MaxConnectionAge: kp.MaxConnectionAge,
		MaxConnectionAgeGrace: kp.MaxConnectionAgeGrace,
	}
}

// GoClient returns a grpc-go client's keepalive (see EffectiveClient).
func GoClient(c keepalive.ClientParameters) Client { return EffectiveClient(c) }

// CCoreMillis reads a C-core integer channel argument in milliseconds:
// INT_MAX is C-core's "infinite".
func CCoreMillis(v int) time.Duration {
	if v >= math.MaxInt32 {
		return Infinity
	}
	return time.Duration(v) * time.Millisecond
}

// The channel arguments the models read, by C-core's and grpc-js's names.
const (
	ArgKeepaliveTime        = "grpc.keepalive_time_ms"
	ArgKeepaliveTimeout     = "grpc.keepalive_timeout_ms"
	ArgPermitWithoutCalls   = "grpc.keepalive_permit_without_calls"
	ArgMaxPingsWithoutData  = "grpc.http2.max_pings_without_data"
	ArgMinRecvPingInterval  = "grpc.http2.min_ping_interval_without_data_ms" // GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS
	ArgMaxPingStrikes       = "grpc.http2.max_ping_strikes"
	ArgMaxConnectionAge     = "grpc.max_connection_age_ms"
	ArgMaxConnectionAgeGrac = "grpc.max_connection_age_grace_ms"
	ArgMaxConnectionIdle    = "grpc.max_connection_idle_ms"
)

// CCoreClient returns a C-core 1.51 client's keepalive from its channel
// arguments: keepalive_time_ms absent or INT_MAX is off, below 1 it is
// 1 ms, and it pings at most every CCoreMinPingInterval;
// keepalive_timeout_ms defaults to 20 s and is at least 0;
// max_pings_without_data defaults to 2 and is at least 0.
func CCoreClient(args map[string]int) Client {
	c := Client{Impl: pulse.ImplementationCCore, Time: Infinity, Timeout: CCoreKeepaliveTimeout, MaxPingsWithoutData: CCoreMaxPingsWithoutData}
	if v, ok := args[ArgKeepaliveTime]; ok {
		c.Time = max(CCoreMillis(v), time.Millisecond)
	}
	if c.Time != Infinity {
		c.Time = max(c.Time, CCoreMinPingInterval)
	}
	if v, ok := args[ArgKeepaliveTimeout]; ok {
		c.Timeout = max(CCoreMillis(v), 0)
	}
	c.Permit = args[ArgPermitWithoutCalls] != 0
	if v, ok := args[ArgMaxPingsWithoutData]; ok {
		c.MaxPingsWithoutData = max(v, 0)
	}
	return c
}

// CCoreServer returns a C-core 1.51 server's policy from its channel
// arguments: keepalive_time_ms defaults to 2 h (at least 1 ms),
// keepalive_timeout_ms to 20 s, min_ping_interval_without_data_ms to 5 min
// (at least 0), max_ping_strikes to 2 (0: no limit), and the
// max_connection_* arguments to infinite. A non-positive max_connection_*
// argument is taken as absent, as older releases do (Validate reports it).
func CCoreServer(args map[string]int) Server {
	s := Server{
		Impl: pulse.ImplementationCCore, Time: CCoreServerKeepaliveTime, Timeout: CCoreKeepaliveTimeout, MinTime: CCoreMinRecvPingInterval,
		MaxPingStrikes: CCoreMaxPingStrikes, MaxConnectionIdle: Infinity, MaxConnectionAge: Infinity, MaxConnectionAgeGrace: Infinity,
	}
	if v, ok := args[ArgKeepaliveTime]; ok {
		s.Time = max(CCoreMillis(v), time.Millisecond)
	}
	if v, ok := args[ArgKeepaliveTimeout]; ok {
		s.Timeout = max(CCoreMillis(v), 0)
	}
	s.Permit = args[ArgPermitWithoutCalls] != 0
	if v, ok := args[ArgMinRecvPingInterval]; ok {
		s.MinTime = max(CCoreMillis(v), 0)
	}
	if v, ok := args[ArgMaxPingStrikes]; ok {
		s.MaxPingStrikes = max(v, 0)
		if s.MaxPingStrikes == 0 {
			s.MaxPingStrikes = NoEnforcement
		}
	}
	for key, d := range map[string]*time.Duration{
		ArgMaxConnectionIdle: &s.MaxConnectionIdle, ArgMaxConnectionAge: &s.MaxConnectionAge, ArgMaxConnectionAgeGrac: &s.MaxConnectionAgeGrace,
	} {
		if v, ok := args[key]; ok && v > 0 {
			*d = CCoreMillis(v)
		}
	}
	return s
}

// jsMillis reads a grpc-js option in milliseconds: JSMaxMillis and above
// are off.
func jsMillis(v int) time.Duration {
	if v >= JSMaxMillis {
		return Infinity
	}
	return time.Duration(v) * time.Millisecond
}

// JSClient returns a grpc-js 1.14 client's keepalive from its channel
// options: grpc.keepalive_time_ms absent or not positive is off, with no
// lower clamp; grpc.keepalive_timeout_ms defaults to 20 s;
// grpc.keepalive_permit_without_calls is on only when 1.
func JSClient(args map[string]int) Client {
	c := Client{Impl: pulse.ImplementationJS, Time: Infinity, Timeout: JSKeepaliveTimeout}
	if v, ok := args[ArgKeepaliveTime]; ok && v > 0 {
		c.Time = jsMillis(v)
	}
	if v, ok := args[ArgKeepaliveTimeout]; ok {
		c.Timeout = jsMillis(max(v, 0))
	}
	c.Permit = args[ArgPermitWithoutCalls] == 1
	return c
}

// JSServer returns a grpc-js 1.14 server's policy from its options. grpc-js
// enforces no ping policy at all; its keepalive PINGs (off by default) go
// out every grpc.keepalive_time_ms whether or not RPCs are in flight, and
// its max_connection_* options default to off.
func JSServer(args map[string]int) Server {
	s := Server{
		Impl: pulse.ImplementationJS, Time: Infinity, Timeout: JSKeepaliveTimeout, Permit: true, MaxPingStrikes: NoEnforcement,
		MaxConnectionIdle: Infinity, MaxConnectionAge: Infinity, MaxConnectionAgeGrace: Infinity,
	}
	if v, ok := args[ArgKeepaliveTime]; ok && v > 0 {
		s.Time = jsMillis(v)
	}
	if v, ok := args[ArgKeepaliveTimeout]; ok {
		s.Timeout = jsMillis(max(v, 0))
	}
	for key, d := range map[string]*time.Duration{
		ArgMaxConnectionIdle: &s.MaxConnectionIdle, ArgMaxConnectionAge: &s.MaxConnectionAge, ArgMaxConnectionAgeGrac: &s.MaxConnectionAgeGrace,
	} {
		if v, ok := args[key]; ok && v >= 0 {
			*d = jsMillis(v)
		}
	}
	return s
}

// javaDuration applies a grpc-java builder's reading of a duration: 1000
// days or more is off, below floor is floor.
func javaDuration(d, floor time.Duration) time.Duration {
	if d >= JavaAsLargeAsInfinite {
		return Infinity
	}
	return max(d, floor)
}

// JavaClient returns a grpc-java 1.41 client's keepalive, given what its
// channel builder was passed (zero: the method was not called):
// keepAliveTime off unless called, then at least 10 s; keepAliveTimeout
// 20 s unless called, then at least 10 ms.
func JavaClient(keepAliveTime, keepAliveTimeout time.Duration, withoutCalls bool) Client {
	c := Client{Impl: pulse.ImplementationJava, Time: Infinity, Timeout: JavaKeepaliveTimeout, Permit: withoutCalls}
	if keepAliveTime > 0 {
		c.Time = javaDuration(keepAliveTime, JavaMinKeepaliveTime)
	}
	if keepAliveTimeout > 0 {
		c.Timeout = max(keepAliveTimeout, JavaMinKeepaliveTimeout)
	}
	return c
}

// JavaServerSettings is what a grpc-java server's NettyServerBuilder was
// passed; zero fields were not called.
type JavaServerSettings struct {
	KeepAliveTime, KeepAliveTimeout, PermitKeepAliveTime       time.Duration
	PermitKeepAliveWithoutCalls                                bool
	MaxConnectionIdle, MaxConnectionAge, MaxConnectionAgeGrace time.Duration
}

// JavaServer returns a grpc-java 1.41 server's policy: keepAliveTime 2 h
// unless called, then at least 10 s; keepAliveTimeout 20 s, at least 10 ms;
// permitKeepAliveTime 5 min; maxConnectionIdle and maxConnectionAge off
// unless called, then at least 1 s; maxConnectionAgeGrace infinite unless
// called.
func JavaServer(j JavaServerSettings) Server {
	s := Server{
		Impl: pulse.ImplementationJava, Time: JavaServerKeepaliveTime, Timeout: JavaKeepaliveTimeout, MinTime: JavaPermitKeepaliveTime,
		Permit: j.PermitKeepAliveWithoutCalls, MaxPingStrikes: JavaMaxPingStrikes,
		MaxConnectionIdle: Infinity, MaxConnectionAge: Infinity, MaxConnectionAgeGrace: Infinity,
	}
	if j.KeepAliveTime > 0 {
		s.Time = javaDuration(j.KeepAliveTime, JavaMinKeepaliveTime)
	}
	if j.KeepAliveTimeout > 0 {
		s.Timeout = max(j.KeepAliveTimeout, JavaMinKeepaliveTimeout)
	}
	if j.PermitKeepAliveTime > 0 {
		s.MinTime = j.PermitKeepAliveTime
	}
	if j.MaxConnectionIdle > 0 {
		s.MaxConnectionIdle = javaDuration(j.MaxConnectionIdle, JavaMinMaxConnectionTime)
	}
	if j.MaxConnectionAge > 0 {
		s.MaxConnectionAge = javaDuration(j.MaxConnectionAge, JavaMinMaxConnectionTime)
	}
	if j.MaxConnectionAgeGrace > 0 {
		s.MaxConnectionAgeGrace = javaDuration(j.MaxConnectionAgeGrace, 0)
	}
	return s
}

// DefaultServer returns the policy of a server of implementation impl at
// its defaults; for an unknown implementation, grpc-go's, whose enforcement
// (MinTime 5 min, no pings without RPCs, two strikes) C-core's and
// grpc-java's defaults share.
func DefaultServer(impl pulse.Implementation) Server {
	switch impl {
	case pulse.ImplementationCCore:
		return CCoreServer(nil)
	case pulse.ImplementationJS:
		return JSServer(nil)
	case pulse.ImplementationJava:
		return JavaServer(JavaServerSettings{})
	}
	s := GoServer(keepalive.ServerParameters{}, keepalive.EnforcementPolicy{})
	s.Impl = impl
	return s
}

// ServerFloor is the shortest keepalive interval a server of impl can run:
// grpc-go raises a shorter positive ServerParameters.Time to 1 s and
// grpc-java its keepAliveTime to 10 s, C-core pings at most every second,
// grpc-js has no floor. For an implementation that is not known it is the
// largest of these, so that advice given on it holds for any of them.
func ServerFloor(impl pulse.Implementation) time.Duration {
	switch impl {
	case pulse.ImplementationGo:
		return ServerMinTime
	case pulse.ImplementationCCore:
		return CCoreMinPingInterval
	case pulse.ImplementationJS:
		return 0
	}
	return ClientMinTime
}

// ClientFloor is the shortest keepalive interval a client of impl can run:
// grpc-go and grpc-java raise shorter ones to 10 s, C-core 1.51 pings at
// most every second, grpc-js has no floor.
func ClientFloor(impl pulse.Implementation) time.Duration {
	switch impl {
	case pulse.ImplementationGo, pulse.ImplementationJava:
		return ClientMinTime
	case pulse.ImplementationCCore:
		return CCoreMinPingInterval
	}
	return 0
}
