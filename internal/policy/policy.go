// Package policy holds what each gRPC implementation does with keepalive
// settings: its defaults and clamps, how it reads zero values, how its
// clients schedule PINGs and how its servers enforce their ping policy,
// and the margins a client needs against that enforcement. It also holds
// the changes advice proposes, in a structured form rendered in each
// implementation's own words. options.Validate and the diagnosis of
// abnormal closes both judge settings by these rules, so that what Validate
// says before deployment and what a diagnosis advises after a close agree.
package policy

import (
	"time"

	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/durfmt"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Infinity is the duration grpc-go itself uses for "never" (math.MaxInt64).
const Infinity = durfmt.Infinity

// Durations the presets and Validate are built on. Each is explained where it
// is used.
const (
	// grpc-go's own defaults and clamps (internal/transport/defaults.go,
	// dialoptions.go, server.go, internal/transport/http2_server.go).
	ServerKeepaliveTime = 2 * time.Hour    // ServerParameters.Time when zero
	KeepaliveTimeout    = 20 * time.Second // ServerParameters.Timeout and ClientParameters.Timeout when zero
	EnforcementMinTime  = 5 * time.Minute  // EnforcementPolicy.MinTime when zero
	ClientMinTime       = 10 * time.Second // grpc.WithKeepaliveParams raises ClientParameters.Time to this
	ServerMinTime       = time.Second      // grpc.KeepaliveParams raises a positive ServerParameters.Time to this
	IdlePingWindow      = 2 * time.Hour    // without streams and !PermitWithoutStream, a ping within this of the previous one is a strike
	MaxPingStrikes      = 2                // the strike after this many sends GOAWAY too_many_pings

	// Documented default idle timeouts of common L4 middleboxes, after which
	// they forget a TCP flow that carried no packet.
	AzureLBIdleTimeout = 4 * time.Minute   // Azure Load Balancer (configurable 4-100 min; drops silently unless "TCP reset on idle" is on)
	AWSNLBIdleTimeout  = 350 * time.Second // AWS Network Load Balancer (configurable 60-6000 s)
	GCPIdleTimeout     = 10 * time.Minute  // Google Cloud VPC firewall connection tracking
)

// Client is a client's keepalive as its transport runs it, whatever its
// implementation: defaults filled in, clamps applied, Infinity for off.
type Client struct {
	Impl pulse.Implementation
	// Time is the interval between the client's keepalive PINGs, Timeout
	// how long it waits for their acknowledgement.
	Time, Timeout time.Duration
	Permit        bool // it pings with no RPC in flight
	// MaxPingsWithoutData is how many PINGs a C-core client sends while it
	// sends no HEADERS or DATA before it stops pinging (0: no limit).
	MaxPingsWithoutData int
}

// Enabled reports whether the client sends keepalive pings at all.
func (c Client) Enabled() bool { return c.Time != Infinity }

// EffectiveClient applies grpc.WithKeepaliveParams (Time raised to 10 s) and
// newHTTP2Client (zero Timeout becomes 20 s).
func EffectiveClient(c keepalive.ClientParameters) Client {
	e := Client{Impl: pulse.ImplementationGo, Time: c.Time, Timeout: c.Timeout, Permit: c.PermitWithoutStream}
	if e.Time < ClientMinTime {
		e.Time = ClientMinTime
	}
	if e.Timeout == 0 {
		e.Timeout = KeepaliveTimeout
	}
	return e
}

// EffectiveServer applies grpc.KeepaliveParams (a positive Time raised to 1 s)
// and newHTTP2Server (zero fields become grpc's defaults).
func EffectiveServer(kp keepalive.ServerParameters, kep keepalive.EnforcementPolicy) (keepalive.ServerParameters, keepalive.EnforcementPolicy) {
	if kp.Time > 0 && kp.Time < ServerMinTime {
		kp.Time = ServerMinTime
	}
	if kp.MaxConnectionIdle == 0 {
		kp.MaxConnectionIdle = Infinity
	}
	if kp.MaxConnectionAge == 0 {
		kp.MaxConnectionAge = Infinity
	}
	if kp.MaxConnectionAgeGrace == 0 {
		kp.MaxConnectionAgeGrace = Infinity
	}
	if kp.Time == 0 {
		kp.Time = ServerKeepaliveTime
	}
	if kp.Timeout == 0 {
		kp.Timeout = KeepaliveTimeout
	}
	if kep.MinTime == 0 {
		kep.MinTime = EnforcementMinTime
	}
	return kp, kep
}

// PingMargin is how far above a server's minimum ping interval a client's
// Time must be: the larger of 1 s and 10%. Pings arrive early by a few
// milliseconds in grpc/grpc#28830, and by a GC pause or a CPU-starved server
// reader (which stamps one ping late and the next one early); 1 s covers the
// former by orders of magnitude and 10% scales with long intervals, at the
// cost of at most 10% fewer pings.
func PingMargin(minInterval time.Duration) time.Duration {
	return max(time.Second, minInterval/10)
}

// MaxMinTimeFor is the largest whole-second MinTime that a client pinging
// every t clears with PingMargin.
func MaxMinTimeFor(t time.Duration) time.Duration {
	m := min(t-time.Second, t/11*10)
	return max(0, m.Truncate(time.Second))
}

// SatAdd adds two non-negative durations, saturating at Infinity.
func SatAdd(a, b time.Duration) time.Duration {
	if a > Infinity-b {
		return Infinity
	}
	return a + b
}

// SatMul multiplies a non-negative duration by n > 0, saturating at Infinity.
func SatMul(d time.Duration, n int64) time.Duration {
	if d > Infinity/time.Duration(n) {
		return Infinity
	}
	return d * time.Duration(n)
}

// CeilSecond rounds d up to a whole second.
func CeilSecond(d time.Duration) time.Duration {
	if t := d.Truncate(time.Second); t != d && t <= Infinity-time.Second {
		return t + time.Second
	}
	return d
}

// Format formats a setting like time.Duration.String without trailing zero
// units ("5m", "2h", "5m30s") and Infinity as "infinity".
func Format(d time.Duration) string { return durfmt.Setting(d) }
