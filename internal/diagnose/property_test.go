package diagnose

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/policy"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

func pick[T any](r *rand.Rand, vs ...T) T { return vs[r.IntN(len(vs))] }

// randomFacts returns the facts of an end as the handler gathers them, over
// every side, peer implementation, reason and policy worth telling apart,
// at and around their thresholds.
func randomFacts(r *rand.Rand) Facts {
	f := Facts{
		Side:      pick(r, pulse.SideServer, pulse.SideClient),
		Reason:    pick(r, pulse.ReasonTooManyPings, pulse.ReasonKeepaliveTimeout, pulse.ReasonMaxConnectionAge, pulse.ReasonPeerClosed, pulse.ReasonConnectionReset),
		Initiator: pick(r, pulse.InitiatorLocal, pulse.InitiatorPeer),
		Peer: pick(r, pulse.ImplementationUnknown, pulse.ImplementationGo, pulse.ImplementationCCore, pulse.ImplementationJS,
			pulse.ImplementationJava, pulse.ImplementationOther),
		Lifetime:   pick(r, 5*time.Millisecond, 3*time.Second, 10*time.Minute, time.Hour),
		Idle:       pick(r, 0, 200*time.Microsecond, 2400*time.Microsecond, 900*time.Millisecond, time.Second, 3*time.Second, 15*time.Second, 2*time.Minute, 350*time.Second, time.Hour),
		LastRTT:    pick(r, 0, 50*time.Microsecond, time.Millisecond, 200*time.Millisecond, 800*time.Millisecond, 3*time.Second),
		PingsSent:  pick[int64](r, 0, 3),
		ActiveRPCs: pick(r, 0, 1, 3),
	}
	every := pick(r, 300*time.Microsecond, 10*time.Millisecond, time.Second, 10*time.Second, 30*time.Second, time.Minute, 5*time.Minute)
	for range r.IntN(4) {
		f.PingIntervals = append(f.PingIntervals, every+time.Duration(r.IntN(5))*time.Millisecond)
	}
	if f.ActiveRPCs > 0 {
		ran := pick(r, time.Millisecond, 30*time.Second, 5*time.Minute)
		f.CutRPCs = []pulse.CutRPC{{Method: "pkg.S/Watch", Ran: ran}}
	}
	if r.IntN(4) > 0 {
		f.Server = &keepalive.ServerParameters{
			Time:                  pick(r, 0, time.Second, 2*time.Minute, Infinity),
			Timeout:               pick(r, 0, time.Second, 20*time.Second),
			MaxConnectionAge:      pick(r, 0, time.Minute, 10*time.Minute),
			MaxConnectionAgeGrace: pick(r, 0, time.Second, 2*time.Minute),
		}
	}
	if r.IntN(4) > 0 {
		f.Enforcement = &keepalive.EnforcementPolicy{
			MinTime:             pick(r, 0, time.Millisecond, 5*time.Second, time.Minute, 5*time.Minute),
			PermitWithoutStream: pick(r, false, true),
		}
	}
	if r.IntN(4) > 0 {
		f.Client = &keepalive.ClientParameters{
			Time:                pick(r, 0, 10*time.Second, 30*time.Second, time.Minute, 5*time.Minute+30*time.Second, Infinity),
			Timeout:             pick(r, 0, time.Second, 2*time.Second, 20*time.Second),
			PermitWithoutStream: pick(r, false, true),
		}
	}
	if r.IntN(3) == 0 {
		f.PeerEnforcement = &keepalive.EnforcementPolicy{
			MinTime:             pick(r, 0, 5*time.Second, time.Minute, 5*time.Minute),
			PermitWithoutStream: pick(r, false, true),
		}
	}
	return f
}

// Infinity as in policy.
const Infinity = policy.Infinity

// The property of a diagnosis's advice: over tens of thousands of ends, on
// both sides, against peers of every implementation,
//   - it names only changes that would have prevented this end: each
//     change, applied to this side's policy and the peer's (as far as the
//     facts show it), is replayed through the enforcement of the server's
//     implementation (grpc-go's, C-core's, grpc-java's) with the client's
//     PINGs as its implementation schedules them, with no strike-out even
//     with PINGs early by the margin; a new keepalive timeout exceeds the
//     round trip observed; a new keepalive time pings within the silence
//     that killed the flow, and the server accepts it; a new grace outlasts
//     the longest RPC cut;
//   - no change of one alternative contradicts another of the same;
//   - an end that came too soon after its last read for any middlebox idle
//     timeout gets no change at all;
//   - settings are named in their owner's implementation's words where it
//     is known;
//   - no interval prints as zero.
func TestAdviceProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 5))
	zero := regexp.MustCompile(`(every|after|at most|at least|within|to) 0s`)
	seen := map[pulse.Reason]int{}
	for range 50000 {
		f := randomFacts(r)
		a, ok := Advise(f)
		if !ok {
			continue
		}
		name := fmt.Sprintf("%s %s, peer %s, facts %+v", f.Side, f.Reason, f.Peer, f)
		if zero.MatchString(a.Text) {
			t.Fatalf("%s: advice prints a zero interval: %q", name, a.Text)
		}
		if len(a.Fixes) > 0 && !strings.Contains(a.Text, "et ") {
			t.Fatalf("%s: advice carries changes it does not say: %q", name, a.Text)
		}
		for _, fix := range a.Fixes {
			for i, x := range fix {
				for _, y := range fix[i+1:] {
					if policy.Conflicts(x, y) {
						t.Fatalf("%s: a fix contradicts itself: %v", name, fix)
					}
				}
				impl := f.clientImpl()
				if x.Knob.Server() {
					impl = f.serverImpl()
				}
				if !policy.Has(x.Knob, impl) {
					t.Fatalf("%s: advice changes %v, which %s has not: %q", name, x, impl, a.Text)
				}
				if policy.Known(impl) && !strings.Contains(a.Text, policy.Name(x.Knob, impl)) {
					t.Fatalf("%s: advice does not name %s's %s: %q", name, impl, policy.Name(x.Knob, impl), a.Text)
				}
			}
			replay(t, name, f, a, fix)
		}
		if (f.Reason == pulse.ReasonPeerClosed || f.Reason == pulse.ReasonConnectionReset) && f.Idle < PlausibleIdleTimeout && len(a.Fixes) > 0 {
			t.Fatalf("%s: an end %s after the last read is advised a change: %q", name, f.Idle, a.Text)
		}
		seen[f.Reason]++
	}
	t.Logf("ends advised per reason: %v", seen)
}

// replay checks that fix would have prevented the end f describes.
func replay(t *testing.T, name string, f Facts, a Advice, fix policy.Fix) {
	t.Helper()
	switch f.Reason {
	case pulse.ReasonTooManyPings:
		c, s := fix.ApplyClient(a.Client), fix.ApplyServer(a.Server)
		if policy.StrikesOut(c, s, a.Situation) || policy.Marginal(c, s, a.Situation) {
			t.Fatalf("%s: with %v the client's PINGs (%+v) still strike out on %+v: %q", name, fix, c, s, a.Text)
		}
	case pulse.ReasonMaxConnectionAge:
		s := fix.ApplyServer(policy.Server{MaxConnectionAgeGrace: 0})
		if s.MaxConnectionAgeGrace <= f.longestCut() {
			t.Fatalf("%s: a grace of %s does not outlast the RPC cut after %s: %q", name, s.MaxConnectionAgeGrace, f.longestCut(), a.Text)
		}
	case pulse.ReasonKeepaliveTimeout, pulse.ReasonPeerClosed, pulse.ReasonConnectionReset:
		_, _, current, timeout, floor := f.thisSide()
		for _, ch := range fix {
			switch ch.Knob {
			case policy.KnobClientTimeout, policy.KnobServerTimeout:
				if to := ch.Value; to <= f.LastRTT {
					t.Fatalf("%s: a timeout of %s is not above the round trip %s: %q", name, to, f.LastRTT, a.Text)
				}
			case policy.KnobClientTime, policy.KnobServerTime:
				// Each side pings no faster than its implementation's
				// floor, whichever side the advice asks to ping.
				tm := max(fix.ApplyClient(policy.Client{Time: current}).Time, floor, policy.ClientFloor(f.clientImpl()))
				if ch.Knob == policy.KnobServerTime {
					tm = max(fix.ApplyServer(policy.Server{Time: current}).Time, policy.ServerFloor(f.serverImpl()))
				}
				if ch.Op == policy.AtMost && tm >= f.Idle {
					t.Fatalf("%s: a keepalive time of %s does not ping within the %s of silence that ended the flow: %q", name, tm, f.Idle, a.Text)
				}
			}
		}
		if f.Side == pulse.SideClient && a.Server.MaxPingStrikes != 0 {
			c, s := fix.ApplyClient(a.Client), fix.ApplyServer(a.Server)
			if policy.StrikesOut(c, s, a.Situation) || policy.Marginal(c, s, a.Situation) {
				t.Fatalf("%s: with %v the client's new PINGs strike out on the server: %q", name, fix, a.Text)
			}
		}
		_ = timeout
	}
}
