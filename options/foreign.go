package options

import (
	"fmt"

	"sort"
	"time"

	"github.com/grpcpulse/grpcpulse/internal/policy"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// CCoreClient is a gRPC C-core client's keepalive channel arguments (gRPC
// C++'s ChannelArguments, Python's grpc.insecure_channel(options=...),
// Ruby's, PHP's, ...), for Validate: keys exactly as C-core spells them,
// integer values as it takes them (milliseconds, 0 or 1 for switches).
//
// Validate reads them as C-core 1.51 does: grpc.keepalive_time_ms absent or
// 2147483647 (INT_MAX) is off, below 1 it is 1 ms, and the client sends at
// most one PING a second; grpc.keepalive_timeout_ms defaults to 20000;
// grpc.keepalive_permit_without_calls to 0; grpc.http2.max_pings_without_data
// to 2 (the client stops pinging after that many PINGs while nothing comes
// from the server; 0 lifts the limit). Any other key is reported.
type CCoreClient map[string]int

// CCoreServer is a gRPC C-core server's keepalive channel arguments, for
// Validate, as CCoreClient: grpc.keepalive_time_ms (default 7200000, 2 h),
// grpc.keepalive_timeout_ms (20000), grpc.keepalive_permit_without_calls
// (0: with no RPC in flight it accepts one PING per 2 h),
// grpc.http2.min_ping_interval_without_data_ms (300000: the shortest
// interval between a client's PINGs it accepts; the string of
// GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS),
// grpc.http2.max_ping_strikes (2: the third early PING ends the connection;
// 0 turns enforcement off), and grpc.max_connection_age_ms,
// grpc.max_connection_age_grace_ms and grpc.max_connection_idle_ms
// (absent: infinite).
type CCoreServer map[string]int

// JSClient is a @grpc/grpc-js client's keepalive channel options, for
// Validate, as CCoreClient. Validate reads them as grpc-js 1.14 does:
// grpc.keepalive_time_ms is off unless positive, with no lower bound;
// grpc.keepalive_timeout_ms defaults to 20000;
// grpc.keepalive_permit_without_calls is on only when 1.
type JSClient map[string]int

// JSServer is a @grpc/grpc-js server's keepalive options, for Validate:
// grpc.keepalive_time_ms (off unless given), grpc.keepalive_timeout_ms
// (20000), grpc.max_connection_age_ms, grpc.max_connection_age_grace_ms and
// grpc.max_connection_idle_ms (off unless given). A grpc-js 1.14 server
// enforces no ping policy: whatever its clients' keepalive, it never
// answers too_many_pings.
type JSServer map[string]int

// JavaClient is what a grpc-java client's channel builder
// (ManagedChannelBuilder, NettyChannelBuilder) is passed, for Validate.
// A zero field is a method not called. Validate reads them as grpc-java
// 1.41 does: keepAliveTime is off unless called, and raised to 10 s;
// keepAliveTimeout defaults to 20 s and is raised to 10 ms; a negative
// value makes the builder throw.
type JavaClient struct {
	KeepAliveTime         time.Duration // keepAliveTime(...)
	KeepAliveTimeout      time.Duration // keepAliveTimeout(...)
	KeepAliveWithoutCalls bool          // keepAliveWithoutCalls(...)
}

// JavaServer is what a grpc-java server's NettyServerBuilder is passed, for
// Validate. A zero field is a method not called, which keeps grpc-java
// 1.41's default: keepAliveTime 2 h (raised to 10 s when called),
// keepAliveTimeout 20 s, permitKeepAliveTime 5 min (to accept any interval,
// pass a tiny positive value such as time.Nanosecond),
// permitKeepAliveWithoutCalls false, maxConnectionIdle and maxConnectionAge
// off (raised to 1 s when called), maxConnectionAgeGrace infinite (for a
// grace of zero, pass time.Nanosecond). Durations of 1000 days or more are
// off, as grpc-java reads them.
type JavaServer struct {
	KeepAliveTime               time.Duration // keepAliveTime(...)
	KeepAliveTimeout            time.Duration // keepAliveTimeout(...)
	PermitKeepAliveTime         time.Duration // permitKeepAliveTime(...)
	PermitKeepAliveWithoutCalls bool          // permitKeepAliveWithoutCalls(...)
	MaxConnectionIdle           time.Duration // maxConnectionIdle(...)
	MaxConnectionAge            time.Duration // maxConnectionAge(...)
	MaxConnectionAgeGrace       time.Duration // maxConnectionAgeGrace(...)
}

func (c CCoreClient) clientModel() policy.Client { return policy.CCoreClient(c) }
func (c JSClient) clientModel() policy.Client    { return policy.JSClient(c) }
func (c JavaClient) clientModel() policy.Client {
	return policy.JavaClient(c.KeepAliveTime, c.KeepAliveTimeout, c.KeepAliveWithoutCalls)
}
func (s CCoreServer) serverModel() policy.Server { return policy.CCoreServer(s) }
func (s JSServer) serverModel() policy.Server    { return policy.JSServer(s) }
func (s JavaServer) serverModel() policy.Server {
	return policy.JavaServer(policy.JavaServerSettings(s))
}
func (CCoreServer) longestRPC() time.Duration { return 0 }
func (JSServer) longestRPC() time.Duration    { return 0 }
func (JavaServer) longestRPC() time.Duration  { return 0 }

// The keepalive arguments each implementation reads, by role.
var (
	cCoreClientArgs = []string{policy.ArgKeepaliveTime, policy.ArgKeepaliveTimeout, policy.ArgPermitWithoutCalls, policy.ArgMaxPingsWithoutData}
	cCoreServerArgs = []string{policy.ArgKeepaliveTime, policy.ArgKeepaliveTimeout, policy.ArgPermitWithoutCalls, policy.ArgMinRecvPingInterval,
		policy.ArgMaxPingStrikes, policy.ArgMaxConnectionAge, policy.ArgMaxConnectionAgeGrac, policy.ArgMaxConnectionIdle, policy.ArgMaxPingsWithoutData}
	jsClientArgs = []string{policy.ArgKeepaliveTime, policy.ArgKeepaliveTimeout, policy.ArgPermitWithoutCalls}
	jsServerArgs = []string{policy.ArgKeepaliveTime, policy.ArgKeepaliveTimeout, policy.ArgMaxConnectionAge, policy.ArgMaxConnectionAgeGrac, policy.ArgMaxConnectionIdle}
)

// misread explains keys that look like keepalive arguments but are not read.
var misread = map[string]string{
	"grpc.http2.min_recv_ping_interval_without_data_ms": "is the name of C-core's macro GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, " +
		"not the argument: its string is grpc.http2.min_ping_interval_without_data_ms, and this key is ignored",
	"grpc.http2.min_time_between_pings_ms": "is no longer read by C-core (1.51 sends a client's PINGs at most once a second, whatever it says) " +
		"and never by grpc-js",
	"grpc.http2.min_sent_ping_interval_without_data_ms": "is the name of C-core's macro GRPC_ARG_HTTP2_MIN_SENT_PING_INTERVAL_WITHOUT_DATA_MS, " +
		"whose argument 1.51 no longer reads",
}

// keyFindings reports the keys of args that impl's role does not read:
// known misspellings, the other role's arguments, and any other key.
func keyFindings(args map[string]int, impl pulse.Implementation, role string, known, otherRole []string) []Finding {
	var fs findings
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case contains(known, k):
		case misread[k] != "":
			fs.addFix("unknown_key", nil, Warning, k, "%s. Validate ignores it too.", misread[k])
		case contains(otherRole, k):
			fs.addFix("unknown_key", nil, Warning, k, "is an argument of a %s %s, not of a %s: a %s ignores it, and so does Validate.",
				implName(impl), other(role), role, role)
		case impl == pulse.ImplementationJS && contains(cCoreServerArgs, k) && role == "server":
			fs.addFix("unknown_key", nil, Warning, k, "is read by C-core servers, not by grpc-js ones: a grpc-js server enforces no ping policy at all, "+
				"and ignores it. Validate ignores it too.")
		case impl == pulse.ImplementationJS && contains(cCoreClientArgs, k):
			fs.addFix("unknown_key", nil, Warning, k, "is read by C-core clients, not by grpc-js ones, which never stop pinging for want of data. Validate ignores it too.")
		default:
			fs.addFix("unknown_key", nil, Warning, k, "is not a keepalive argument a %s %s reads; Validate checks keepalive arguments only, and ignores it.",
				implName(impl), role)
		}
	}
	return fs
}

func other(role string) string {
	if role == "client" {
		return "server"
	}
	return "client"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ms renders a duration as a C-core or grpc-js argument: "330000 (5m30s)".
func ms(d time.Duration) string {
	return fmt.Sprintf("%d (%s)", policy.Millis(d, policy.AtLeast), policy.Format(d))
}

func (c CCoreClient) clientFindings() ([]Finding, bool) {
	fs := findings(keyFindings(c, pulse.ImplementationCCore, "client", cCoreClientArgs, cCoreServerArgs[3:8]))
	ok := true
	recommended := DefaultClientParameters().Time
	if v, set := c[policy.ArgKeepaliveTime]; set {
		switch {
		case v <= 0:
			fs.addFix("client_time_zero", []policy.Fix{fix(policy.KnobClientTime, policy.AtLeast, recommended)}, Warning, policy.ArgKeepaliveTime,
				"is %d, which does not disable keepalive: C-core raises it to 1 ms and then pings every second. "+
					"Set it to e.g. %s, or leave it out (or set 2147483647, INT_MAX) to disable keepalive.", v, ms(recommended))
		case v < 1000:
			fs.addFix("client_time_clamped", []policy.Fix{fix(policy.KnobClientTime, policy.AtLeast, time.Second)}, Warning, policy.ArgKeepaliveTime,
				"is %d: a C-core 1.51 client sends at most one PING a second, so it runs as 1000. Set it to 1000 or more so that the configuration says what runs.", v)
		}
	}
	if v, set := c[policy.ArgKeepaliveTimeout]; set && v <= 0 && c.clientModel().Enabled() {
		ok = false
		fs.addFix("client_timeout_zero", []policy.Fix{fix(policy.KnobClientTimeout, policy.Set, policy.CCoreKeepaliveTimeout)}, Error, policy.ArgKeepaliveTimeout,
			"is %d: C-core closes the connection as soon as a keepalive PING is not answered at once, that is at its first keepalive PING. "+
				"Set it to %s, C-core's default.", v, ms(policy.CCoreKeepaliveTimeout))
	}
	if v, set := c[policy.ArgMaxPingsWithoutData]; set && v < 0 {
		fs.addFix("ccore_pings_without_data_negative", []policy.Fix{{{Knob: policy.KnobClientMaxPingsWithoutData, Op: policy.Set, N: 0}}}, Warning,
			policy.ArgMaxPingsWithoutData, "is %d; C-core reads a negative value as 0, no limit. Set it to 0 so that the configuration says what runs.", v)
	}
	return fs, ok
}

func (c JSClient) clientFindings() ([]Finding, bool) {
	fs := findings(keyFindings(c, pulse.ImplementationJS, "client", jsClientArgs, jsServerArgs[2:]))
	ok := true
	if v, set := c[policy.ArgKeepaliveTime]; set && v <= 0 {
		fs.addFix("js_time_off", nil, Warning, policy.ArgKeepaliveTime,
			"is %d, which grpc-js reads as keepalive off (only a positive value turns it on). Leave it out to say so.", v)
	}
	if v, set := c[policy.ArgKeepaliveTimeout]; set && v <= 0 && c.clientModel().Enabled() {
		ok = false
		fs.addFix("client_timeout_zero", []policy.Fix{fix(policy.KnobClientTimeout, policy.Set, policy.JSKeepaliveTimeout)}, Error, policy.ArgKeepaliveTimeout,
			"is %d: grpc-js's timer for the PING's answer fires at once, so it closes the connection at its first keepalive PING. "+
				"Set it to %s, grpc-js's default.", v, ms(policy.JSKeepaliveTimeout))
	}
	if v, set := c[policy.ArgPermitWithoutCalls]; set && v != 0 && v != 1 {
		fs.addFix("js_permit", []policy.Fix{{{Knob: policy.KnobClientPermitWithoutStream, Op: policy.Set, On: false}}}, Warning, policy.ArgPermitWithoutCalls,
			"is %d: grpc-js turns pings without calls on only for exactly 1, so it stays off. Set it to 0 or 1 so that the configuration says what runs.", v)
	}
	return fs, ok
}

func (c JavaClient) clientFindings() ([]Finding, bool) {
	var fs findings
	const tt, to = "ManagedChannelBuilder.keepAliveTime", "ManagedChannelBuilder.keepAliveTimeout"
	ok := true
	if c.KeepAliveTime < 0 {
		ok = false
		fs.addFix("java_negative", []policy.Fix{fix(policy.KnobClientTime, policy.AtLeast, DefaultClientParameters().Time)}, Fatal, tt,
			"is negative (%s): grpc-java's builder throws IllegalArgumentException (keepalive time must be positive) and the channel is never built. "+
				"Set it to e.g. %s, or do not call it to disable keepalive.", policy.Format(c.KeepAliveTime), policy.Format(DefaultClientParameters().Time))
	} else if c.KeepAliveTime > 0 && c.KeepAliveTime < policy.JavaMinKeepaliveTime {
		fs.addFix("client_time_clamped", []policy.Fix{fix(policy.KnobClientTime, policy.AtLeast, policy.JavaMinKeepaliveTime)}, Warning, tt,
			"is %s; grpc-java raises anything below 10s to 10s. Set it to 10s or more so that the configuration says what runs.", policy.Format(c.KeepAliveTime))
	}
	if c.KeepAliveTimeout < 0 {
		ok = false
		fs.addFix("java_negative", []policy.Fix{fix(policy.KnobClientTimeout, policy.Set, policy.JavaKeepaliveTimeout)}, Fatal, to,
			"is negative (%s): grpc-java's builder throws IllegalArgumentException (keepalive timeout must be positive). Set it to 20s, grpc-java's default.",
			policy.Format(c.KeepAliveTimeout))
	} else if c.KeepAliveTimeout > 0 && c.KeepAliveTimeout < policy.JavaMinKeepaliveTimeout {
		fs.addFix("client_timeout_clamped", []policy.Fix{fix(policy.KnobClientTimeout, policy.AtLeast, policy.JavaMinKeepaliveTimeout)}, Warning, to,
			"is %s; grpc-java raises anything below 10ms to 10ms.", policy.Format(c.KeepAliveTimeout))
	}
	return fs, ok
}

func (s CCoreServer) serverFindings() ([]Finding, bool) {
	fs := findings(keyFindings(s, pulse.ImplementationCCore, "server", cCoreServerArgs, cCoreClientArgs))
	ok := true
	if v, set := s[policy.ArgKeepaliveTime]; set && v <= 0 {
		fs.addFix("server_time_zero", []policy.Fix{fix(policy.KnobServerTime, policy.AtLeast, DefaultServerPolicy().Parameters.Time)}, Warning, policy.ArgKeepaliveTime,
			"is %d, which does not disable the server's keepalive: C-core raises it to 1 ms. Set it to e.g. %s, or to 2147483647 (INT_MAX) to disable it.",
			v, ms(DefaultServerPolicy().Parameters.Time))
	}
	if v, set := s[policy.ArgKeepaliveTimeout]; set && v <= 0 {
		ok = false
		fs.addFix("server_timeout_zero", []policy.Fix{fix(policy.KnobServerTimeout, policy.Set, policy.CCoreKeepaliveTimeout)}, Error, policy.ArgKeepaliveTimeout,
			"is %d: C-core closes a connection as soon as its keepalive PING is not answered at once. Set it to %s, C-core's default.", v, ms(policy.CCoreKeepaliveTimeout))
	}
	if v, set := s[policy.ArgMinRecvPingInterval]; set && v < 0 {
		fs.addFix("server_mintime_negative", []policy.Fix{fix(policy.KnobServerMinTime, policy.Set, 0)}, Warning, policy.ArgMinRecvPingInterval,
			"is %d; C-core reads a negative value as 0, which accepts PINGs at any rate. Set it to 0 so that the configuration says what runs, "+
				"or to e.g. %s.", v, ms(DefaultServerPolicy().Enforcement.MinTime))
	}
	if v, set := s[policy.ArgMaxPingStrikes]; set && v < 0 {
		fs.addFix("server_strikes_negative", []policy.Fix{{{Knob: policy.KnobServerMaxPingStrikes, Op: policy.Set, N: 0}}}, Warning, policy.ArgMaxPingStrikes,
			"is %d; C-core reads a negative value as 0, which turns its ping policy off. Set it to 0 so that the configuration says what runs, or leave it out for 2.", v)
	}
	for _, k := range []struct {
		arg  string
		knob policy.Knob
	}{{policy.ArgMaxConnectionIdle, policy.KnobServerMaxConnectionIdle}, {policy.ArgMaxConnectionAge, policy.KnobServerMaxConnectionAge}, {policy.ArgMaxConnectionAgeGrac, policy.KnobServerMaxConnectionAgeGrace}} {
		if v, set := s[k.arg]; set && v <= 0 {
			fs.addFix("server_age_nonpositive", nil, Error, k.arg,
				"is %d: C-core takes only 1 to 2147483647 milliseconds (INT_MAX: infinite) and ignores anything else. Set a positive value, or leave it out for infinite.", v)
		}
	}
	return fs, ok
}

func (s JSServer) serverFindings() ([]Finding, bool) {
	fs := findings(keyFindings(s, pulse.ImplementationJS, "server", jsServerArgs, jsClientArgs[2:]))
	ok := true
	if v, set := s[policy.ArgKeepaliveTime]; set && v <= 0 {
		fs.addFix("js_time_off", nil, Warning, policy.ArgKeepaliveTime,
			"is %d, which grpc-js reads as keepalive off (only a positive value turns it on). Leave it out to say so.", v)
	}
	if v, set := s[policy.ArgKeepaliveTimeout]; set && v <= 0 && s.serverModel().Time != Infinity {
		ok = false
		fs.addFix("server_timeout_zero", []policy.Fix{fix(policy.KnobServerTimeout, policy.Set, policy.JSKeepaliveTimeout)}, Error, policy.ArgKeepaliveTimeout,
			"is %d: grpc-js's timer for the PING's answer fires at once, so it closes every connection at its first keepalive PING. Set it to %s, grpc-js's default.",
			v, ms(policy.JSKeepaliveTimeout))
	}
	for _, k := range []struct {
		arg, effect string
		knob        policy.Knob
		to          time.Duration
	}{
		{policy.ArgMaxConnectionIdle, "grpc-js closes every connection as soon as it has no call", policy.KnobServerMaxConnectionIdle, 3 * time.Minute},
		{policy.ArgMaxConnectionAge, "grpc-js drains every connection as soon as it opens", policy.KnobServerMaxConnectionAge, 10 * time.Minute},
		{policy.ArgMaxConnectionAgeGrac, "grpc-js closes a connection right after its max_age GOAWAY, failing every call in flight", policy.KnobServerMaxConnectionAgeGrace, 2 * time.Minute},
	} {
		if v, set := s[k.arg]; set && (v < 0 || v == 0 && k.arg != policy.ArgMaxConnectionAgeGrac) {
			ok = false
			fs.addFix("server_age_nonpositive", []policy.Fix{fix(k.knob, policy.Set, k.to)}, Error, k.arg,
				"is %d: %s. Set it to e.g. %s, or leave it out for off.", v, k.effect, ms(k.to))
		}
	}
	return fs, ok
}

func (s JavaServer) serverFindings() ([]Finding, bool) {
	var fs findings
	ok := true
	for _, n := range []struct {
		name      string
		v         time.Duration
		knob      policy.Knob
		to        time.Duration
		mustBePos bool
	}{
		{"keepAliveTime", s.KeepAliveTime, policy.KnobServerTime, 2 * time.Minute, true},
		{"keepAliveTimeout", s.KeepAliveTimeout, policy.KnobServerTimeout, policy.JavaKeepaliveTimeout, true},
		{"permitKeepAliveTime", s.PermitKeepAliveTime, policy.KnobServerMinTime, 5 * time.Second, false},
		{"maxConnectionIdle", s.MaxConnectionIdle, policy.KnobServerMaxConnectionIdle, 3 * time.Minute, true},
		{"maxConnectionAge", s.MaxConnectionAge, policy.KnobServerMaxConnectionAge, 10 * time.Minute, true},
		{"maxConnectionAgeGrace", s.MaxConnectionAgeGrace, policy.KnobServerMaxConnectionAgeGrace, 2 * time.Minute, false},
	} {
		if n.v >= 0 {
			continue
		}
		ok = false
		must := "must be non-negative"
		if n.mustBePos {
			must = "must be positive"
		}
		fs.addFix("java_negative", []policy.Fix{fix(n.knob, policy.Set, n.to)}, Fatal, "NettyServerBuilder."+n.name,
			"is negative (%s): grpc-java's builder throws IllegalArgumentException (it %s) and the server is never built. Set it to e.g. %s.",
			policy.Format(n.v), must, policy.Format(n.to))
	}
	if s.KeepAliveTime > 0 && s.KeepAliveTime < policy.JavaMinKeepaliveTime {
		fs.addFix("server_time_clamped", []policy.Fix{fix(policy.KnobServerTime, policy.AtLeast, policy.JavaMinKeepaliveTime)}, Warning, "NettyServerBuilder.keepAliveTime",
			"is %s; grpc-java raises anything below 10s to 10s. Set it to 10s or more so that the configuration says what runs.", policy.Format(s.KeepAliveTime))
	}
	for _, n := range []struct {
		name string
		v    time.Duration
		knob policy.Knob
	}{{"maxConnectionIdle", s.MaxConnectionIdle, policy.KnobServerMaxConnectionIdle}, {"maxConnectionAge", s.MaxConnectionAge, policy.KnobServerMaxConnectionAge}} {
		if n.v > 0 && n.v < policy.JavaMinMaxConnectionTime {
			fs.addFix("server_age_clamped", []policy.Fix{fix(n.knob, policy.AtLeast, policy.JavaMinMaxConnectionTime)}, Warning, "NettyServerBuilder."+n.name,
				"is %s; grpc-java raises anything below 1s to 1s.", policy.Format(n.v))
		}
	}
	return fs, ok
}

// Compile-time checks that each type implements its side.
var (
	_ ClientKeepalive = GoClient{}
	_ ClientKeepalive = CCoreClient(nil)
	_ ClientKeepalive = JSClient(nil)
	_ ClientKeepalive = JavaClient{}
	_ ServerKeepalive = ServerPolicy{}
	_ ServerKeepalive = CCoreServer(nil)
	_ ServerKeepalive = JSServer(nil)
	_ ServerKeepalive = JavaServer{}
)
