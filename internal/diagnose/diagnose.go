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

// Diagnose returns the diagnosis of an end, and false for an end that is
// normal or about which nothing useful can be said.
func Diagnose(f Facts) (pulse.Diagnosis, bool) {
	var advice string
	switch f.Reason {
	case pulse.ReasonTooManyPings:
		if f.Side == pulse.SideServer {
			advice = tooManyPingsServer(f)
		} else {
			advice = tooManyPingsClient(f)
		}
	case pulse.ReasonKeepaliveTimeout:
		advice = keepaliveTimeout(f)
	case pulse.ReasonMaxConnectionAge:
		if f.ActiveRPCs == 0 {
			return pulse.Diagnosis{}, false
		}
		advice = maxAge(f)
	case pulse.ReasonConnectionReset, pulse.ReasonPeerClosed:
		if f.ActiveRPCs == 0 {
			return pulse.Diagnosis{}, false
		}
		advice = abrupt(f)
	case pulse.ReasonProtocolError:
		advice = protocolError(f)
	default:
		return pulse.Diagnosis{}, false
	}
	return f.diagnosis(advice), true
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

func tooManyPingsServer(f Facts) string {
	kep := keepalive.EnforcementPolicy{}
	if f.Enforcement != nil {
		kep = *f.Enforcement
	}
	_, kep = policy.EffectiveServer(keepalive.ServerParameters{}, kep)
	if f.ActiveRPCs == 0 && !kep.PermitWithoutStream {
		return "The client pinged with no RPC in flight, and this server's EnforcementPolicy.PermitWithoutStream is false, so any second ping within 2h is a strike. " +
			"Set the client's ClientParameters.PermitWithoutStream to false, or this server's EnforcementPolicy.PermitWithoutStream to true."
	}
	every := typicalInterval(f.PingIntervals)
	safe := policy.CeilSecond(policy.SatAdd(kep.MinTime, policy.PingMargin(kep.MinTime)))
	if every <= 0 {
		return fmt.Sprintf("The client pinged more often than this server's EnforcementPolicy.MinTime (%s) allows. "+
			"Set the client's ClientParameters.Time to at least %s.", policy.Format(kep.MinTime), policy.Format(safe))
	}
	admit := policy.MaxMinTimeFor(every)
	if every < policy.ClientMinTime || admit <= 0 {
		// grpc-go and grpc-java clients cannot ping faster than every
		// 10s, whatever they are configured with.
		return fmt.Sprintf("The client pinged every %s, below this server's EnforcementPolicy.MinTime (%s) and faster than any grpc-go or grpc-java keepalive can (they ping at most every 10s): "+
			"a client of another implementation with a short keepalive time, or a misbehaving peer. Set that client's keepalive time to at least %s.",
			durfmt.Observed(every), policy.Format(kep.MinTime), policy.Format(safe))
	}
	return fmt.Sprintf("The client pinged every %s, below this server's EnforcementPolicy.MinTime (%s). "+
		"Set the client's ClientParameters.Time to at least %s, or this server's EnforcementPolicy.MinTime to at most %s.",
		durfmt.Observed(every), policy.Format(kep.MinTime), policy.Format(safe), policy.Format(admit))
}

func tooManyPingsClient(f Facts) string {
	defaults := policy.EnforcementMinTime
	safe := policy.CeilSecond(policy.SatAdd(defaults, policy.PingMargin(defaults)))
	against := fmt.Sprintf("safe against a server at grpc's defaults, MinTime %s", policy.Format(defaults))
	if f.PeerEnforcement != nil {
		_, kep := policy.EffectiveServer(keepalive.ServerParameters{}, *f.PeerEnforcement)
		defaults = kep.MinTime
		safe = policy.CeilSecond(policy.SatAdd(defaults, policy.PingMargin(defaults)))
		against = fmt.Sprintf("the server's EnforcementPolicy.MinTime is %s", policy.Format(defaults))
	}
	if f.PingsSent == 0 {
		// The server counted pings this client's keepalive did not send.
		return "This client sent no keepalive PING on this connection, yet the server answered too_many_pings: the pings came from something else on the path " +
			"(a proxy or sidecar that pings, or another implementation sharing the connection). No keepalive setting of this client changes that; check what sits between it and the server."
	}
	if f.Client == nil {
		return fmt.Sprintf("This client pinged more often than the server allows. Against a server at grpc's defaults (MinTime %s, no pings without RPCs), "+
			"set ClientParameters.Time to at least %s and PermitWithoutStream to false.", policy.Format(defaults), policy.Format(safe))
	}
	c := policy.EffectiveClient(*f.Client)
	if f.ActiveRPCs == 0 && c.Permit {
		return fmt.Sprintf("This client pinged every %s with no RPC in flight (PermitWithoutStream is true), which a server at grpc's defaults forbids. "+
			"Set ClientParameters.PermitWithoutStream to false, or have the server set EnforcementPolicy.PermitWithoutStream to true.", policy.Format(c.Time))
	}
	return fmt.Sprintf("This client's ClientParameters.Time (%s) is below the server's EnforcementPolicy.MinTime; grpc-go now pings every %s on this channel's new connections. "+
		"Set Time to at least %s (%s), or have the server set its MinTime to at most %s.",
		policy.Format(c.Time), policy.Format(policy.SatMul(c.Time, 2)), policy.Format(safe), against, policy.Format(policy.MaxMinTimeFor(c.Time)))
}

func keepaliveTimeout(f Facts) string {
	timeout, param, floor := time.Duration(0), "ServerParameters", policy.ServerMinTime
	switch {
	case f.Side == pulse.SideClient:
		param, floor = "ClientParameters", policy.ClientMinTime
		if f.Client != nil {
			timeout = policy.EffectiveClient(*f.Client).Timeout
		}
	case f.Server != nil:
		kp, _ := policy.EffectiveServer(*f.Server, keepalive.EnforcementPolicy{})
		timeout = kp.Timeout
	}
	if f.LastRTT > 0 && timeout > 0 && timeout < 10*f.LastRTT {
		return fmt.Sprintf("The keepalive PING went unanswered for %s.Timeout (%s), but the last one took %s to answer: the Timeout is too close to the path's round trip. "+
			"Set %s.Timeout to at least %s.", param, policy.Format(timeout), durfmt.Observed(f.LastRTT), param, policy.Format(policy.CeilSecond(max(5*time.Second, 10*f.LastRTT))))
	}
	current := time.Duration(0)
	switch {
	case f.Side == pulse.SideClient && f.Client != nil:
		current = policy.EffectiveClient(*f.Client).Time
	case f.Side == pulse.SideServer && f.Server != nil:
		kp, _ := policy.EffectiveServer(*f.Server, keepalive.EnforcementPolicy{})
		current = kp.Time
	}
	if f.Idle > 0 && current > 0 && current <= floor {
		return fmt.Sprintf("After %s with nothing read, the keepalive PING went unanswered within %s.Timeout. %s.Time (%s) is already as low as grpc-go allows, "+
			"so no keepalive setting keeps this path alive: the peer's host died, or something between the peers drops flows within %s; fix the path.",
			durfmt.Observed(f.Idle), param, param, policy.Format(current), durfmt.Observed(f.Idle))
	}
	if f.Idle <= 0 {
		return fmt.Sprintf("The keepalive PING went unanswered: the peer's host died, or something between the peers dropped the flow. "+
			"If a load balancer or NAT forgets idle flows, set %s.Time below its idle timeout (AWS NLB 350s, Azure LB 4m, many NATs 60s).", param)
	}
	return fmt.Sprintf("After %s with nothing read, the keepalive PING went unanswered: the peer's host died, or a load balancer or NAT forgot the idle flow (its idle timeout is under %s). "+
		"If it is a middlebox, set %s.Time to at most %s so that pings keep the flow alive (the peer's EnforcementPolicy.MinTime must allow it).",
		durfmt.Observed(f.Idle), durfmt.Observed(f.Idle), param, policy.Format(max(floor, (f.Idle/2).Truncate(time.Second))))
}

func maxAge(f Facts) string {
	longest := f.longestCut()
	if f.Side == pulse.SideServer {
		grace := "MaxConnectionAgeGrace"
		if f.Server != nil {
			kp, _ := policy.EffectiveServer(*f.Server, keepalive.EnforcementPolicy{})
			grace = fmt.Sprintf("MaxConnectionAgeGrace (%s)", policy.Format(kp.MaxConnectionAgeGrace))
		}
		return fmt.Sprintf("The connection reached MaxConnectionAge after %s and its %s cut %d RPC(s) still running (the longest had run %s%s). "+
			"Set ServerParameters.MaxConnectionAgeGrace above the longest RPC, at least %s, or make clients resume such streams on a new connection.",
			durfmt.Observed(f.Lifetime), grace, f.ActiveRPCs, durfmt.Observed(longest), f.methods(), policy.Format(policy.CeilSecond(longest+longest/5)))
	}
	return fmt.Sprintf("The server drained this connection at its MaxConnectionAge (after %s) and cut %d RPC(s) at the end of its grace (the longest had run %s%s). "+
		"Long streams must reconnect and resume on a new connection, or the server's MaxConnectionAgeGrace must exceed them (at least %s).",
		durfmt.Observed(f.Lifetime), f.ActiveRPCs, durfmt.Observed(longest), f.methods(), policy.Format(policy.CeilSecond(longest+longest/5)))
}

func abrupt(f Facts) string {
	how := "closed the connection without a GOAWAY"
	if f.Reason == pulse.ReasonConnectionReset {
		how = "reset the connection"
	}
	return fmt.Sprintf("The peer, or a middlebox on its behalf, %s after %s, %s after the last read, cutting %d RPC(s)%s. "+
		"grpcpulse cannot tell a peer restart from a middlebox; if the idle time matches a load balancer's or NAT's idle timeout, set keepalive Time below it.",
		how, durfmt.Observed(f.Lifetime), durfmt.Observed(f.Idle), f.ActiveRPCs, f.methods())
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
		var kp keepalive.ServerParameters
		var kep keepalive.EnforcementPolicy
		if f.Server != nil {
			kp = *f.Server
		}
		if f.Enforcement != nil {
			kep = *f.Enforcement
		}
		kp, kep = policy.EffectiveServer(kp, kep)
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
