package pulse

import (
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/grpcpulse/grpcpulse/internal/durfmt"
)

// MaxCutRPCs is how many cut RPCs a Diagnosis names; CutRPCs counts them
// all.
const MaxCutRPCs = 4

// Diagnosis is what grpcpulse concludes about an abnormal, actionable
// transport end: the facts it observed, the keepalive policy this side ran
// with, and Advice that names the setting to change, on which side, and a
// value that would have prevented the end. Zero values mean "not observed".
//
// Only ends that a setting or a fix can prevent are diagnosed: a client's
// own close, a server's graceful or forced stop, and a connection drained
// with nothing in flight are normal and get none.
type Diagnosis struct {
	Side      Side
	Reason    Reason
	Initiator Initiator
	// Peer is the gRPC implementation of the peer, when this side could
	// tell; Advice then names that implementation's own settings.
	Peer Implementation
	// RemoteAddr is the peer's address.
	RemoteAddr net.Addr

	// Lifetime is how long the transport lived.
	Lifetime time.Duration
	// Idle is how long nothing had been read before the end began: for a
	// keepalive timeout, before the unanswered PING.
	Idle time.Duration
	// LastRTT is the last keepalive round trip this side measured.
	LastRTT time.Duration
	// PeerPingIntervals are the intervals between the last keepalive
	// PINGs the peer sent, oldest first.
	PeerPingIntervals []time.Duration
	// PingsSent is how many keepalive PINGs this side sent.
	PingsSent int64

	// CutRPCs is how many RPCs were still in flight when the transport
	// ended; Cut names at most MaxCutRPCs of them.
	CutRPCs int
	Cut     []CutRPC

	// Violation names the HTTP/2 rule a peer broke, for ReasonProtocolError
	// ("frame_length", "preface", ...).
	Violation string

	// Policy is the keepalive policy this side ran with, as grpc-go
	// applies it, when known.
	Policy *Policy

	// Advice says, in plain sentences with numbers, what to change and
	// where. It names only changes that would have prevented this end.
	Advice string
}

// CutRPC is an RPC a transport's end cut.
type CutRPC struct {
	// Method is "pkg.Service/Method", or OtherMethod for a method a peer
	// chose.
	Method string
	// Ran is how long it had run when the end began.
	Ran time.Duration
}

// Policy is a keepalive policy as grpc-go applies it: defaults filled in
// and clamps applied.
type Policy struct {
	// Time and Timeout are this side's keepalive PING interval and how long
	// it waits for the acknowledgement.
	Time, Timeout time.Duration
	// PermitWithoutStream is, on a client, whether it pings with no RPC in
	// flight; on a server, whether it allows clients to.
	PermitWithoutStream bool
	// MinTime is a server's EnforcementPolicy.MinTime: the shortest interval
	// between a client's PINGs that it accepts. Zero on a client.
	MinTime time.Duration
}

// Attrs returns the diagnosis as log attributes, as grpcpulse's log record
// and span event carry them: the facts observed, the policy, then the
// advice. Side, reason, initiator and the peer's address are left to the
// caller, who writes them first.
func (d Diagnosis) Attrs() []slog.Attr {
	a := make([]slog.Attr, 0, 16)
	if d.Peer != ImplementationUnknown {
		a = append(a, slog.String(AttrPeerImplementation, d.Peer.String()))
	}
	a = append(a, slog.Duration(AttrLifetime, d.Lifetime))
	if d.Idle > 0 {
		a = append(a, slog.Duration(AttrIdle, d.Idle))
	}
	if d.LastRTT > 0 {
		a = append(a, slog.Duration(AttrLastRTT, d.LastRTT))
	}
	if len(d.PeerPingIntervals) > 0 {
		parts := make([]string, len(d.PeerPingIntervals))
		for i, iv := range d.PeerPingIntervals {
			parts[i] = durfmt.Observed(iv)
		}
		a = append(a, slog.String(AttrPeerPingIntervals, strings.Join(parts, " ")))
	}
	if d.PingsSent > 0 {
		a = append(a, slog.Int64(AttrPingsSent, d.PingsSent))
	}
	a = append(a, slog.Int(AttrCutRPCs, d.CutRPCs))
	if len(d.Cut) > 0 {
		a = append(a, slog.String(AttrCutMethods, strings.Join(d.CutMethods(), ", ")),
			slog.Duration(AttrLongestCutRPC, d.LongestCut()))
	}
	if d.Violation != "" {
		a = append(a, slog.String(AttrViolation, d.Violation))
	}
	if p := d.Policy; p != nil {
		if d.Side == SideServer {
			a = append(a, slog.Duration(AttrMinTime, p.MinTime))
		}
		a = append(a, slog.Duration(AttrTime, p.Time), slog.Duration(AttrTimeout, p.Timeout),
			slog.Bool(AttrPermitWithoutStream, p.PermitWithoutStream))
	}
	return append(a, slog.String(AttrAdvice, d.Advice))
}

// CutMethods returns the methods of the cut RPCs Cut names, each once.
func (d Diagnosis) CutMethods() []string {
	var m []string
	for _, r := range d.Cut {
		if !slices.Contains(m, r.Method) {
			m = append(m, r.Method)
		}
	}
	return m
}

// LongestCut returns how long the longest of the cut RPCs Cut names had run.
func (d Diagnosis) LongestCut() time.Duration {
	var m time.Duration
	for _, r := range d.Cut {
		m = max(m, r.Ran)
	}
	return m
}
