package policy

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Knob is a keepalive setting, whatever an implementation calls it (see
// Name).
type Knob uint8

// The knobs: a client's, then a server's.
const (
	KnobClientTime Knob = iota + 1
	KnobClientTimeout
	KnobClientPermitWithoutStream
	KnobClientMaxPingsWithoutData // C-core only
	KnobServerTime
	KnobServerTimeout
	KnobServerMinTime
	KnobServerPermitWithoutStream
	KnobServerMaxPingStrikes // C-core only
	KnobServerMaxConnectionIdle
	KnobServerMaxConnectionAge
	KnobServerMaxConnectionAgeGrace
)

// Server reports whether the knob is a server's.
func (k Knob) Server() bool { return k >= KnobServerTime }

// Bool reports whether the knob is a switch.
func (k Knob) Bool() bool {
	return k == KnobClientPermitWithoutStream || k == KnobServerPermitWithoutStream
}

// Count reports whether the knob is a number rather than a duration.
func (k Knob) Count() bool {
	return k == KnobClientMaxPingsWithoutData || k == KnobServerMaxPingStrikes
}

// Op is what a Change does to its knob.
type Op uint8

// The ops.
const (
	AtLeast Op = iota + 1 // raise it to Value (or N) if below
	AtMost                // lower it to Value (or N) if above
	Set                   // set a switch to On, or a count to N
)

// Change is one change advice proposes to one setting.
type Change struct {
	Knob  Knob
	Op    Op
	Value time.Duration // AtLeast, AtMost of a duration
	N     int           // AtLeast, AtMost, Set of a count
	On    bool          // Set of a switch
}

// Fix is a set of changes proposed together: each alone may not prevent
// the end, all of them do.
type Fix []Change

// ApplyClient returns c with the client changes of f made, and its
// implementation's floor applied again.
func (f Fix) ApplyClient(c Client) Client {
	for _, ch := range f {
		switch ch.Knob {
		case KnobClientTime:
			c.Time = ch.apply(c.Time)
			if c.Time != Infinity {
				c.Time = max(c.Time, ClientFloor(c.Impl))
			}
		case KnobClientTimeout:
			c.Timeout = ch.apply(c.Timeout)
		case KnobClientPermitWithoutStream:
			c.Permit = ch.On
		case KnobClientMaxPingsWithoutData:
			c.MaxPingsWithoutData = ch.applyN(c.MaxPingsWithoutData)
		}
	}
	return c
}

// ApplyServer returns s with the server changes of f made.
func (f Fix) ApplyServer(s Server) Server {
	for _, ch := range f {
		switch ch.Knob {
		case KnobServerTime:
			s.Time = ch.apply(s.Time)
		case KnobServerTimeout:
			s.Timeout = ch.apply(s.Timeout)
		case KnobServerMinTime:
			s.MinTime = ch.apply(s.MinTime)
		case KnobServerPermitWithoutStream:
			s.Permit = ch.On
		case KnobServerMaxPingStrikes:
			s.MaxPingStrikes = ch.applyN(s.MaxPingStrikes)
			if s.MaxPingStrikes == 0 && s.Impl == pulse.ImplementationCCore {
				s.MaxPingStrikes = NoEnforcement
			}
		case KnobServerMaxConnectionIdle:
			s.MaxConnectionIdle = ch.apply(s.MaxConnectionIdle)
		case KnobServerMaxConnectionAge:
			s.MaxConnectionAge = ch.apply(s.MaxConnectionAge)
		case KnobServerMaxConnectionAgeGrace:
			s.MaxConnectionAgeGrace = ch.apply(s.MaxConnectionAgeGrace)
		}
	}
	return s
}

func (c Change) apply(d time.Duration) time.Duration { return applyOp(c.Op, d, c.Value) }

func (c Change) applyN(n int) int { return applyOp(c.Op, n, c.N) }

// applyOp is what op makes of a setting now at cur, given the change's v.
func applyOp[T int | time.Duration](op Op, cur, v T) T {
	switch op {
	case AtLeast:
		return max(cur, v)
	case AtMost:
		return min(cur, v)
	}
	return v
}

// Conflicts reports whether a and b ask for opposite changes of one
// setting: values no setting can satisfy both of, or a switch both ways.
func Conflicts(a, b Change) bool {
	if a.Knob != b.Knob {
		return false
	}
	if a.Knob.Bool() {
		return a.On != b.On
	}
	alo, ahi := a.bounds()
	blo, bhi := b.bounds()
	return alo > bhi || blo > ahi
}

// bounds returns the values a change allows, as the range [lo, hi].
func (c Change) bounds() (lo, hi int64) {
	v := int64(c.Value)
	if c.Knob.Count() {
		v = int64(c.N)
	}
	switch c.Op {
	case AtLeast:
		return v, math.MaxInt64
	case AtMost:
		return math.MinInt64, v
	}
	return v, v
}

// FixesConflict reports whether two fixes ask for opposite changes of a
// setting.
func FixesConflict(a, b Fix) bool {
	for _, x := range a {
		for _, y := range b {
			if Conflicts(x, y) {
				return true
			}
		}
	}
	return false
}

// Owner says whose setting a change is, from the side giving the advice:
// "this server's", "the client's", and so on.
func Owner(k Knob, self pulse.Side) string {
	switch {
	case k.Server() && self == pulse.SideServer:
		return "this server's"
	case k.Server():
		return "the server's"
	case self == pulse.SideClient:
		return "this client's"
	}
	return "the client's"
}

// Describe renders a change as a clause of advice, naming the setting as
// impl does ("grpc.keepalive_time_ms to at least 66000 (1m6s)"), or as
// every implementation does when impl is unknown.
func Describe(c Change, impl pulse.Implementation) string {
	return NameFor(c.Knob, impl) + " " + c.describeValue(impl)
}

func (c Change) describeValue(impl pulse.Implementation) string {
	var v string
	switch {
	case c.Knob.Bool():
		return "to " + boolValue(c.On, impl)
	case c.Knob.Count():
		v = fmt.Sprint(c.N)
	default:
		v = durationValue(c.Value, impl, c.Op)
	}
	switch c.Op {
	case AtLeast:
		return "to at least " + v
	case AtMost:
		return "to at most " + v
	}
	return "to " + v
}

// Render renders a fix as a sentence fragment: "set this server's X to ...
// and the client's Y to ...", each setting named by its owner's
// implementation (clientImpl or serverImpl), from the side self.
func (f Fix) Render(self pulse.Side, clientImpl, serverImpl pulse.Implementation) string {
	parts := make([]string, len(f))
	for i, c := range f {
		impl := clientImpl
		if c.Knob.Server() {
			impl = serverImpl
		}
		parts[i] = Owner(c.Knob, self) + " " + Describe(c, impl)
	}
	return "set " + joinAnd(parts)
}

// RenderFixes renders alternatives as one sentence: "Set A, or set B."
func RenderFixes(fixes []Fix, self pulse.Side, clientImpl, serverImpl pulse.Implementation) string {
	if len(fixes) == 0 {
		return ""
	}
	parts := make([]string, len(fixes))
	for i, f := range fixes {
		parts[i] = f.Render(self, clientImpl, serverImpl)
	}
	s := strings.Join(parts, ", or ")
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
