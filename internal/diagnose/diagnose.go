// Package diagnose turns what grpcpulse observed about a transport's end,
// and the keepalive policy in force, into a diagnosis: the observed facts
// and advice that names the parameter to change and a value that would
// have prevented the end. It judges by the rules of package policy, the same
// ones options.Validate applies before deployment.
//
// Only ends that are abnormal and actionable get a diagnosis: a client's own
// Close, a server's GracefulStop or Stop, and a connection that a GOAWAY
// drained with nothing in flight are normal.
package diagnose

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/durfmt"
	"github.com/grpcpulse/grpcpulse/internal/policy"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// MaxRPCs is how many cut RPCs a diagnosis names; the count covers them all.
const MaxRPCs = 4

// Facts is what was observed about one transport's end, and the policy this
// side ran with. Zero values mean "not observed".
type Facts struct {
	Side      pulse.Side
	Reason    pulse.Reason
	Initiator pulse.Initiator
	// Peer is the peer's implementation, when known; Remote its address.
	Peer   pulse.Implementation
	Remote net.Addr

	Lifetime time.Duration // from the transport's start to its end
	// Idle is how long nothing had been read before the end began (before
	// the unanswered keepalive PING, for keepalive_timeout).
	Idle    time.Duration
	LastRTT time.Duration // the last keepalive PING round trip this side measured

	// PingIntervals are the intervals between the last keepalive PINGs the
	// peer sent, oldest first.
	PingIntervals []time.Duration
	PingsSent     int64

	// ActiveRPCs is how many RPCs the end cut; CutRPCs names some of them.
	ActiveRPCs int
	CutRPCs    []pulse.CutRPC

	Violation string // the frame a peer's protocol error was seen in

	// The policy of this side: a server's parameters and enforcement, or a
	// client's parameters. Nil when unknown.
	Server      *keepalive.ServerParameters
	Enforcement *keepalive.EnforcementPolicy
	Client      *keepalive.ClientParameters
	// PeerEnforcement is the servers' enforcement, when a client was told
	// it (options.WithPeerServerPolicy).
	PeerEnforcement *keepalive.EnforcementPolicy
}

// Advice is what a diagnosis advises: the text, and the changes it
// proposes in their structured form, each alternative a policy.Fix that
// would have prevented the end on its own. No fixes: nothing to tune.
type Advice struct {
	Text  string
	Fixes []policy.Fix
	// Client and Server are the models the fixes apply to: this side's
	// policy and, as far as the facts show, the peer's.
	Client policy.Client
	Server policy.Server
	// Situation is what the connection was doing when the peer's or this
	// side's pings struck out, for too_many_pings.
	Situation policy.Situation
}

// Diagnose returns the diagnosis of an end, and false for an end that is
// normal or about which nothing useful can be said.
func Diagnose(f Facts) (pulse.Diagnosis, bool) {
	a, ok := Advise(f)
	if !ok {
		return pulse.Diagnosis{}, false
	}
	return f.diagnosis(a.Text), true
}

// Advise returns the advice for an end, and false for an end that is
// normal or about which nothing useful can be said.
func Advise(f Facts) (Advice, bool) {
	var a Advice
	switch f.Reason {
	case pulse.ReasonTooManyPings:
		if f.Side == pulse.SideServer {
			a = tooManyPingsServer(f)
		} else {
			a = tooManyPingsClient(f)
		}
	case pulse.ReasonKeepaliveTimeout:
		a = keepaliveTimeout(f)
	case pulse.ReasonMaxConnectionAge:
		if f.ActiveRPCs == 0 {
			return Advice{}, false
		}
		a = maxAge(f)
	case pulse.ReasonConnectionReset, pulse.ReasonPeerClosed:
		if f.ActiveRPCs == 0 {
			return Advice{}, false
		}
		a = abrupt(f)
	case pulse.ReasonProtocolError:
		a = Advice{Text: protocolError(f)}
	default:
		return Advice{}, false
	}
	return a, true
}

// Considered reports whether an end for this reason may be diagnosed: the
// others never are, so their facts need not be gathered at all.
func Considered(r pulse.Reason) bool {
	switch r {
	case pulse.ReasonTooManyPings, pulse.ReasonKeepaliveTimeout, pulse.ReasonMaxConnectionAge,
		pulse.ReasonConnectionReset, pulse.ReasonPeerClosed, pulse.ReasonProtocolError:
		return true
	}
	return false
}

// PlausibleIdleTimeout is the shortest idle timeout a middlebox is taken to
// have. Idle timeouts are configured in whole seconds, and the shortest
// defaults are tens of seconds (AWS ALB and nginx 60s, HAProxy setups
// commonly 30s to 50s, AWS NLB 350s, Azure Load Balancer 4m): a connection
// that ends without a GOAWAY less than this after its last read was not
// ended by an idle timer, but by the peer process exiting or closing it (or
// by a middlebox for another reason, such as its own restart), and no
// keepalive setting would have kept it.
const PlausibleIdleTimeout = time.Second

// serverParams returns this server's keepalive settings as configured,
// the zero value in place of one not given.
func (f Facts) serverParams() (keepalive.ServerParameters, keepalive.EnforcementPolicy) {
	var kp keepalive.ServerParameters
	var kep keepalive.EnforcementPolicy
	if f.Server != nil {
		kp = *f.Server
	}
	if f.Enforcement != nil {
		kep = *f.Enforcement
	}
	return kp, kep
}

// serverModel returns this server's policy as grpc-go runs it.
func (f Facts) serverModel() policy.Server {
	return policy.GoServer(f.serverParams())
}

// peerServer returns, on a client, the server's policy as far as it is
// known: its enforcement as the client was told it (options.WithPeerServerPolicy),
// or the defaults of its implementation, named in its words.
func (f Facts) peerServer() (s policy.Server, told bool) {
	if f.PeerEnforcement != nil {
		// Told as grpc-go's EnforcementPolicy: named so, unless the wire
		// showed another implementation that has a ping policy.
		s = policy.GoServer(keepalive.ServerParameters{}, *f.PeerEnforcement)
		if f.Peer == pulse.ImplementationCCore || f.Peer == pulse.ImplementationJava {
			s.Impl = f.Peer
		}
		return s, true
	}
	return policy.DefaultServer(f.Peer), false
}

// clientImpl and serverImpl name the implementations of the two sides.
func (f Facts) clientImpl() pulse.Implementation {
	if f.Side == pulse.SideClient {
		return pulse.ImplementationGo
	}
	return f.Peer
}

func (f Facts) serverImpl() pulse.Implementation {
	if f.Side == pulse.SideServer {
		return pulse.ImplementationGo
	}
	if s, told := f.peerServer(); told {
		return s.Impl
	}
	return f.Peer
}

// render renders fixes as advice's last sentence, from this side.
func (f Facts) render(fixes []policy.Fix) string {
	return policy.RenderFixes(fixes, f.Side, f.clientImpl(), f.serverImpl())
}

// knob names a setting of the peer or of this side in its implementation's
// words.
func (f Facts) knob(k policy.Knob) string {
	impl := f.clientImpl()
	if k.Server() {
		impl = f.serverImpl()
	}
	return policy.NameFor(k, impl)
}

func tooManyPingsServer(f Facts) Advice {
	s := f.serverModel()
	sit := policy.QuietRPC
	if f.ActiveRPCs == 0 {
		sit = policy.NoRPC
	}
	every := typicalInterval(f.PingIntervals)
	observed := every > 0
	if !observed {
		// Nothing says how often: take the worst, a client that pings as
		// often as it can.
		every = time.Millisecond
	}
	c := policy.Client{Impl: f.Peer, Time: every, Timeout: policy.KeepaliveTimeout, Permit: sit == policy.NoRPC}
	a := Advice{Client: c, Server: s, Situation: sit}
	fixes := policy.PingFixes(c, s, sit)
	if len(fixes) == 0 {
		// It was struck out all the same, by PINGs the intervals did not
		// show: the client's fix alone, against the server's minimum.
		fixes = []policy.Fix{{{Knob: policy.KnobClientTime, Op: policy.AtLeast, Value: policy.SafeInterval(s.MinTime)}}}
	}
	a.Fixes = fixes
	minTime := fmt.Sprintf("this server's EnforcementPolicy.MinTime (%s)", policy.Format(s.MinTime))
	var why string
	switch {
	case sit == policy.NoRPC && !s.Permit:
		why = fmt.Sprintf("The client pinged %swith no RPC in flight, and this server's EnforcementPolicy.PermitWithoutStream is false, so any second ping within 2h is a strike.",
			everyPhrase(every, observed))
	case !observed:
		why = fmt.Sprintf("The client pinged more often than %s allows.", minTime)
	default:
		why = fmt.Sprintf("The client pinged every %s, below %s.", durfmt.Observed(every), minTime)
	}
	// A tenth of slack: the intervals are measured on this side, after
	// the path and the reader's scheduling.
	if floor := clientFloor(f.Peer); observed && every < floor.d-floor.d/10 {
		why += fmt.Sprintf(" That is faster than %s: a client of another implementation with a short keepalive time, or a misbehaving peer.", floor)
	}
	a.Text = why + " " + f.render(fixes)
	return a
}

// everyPhrase is "every 10ms " for an observed interval, "" otherwise.
func everyPhrase(every time.Duration, observed bool) string {
	if !observed {
		return ""
	}
	return "every " + durfmt.Observed(every) + " "
}

// clientFloor says how often a client of impl can ping at most, for a
// message: "any grpc-go or grpc-java keepalive can (they ping at most every
// 10s)"; zero where it has no floor worth saying.
type floorPhrase struct {
	d    time.Duration
	text string
}

func (p floorPhrase) String() string { return p.text }

func clientFloor(impl pulse.Implementation) floorPhrase {
	switch impl {
	case pulse.ImplementationGo:
		return floorPhrase{policy.ClientMinTime, "a grpc-go keepalive can ping (it pings at most every 10s)"}
	case pulse.ImplementationJava:
		return floorPhrase{policy.ClientMinTime, "a grpc-java keepalive can ping (it pings at most every 10s)"}
	case pulse.ImplementationCCore:
		return floorPhrase{policy.CCoreMinPingInterval, "a C-core 1.51 keepalive can ping (it pings at most every second)"}
	case pulse.ImplementationJS:
		return floorPhrase{}
	}
	return floorPhrase{policy.ClientMinTime, "any grpc-go or grpc-java keepalive can (they ping at most every 10s)"}
}

func tooManyPingsClient(f Facts) Advice {
	if f.PingsSent == 0 {
		// The server counted pings this client's keepalive did not send.
		return Advice{Text: "This client sent no keepalive PING on this connection, yet the server answered too_many_pings: the pings came from something else on the path " +
			"(a proxy or sidecar that pings, or another implementation sharing the connection). No keepalive setting of this client changes that; check what sits between it and the server."}
	}
	s, told := f.peerServer()
	c := policy.EffectiveClient(keepalive.ClientParameters{Time: policy.ClientMinTime, PermitWithoutStream: true})
	known := f.Client != nil
	if known {
		c = policy.EffectiveClient(*f.Client)
	}
	sit := policy.QuietRPC
	if f.ActiveRPCs == 0 && c.Permit {
		sit = policy.NoRPC
	}
	var policyText string
	switch {
	case told:
		policyText = fmt.Sprintf("The server's %s is %s", f.knob(policy.KnobServerMinTime), policy.Format(s.MinTime))
	case policy.Known(s.Impl):
		policyText = fmt.Sprintf("At %s defaults, the server's %s is %s", possessive(s.Impl), f.knob(policy.KnobServerMinTime), policy.Format(s.MinTime))
	default:
		policyText = fmt.Sprintf("At grpc's defaults (grpc-go's, C-core's and grpc-java's alike), a server accepts a ping every %s at most", policy.Format(s.MinTime))
	}
	if !s.Permit {
		policyText += ", and it accepts one ping per 2h at most while no RPC is in flight"
	}
	policyText += "."
	if !policy.StrikesOut(c, s, sit) && !policy.Marginal(c, s, sit) {
		// The server struck out pings that the policy taken for it
		// accepts: its policy is stricter. Advice is judged against the
		// least stricter policy that strikes them out.
		if sit == policy.NoRPC {
			s.Permit = false
			policyText += " This server must be stricter: it forbids pings without RPCs."
		} else {
			s.MinTime = c.Time + time.Second
			policyText += fmt.Sprintf(" This server must be stricter: its minimum is above %s.", policy.Format(c.Time))
		}
	}
	fixes := policy.PingFixes(c, s, sit)
	a := Advice{Client: c, Server: s, Situation: sit, Fixes: fixes}
	var why string
	switch {
	case !known:
		why = "This client pinged more often than the server allows."
	case sit == policy.NoRPC && !s.Permit:
		why = fmt.Sprintf("This client pinged every %s with no RPC in flight (ClientParameters.PermitWithoutStream is true), which the server forbids.", policy.Format(c.Time))
	default:
		why = fmt.Sprintf("This client's ClientParameters.Time (%s) is below the server's minimum ping interval; grpc-go now pings every %s on this channel's new connections.",
			policy.Format(c.Time), policy.Format(policy.SatMul(c.Time, 2)))
	}
	a.Text = why + " " + policyText + " " + f.render(fixes)
	if len(fixes) == 0 {
		a.Text = why + " " + policyText + " No keepalive setting of this client and no ping policy of the server reconciles them."
	}
	return a
}

func possessive(impl pulse.Implementation) string {
	switch impl {
	case pulse.ImplementationCCore:
		return "C-core's"
	case pulse.ImplementationJava:
		return "grpc-java's"
	case pulse.ImplementationGo:
		return "grpc-go's"
	}
	return "grpc's"
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// thisSide returns this side's keepalive Time and Timeout knobs, their
// values as grpc-go runs them, and the floor of Time.
func (f Facts) thisSide() (timeKnob, timeoutKnob policy.Knob, t, timeout, floor time.Duration) {
	if f.Side == pulse.SideClient {
		timeKnob, timeoutKnob, floor = policy.KnobClientTime, policy.KnobClientTimeout, policy.ClientMinTime
		if f.Client != nil {
			c := policy.EffectiveClient(*f.Client)
			t, timeout = c.Time, c.Timeout
		}
		return
	}
	timeKnob, timeoutKnob, floor = policy.KnobServerTime, policy.KnobServerTimeout, policy.ServerMinTime
	if f.Server != nil {
		s := f.serverModel()
		t, timeout = s.Time, s.Timeout
	}
	return
}

// lowerTime returns the fix that lowers this side's keepalive Time to at
// most to, with what the server must accept for it when this side is the
// client, and whether it would keep a flow silent for idle alive: false when
// this side cannot ping that often.
func (f Facts) lowerTime(to, idle time.Duration) (policy.Fix, Advice, bool) {
	timeKnob, _, t, timeout, floor := f.thisSide()
	to = max(floor, to)
	if to >= idle {
		return nil, Advice{}, false
	}
	fix := policy.Fix{{Knob: timeKnob, Op: policy.AtMost, Value: to}}
	a := Advice{}
	if f.Side == pulse.SideServer {
		s := f.serverModel()
		a.Server = s
		return fix, a, true
	}
	c := policy.EffectiveClient(keepalive.ClientParameters{Time: max(t, floor), Timeout: timeout})
	if f.Client != nil {
		c = policy.EffectiveClient(*f.Client)
	}
	s, _ := f.peerServer()
	a.Client, a.Server = c, s
	a.Situation = policy.QuietRPC
	if f.ActiveRPCs == 0 {
		a.Situation = policy.NoRPC
	}
	g, ok := policy.Allowed(fix, c, &s)
	if !ok {
		return nil, Advice{}, false
	}
	return g, a, true
}

func keepaliveTimeout(f Facts) Advice {
	timeKnob, timeoutKnob, current, timeout, floor := f.thisSide()
	param := "ServerParameters"
	if f.Side == pulse.SideClient {
		param = "ClientParameters"
	}
	if f.LastRTT > 0 && timeout > 0 && timeout < 10*f.LastRTT {
		to := policy.CeilSecond(max(5*time.Second, 10*f.LastRTT))
		fix := policy.Fix{{Knob: timeoutKnob, Op: policy.AtLeast, Value: to}}
		if current > 0 && to >= current {
			fix = append(fix, policy.Change{Knob: timeKnob, Op: policy.AtLeast, Value: 2 * to})
		}
		return Advice{Fixes: []policy.Fix{fix}, Text: fmt.Sprintf("The keepalive PING went unanswered for %s.Timeout (%s), but the last one took %s to answer: the Timeout is too close to the path's round trip. %s",
			param, policy.Format(timeout), durfmt.Observed(f.LastRTT), f.render([]policy.Fix{fix}))}
	}
	if f.Idle > 0 && current > 0 && current <= floor {
		return Advice{Text: fmt.Sprintf("After %s with nothing read, the keepalive PING went unanswered within %s.Timeout. %s.Time (%s) is already as low as grpc-go allows, "+
			"so no keepalive setting keeps this path alive: the peer's host died, or something between the peers drops flows within %s; fix the path.",
			durfmt.Observed(f.Idle), param, param, policy.Format(current), durfmt.Observed(f.Idle))}
	}
	if f.Idle <= 0 {
		return Advice{Text: fmt.Sprintf("The keepalive PING went unanswered: the peer's host died, or something between the peers dropped the flow. "+
			"If a load balancer or NAT forgets idle flows, %s.Time must be below its idle timeout (AWS NLB 350s, Azure LB 4m, many NATs 60s).", param)}
	}
	fix, a, ok := f.lowerTime((f.Idle / 2).Truncate(time.Second), f.Idle)
	head := fmt.Sprintf("After %s with nothing read, the keepalive PING went unanswered: the peer's host died, or a load balancer or NAT forgot the idle flow (its idle timeout is under %s).",
		durfmt.Observed(f.Idle), durfmt.Observed(f.Idle))
	if !ok {
		a.Text = head + fmt.Sprintf(" %s.Time cannot go low enough to keep it alive; fix the path.", param)
		return a
	}
	a.Fixes = []policy.Fix{fix}
	a.Text = head + " If it is a middlebox, pings must keep the flow alive: " + lowerFirst(f.render(a.Fixes))
	return a
}

func maxAge(f Facts) Advice {
	longest := f.longestCut()
	to := policy.CeilSecond(longest + longest/5)
	fix := policy.Fix{{Knob: policy.KnobServerMaxConnectionAgeGrace, Op: policy.AtLeast, Value: to}}
	a := Advice{Fixes: []policy.Fix{fix}}
	if f.Side == pulse.SideServer {
		grace := "MaxConnectionAgeGrace"
		if f.Server != nil {
			grace = fmt.Sprintf("MaxConnectionAgeGrace (%s)", policy.Format(f.serverModel().MaxConnectionAgeGrace))
		}
		a.Text = fmt.Sprintf("The connection reached MaxConnectionAge after %s and its %s cut %d RPC(s) still running (the longest had run %s%s). "+
			"Set ServerParameters.MaxConnectionAgeGrace above the longest RPC, at least %s, or make clients resume such streams on a new connection.",
			durfmt.Observed(f.Lifetime), grace, f.ActiveRPCs, durfmt.Observed(longest), f.methods(), policy.Format(to))
		return a
	}
	a.Text = fmt.Sprintf("The server drained this connection at its maximum connection age (after %s) and cut %d RPC(s) at the end of its grace (the longest had run %s%s). "+
		"Long streams must reconnect and resume on a new connection, or %s",
		durfmt.Observed(f.Lifetime), f.ActiveRPCs, durfmt.Observed(longest), f.methods(), lowerFirst(f.render(a.Fixes)))
	return a
}

func abrupt(f Facts) Advice {
	how := "closed the connection without a GOAWAY"
	if f.Reason == pulse.ReasonConnectionReset {
		how = "reset the connection"
	}
	if f.Idle < PlausibleIdleTimeout {
		after := ""
		if f.Idle > 0 {
			after = fmt.Sprintf(", %s after the last frame it sent", durfmt.Observed(f.Idle))
		}
		return Advice{Text: fmt.Sprintf("The peer %s %s after it opened%s, cutting %d RPC(s)%s: far too soon after its last frame for any middlebox idle timeout, "+
			"so the peer process ended or closed the connection with its RPCs still open (a program that exits without finishing its calls, a crash, a restart), "+
			"or something on the path ended it for a reason of its own. No keepalive setting is involved.",
			how, durfmt.Observed(f.Lifetime), after, f.ActiveRPCs, f.methods())}
	}
	head := fmt.Sprintf("The peer, or a middlebox on its behalf, %s after %s, %s after the last read, cutting %d RPC(s)%s. "+
		"grpcpulse cannot tell a peer restart from a middlebox.", how, durfmt.Observed(f.Lifetime), durfmt.Observed(f.Idle), f.ActiveRPCs, f.methods())
	fix, a, ok := f.lowerTime((f.Idle / 2).Truncate(time.Second), f.Idle)
	if !ok && f.Side == pulse.SideClient {
		// This client cannot ping that often; the server's own pings
		// keep the flow alive just as well, if it can send them.
		if to := max(policy.ServerFloor(f.serverImpl()), (f.Idle / 2).Truncate(time.Second)); to < f.Idle {
			a.Fixes = []policy.Fix{{{Knob: policy.KnobServerTime, Op: policy.AtMost, Value: to}}}
			a.Text = head + " If a load balancer's or NAT's idle timeout ended it, this client cannot ping often enough to keep the flow alive (" +
				durfmt.Setting(policy.ClientMinTime) + " at the least), but the server's pings can: " + lowerFirst(f.render(a.Fixes)) +
				" Or raise the middlebox's idle timeout above the longest silence of the connection."
			return a
		}
	}
	if !ok {
		a.Text = head + " If a load balancer's or NAT's idle timeout ended it, keepalive pings cannot come often enough to prevent it: " +
			"raise the middlebox's idle timeout above the longest silence of the connection."
		return a
	}
	a.Fixes = []policy.Fix{fix}
	a.Text = head + " If a load balancer's or NAT's idle timeout ended it, pings must keep the flow alive: " + lowerFirst(f.render(a.Fixes))
	return a
}

func protocolError(f Facts) string {
	what := "a frame that breaks HTTP/2"
	if f.Violation != "" {
		what = "a malformed frame (" + f.Violation + ")"
	}
	if f.Initiator == pulse.InitiatorPeer {
		return "The peer closed the connection with a GOAWAY that says this side broke HTTP/2: check for a proxy rewriting frames, or a peer that is not a gRPC peer. No keepalive setting changes this."
	}
	return "The peer sent " + what + ", and this side closed the connection: the peer is broken or not a gRPC peer (a scanner, a misconfigured proxy). No keepalive setting changes this."
}

// typicalInterval is the median of the peer's ping intervals: a pair of
// pings sent back to back, or one delayed, does not say how often the peer
// pings.
func typicalInterval(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// diagnosis returns the facts as the public Diagnosis, with advice.
func (f Facts) diagnosis(advice string) pulse.Diagnosis {
	cut := f.CutRPCs
	if len(cut) > pulse.MaxCutRPCs {
		cut = cut[:pulse.MaxCutRPCs]
	}
	return pulse.Diagnosis{
		Side: f.Side, Reason: f.Reason, Initiator: f.Initiator, Peer: f.Peer, RemoteAddr: f.Remote,
		Lifetime: f.Lifetime, Idle: f.Idle, LastRTT: f.LastRTT, PeerPingIntervals: f.PingIntervals, PingsSent: f.PingsSent,
		CutRPCs: f.ActiveRPCs, Cut: cut, Violation: f.Violation, Policy: f.policy(), Advice: advice,
	}
}

// policy summarises the policy in force as grpc-go applies it, or nil when
// none is known.
func (f Facts) policy() *pulse.Policy {
	switch {
	case f.Side == pulse.SideClient && f.Client != nil:
		c := policy.EffectiveClient(*f.Client)
		return &pulse.Policy{Time: c.Time, Timeout: c.Timeout, PermitWithoutStream: c.Permit}
	case f.Side == pulse.SideServer && (f.Server != nil || f.Enforcement != nil):
		kp, kep := policy.EffectiveServer(f.serverParams())
		return &pulse.Policy{Time: kp.Time, Timeout: kp.Timeout, PermitWithoutStream: kep.PermitWithoutStream, MinTime: kep.MinTime}
	}
	return nil
}

// longestCut is how long the longest cut RPC had run.
func (f Facts) longestCut() time.Duration {
	return pulse.Diagnosis{Cut: f.CutRPCs}.LongestCut()
}

// methods names the cut RPCs' methods, as ": a, b".
func (f Facts) methods() string {
	m := pulse.Diagnosis{Cut: f.CutRPCs}.CutMethods()
	if len(m) == 0 {
		return ""
	}
	return ": " + strings.Join(m, ", ")
}
