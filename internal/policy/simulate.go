package policy

import (
	"math"
	"time"

	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Situation is what a connection is doing while its client pings and its
// server writes nothing: the only time PINGs earn strikes, since every
// implementation that enforces resets them when the server writes HEADERS
// or DATA.
type Situation uint8

const (
	// QuietRPC: an RPC is in flight and the server writes nothing (a quiet
	// stream, a slow unary call).
	QuietRPC Situation = iota
	// NoRPC: no RPC is in flight and neither side writes.
	NoRPC
)

// String returns a phrase for messages.
func (s Situation) String() string {
	if s == NoRPC {
		return "a connection with no RPC"
	}
	return "a quiet stream or a slow unary call"
}

// ClientPings returns when client c sends its first n keepalive PINGs in
// situation sit, counted from the server's last write: every Time (the
// interval its implementation runs, the server acknowledging at once), none
// without an RPC unless Permit, and for C-core no more than
// MaxPingsWithoutData. Measured with C-core 1.51: the limit is lifted by
// what the client receives (its PINGs went on along a stream whose server
// sent a message every 500 ms, and stopped at two along one whose server
// sent nothing), and the server's writes are also what resets the strikes;
// between them, the limit holds.
func ClientPings(c Client, sit Situation, n int) []time.Duration {
	if !c.Enabled() || c.Time <= 0 || (sit == NoRPC && !c.Permit) {
		return nil
	}
	if c.MaxPingsWithoutData > 0 {
		n = min(n, c.MaxPingsWithoutData)
	}
	out := make([]time.Duration, 0, n)
	for t := c.Time; len(out) < n; t = SatAdd(t, c.Time) {
		out = append(out, t)
		if t == Infinity {
			break
		}
	}
	return out
}

// PingsToStrikeOut is how many of a client's PINGs to replay through server
// s's enforcement to know whether they strike out: grpc-go and C-core end a
// connection at most MaxPingStrikes+2 PINGs in (the first is free), and
// grpc-java, which lets a PING that comes late enough reset its clock,
// within twice as many.
func PingsToStrikeOut(s Server) int {
	if !s.Enforces() {
		return 1
	}
	return 2 * (s.MaxPingStrikes + 2)
}

// Enforce replays PINGs that arrive at the times pings (counted from the
// server's last HEADERS or DATA, the moment its implementation resets its
// strikes) through server s's enforcement in situation sit, and returns the
// index of the PING that ends the connection with GOAWAY too_many_pings,
// or -1.
//
// Each implementation counts a strike for a PING that comes sooner than
// MinTime (IdlePingWindow with no RPC and without Permit) after the
// previous one, and ends the connection at the strike after MaxPingStrikes.
// grpc-go and C-core measure from the previous PING, and let the first one
// after a reset pass; grpc-java measures from the previous PING it
// accepted, and its first from the connection's start, taken here to be the
// server's last write (the worst case). grpc-js enforces nothing.
func Enforce(s Server, sit Situation, pings []time.Duration) int {
	if !s.Enforces() {
		return -1
	}
	window := s.MinTime
	if sit == NoRPC && !s.Permit {
		window = IdlePingWindow
	}
	java := s.Impl == pulse.ImplementationJava
	last := time.Duration(math.MinInt64)
	if java {
		last = 0
	}
	strikes := 0
	for i, at := range pings {
		early := last != math.MinInt64 && at-last < window
		if early {
			strikes++
			if strikes > s.MaxPingStrikes {
				return i
			}
		}
		if !java || !early {
			last = at
		}
	}
	return -1
}

// StrikesOut reports whether client c is closed with too_many_pings by
// server s in situation sit.
func StrikesOut(c Client, s Server, sit Situation) bool {
	return Enforce(s, sit, ClientPings(c, sit, PingsToStrikeOut(s))) >= 0
}
