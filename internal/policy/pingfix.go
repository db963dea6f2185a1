package policy

import "time"

// SafeInterval is the shortest client keepalive interval that clears a
// server's minimum ping interval min by PingMargin, in whole seconds.
func SafeInterval(min time.Duration) time.Duration {
	return CeilSecond(SatAdd(min, PingMargin(min)))
}

// Marginal reports whether client c, which server s does not strike out in
// situation sit, would be struck out if its PINGs came PingMargin early:
// other implementations fire a few milliseconds early (grpc/grpc#28830), and
// a server reader stalled by GC or CPU starvation stamps one PING late and
// the next one early.
func Marginal(c Client, s Server, sit Situation) bool {
	if StrikesOut(c, s, sit) || !c.Enabled() || len(ClientPings(c, sit, s.MaxPingStrikes+1)) <= s.MaxPingStrikes {
		// Struck out already, or too few PINGs to be, however early.
		return false
	}
	window := s.MinTime
	if sit == NoRPC && !s.Permit {
		window = IdlePingWindow
	}
	early := c
	early.Time = max(c.Time-PingMargin(window), time.Nanosecond)
	return StrikesOut(early, s, sit)
}

// PingFixes returns the fixes that keep client c from being closed with
// too_many_pings by server s in situation sit, and from the same in the
// other situation a fix's changes reach: the client's first (raise its
// keepalive interval to SafeInterval of the server's minimum; without an
// RPC, stop pinging without calls), then the server's (lower its minimum to
// what the client's interval clears with PingMargin; without an RPC, permit
// pings without calls). Each fix is verified by replaying the client's PINGs
// through the server's enforcement, with and without the margin; a fix that
// would not hold, or that the implementation cannot express (grpc-js
// servers have no ping policy to change), is left out. None when s does not
// strike c out.
func PingFixes(c Client, s Server, sit Situation) []Fix {
	if !StrikesOut(c, s, sit) && !Marginal(c, s, sit) {
		return nil
	}
	var fixes []Fix
	// The client's fix: pings that clear the server's minimum, and none
	// without calls where the server takes one per IdlePingWindow.
	var cf Fix
	if sit == NoRPC && !s.Permit {
		cf = append(cf, Change{Knob: KnobClientPermitWithoutStream, Op: Set, On: false})
	}
	if StrikesOut(c, s, QuietRPC) || Marginal(c, s, QuietRPC) || (sit == NoRPC && s.Permit) {
		cf = append(cf, Change{Knob: KnobClientTime, Op: AtLeast, Value: SafeInterval(s.MinTime)})
	}
	fixes = appendIfHolds(fixes, cf, c, s, sit)

	// The server's fix: a minimum the client's interval clears, and pings
	// without calls permitted.
	var sf Fix
	if sit == NoRPC && !s.Permit {
		sf = append(sf, Change{Knob: KnobServerPermitWithoutStream, Op: Set, On: true})
	}
	if c.Time < SatAdd(s.MinTime, PingMargin(s.MinTime)) {
		admit := MaxMinTimeFor(c.Time)
		if admit <= 0 {
			// A client that pings more often than every second is
			// misbehaving: no server should be told to admit it.
			sf = nil
		} else {
			sf = append(sf, Change{Knob: KnobServerMinTime, Op: AtMost, Value: admit})
		}
	}
	if len(sf) > 0 && Has(KnobServerMinTime, s.Impl) {
		fixes = appendIfHolds(fixes, sf, c, s, sit)
	}
	return fixes
}

// appendIfHolds appends f to fixes if, applied to c and s, it keeps the
// client from being struck out, even with its PINGs PingMargin early, in sit
// and in the RPC case the fix's client changes reach.
func appendIfHolds(fixes []Fix, f Fix, c Client, s Server, sit Situation) []Fix {
	if len(f) == 0 {
		return fixes
	}
	c2, s2 := f.ApplyClient(c), f.ApplyServer(s)
	for _, x := range []Situation{sit, QuietRPC} {
		if x != sit && !f.touchesClient() {
			continue
		}
		if StrikesOut(c2, s2, x) || Marginal(c2, s2, x) {
			return fixes
		}
	}
	return append(fixes, f)
}

// touchesClient reports whether f changes a client setting.
func (f Fix) touchesClient() bool {
	for _, c := range f {
		if !c.Knob.Server() {
			return true
		}
	}
	return false
}

// Allowed returns f with the server changes that make server s accept the
// PINGs of client c once f is made: f itself when s accepts them or is
// not known (nil), and false when no change of s would (its
// implementation has no such setting, or the PINGs come more often than a
// server should be told to accept).
func Allowed(f Fix, c Client, s *Server) (Fix, bool) {
	if s == nil {
		return f, true
	}
	c2, s2 := f.ApplyClient(c), f.ApplyServer(*s)
	for _, sit := range []Situation{QuietRPC, NoRPC} {
		if !StrikesOut(c2, s2, sit) && !Marginal(c2, s2, sit) {
			continue
		}
		var more Fix
		for _, alt := range PingFixes(c2, s2, sit) {
			if !alt.touchesClient() {
				more = alt
				break
			}
		}
		if more == nil {
			return nil, false
		}
		f = append(append(Fix(nil), f...), more...)
		s2 = more.ApplyServer(s2)
	}
	return f, true
}
