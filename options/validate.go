package options

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/policy"
)

// Severity says how much a Finding matters.
type Severity int

const (
	// Warning marks a setting that works but costs something or leaves a risk
	// open: slower detection of dead connections, flows that a middlebox may
	// drop, a value grpc-go silently changes, too little safety margin.
	Warning Severity = iota + 1
	// Error marks a setting that will break connections or RPCs in normal
	// operation (too_many_pings, RPCs cut at MaxConnectionAgeGrace), or that is
	// invalid (negative durations). Server and Client apply what the user
	// wrote all the same and report the finding.
	Error
	// Fatal marks a value grpc-go rejects or panics on: a negative Timeout
	// (setting it as TCP_USER_TIMEOUT fails, and with it every connection)
	// or a MaxConnectionAge below 10ns (the server panics on the first
	// connection). Server and Client do not apply such a value.
	Fatal
)

// String returns "warning" or "error".
func (s Severity) String() string {
	switch s {
	case Warning:
		return "warning"
	case Error:
		return "error"
	case Fatal:
		return "fatal"
	}
	return "Severity(" + strconv.Itoa(int(s)) + ")"
}

// Finding is one problem Validate found in a keepalive configuration.
//
// Finding implements error, so the result of Findings.Err can be searched
// with errors.As.
type Finding struct {
	Severity Severity
	// Field names the setting to change, as "Struct.Field":
	// "ClientParameters.Time", "ServerParameters.MaxConnectionAgeGrace",
	// "EnforcementPolicy.MinTime", "ServerPolicy.LongestRPC".
	Field string
	// Message says what goes wrong, with the values involved, and what to set
	// the field to instead.
	Message string
}

// String formats the finding as "severity: Field: message".
func (f Finding) String() string {
	return f.Severity.String() + ": " + f.Field + ": " + f.Message
}

// Error returns f.String().
func (f Finding) Error() string { return f.String() }

// Findings is what Validate found, the most severe first.
type Findings []Finding

// Err returns nil if no finding is an Error or a Fatal one, and otherwise
// those findings joined with errors.Join (warnings are left out): the one
// way to refuse, at start, a keepalive policy that would break connections
// while accepting one that merely has warnings.
//
//	if err := options.Validate(options.GoClient(params), policy).Err(); err != nil {
//		log.Fatal(err)
//	}
func (fs Findings) Err() error { return atLeast(fs, Error) }

// Fatal reports whether a finding is Fatal: a value grpc-go would reject
// or panic on.
func (fs Findings) Fatal() bool { return atLeast(fs, Fatal) != nil }

// errors returns the findings as errors.
func (fs Findings) errors() []error {
	errs := make([]error, len(fs))
	for i, f := range fs {
		errs[i] = f
	}
	return errs
}

// atLeast joins the findings of severity sev or higher, or returns nil.
func atLeast(findings []Finding, sev Severity) error {
	var errs []error
	for _, f := range findings {
		if f.Severity >= sev {
			errs = append(errs, f)
		}
	}
	return errors.Join(errs...)
}

// Thresholds of the checks.
const (
	// minTCPUserTimeout is the Timeout below which Validate warns. grpc-go
	// sets the socket's TCP_USER_TIMEOUT to Timeout, so data left
	// unacknowledged that long aborts the connection; Linux's retransmission
	// timeout is at least 200 ms and doubles at every retry, so below about
	// 5 s a few retransmissions of one lost segment kill a healthy connection.
	minTCPUserTimeout = 5 * time.Second
	// shortestIdleTimeout is the shortest common middlebox idle timeout
	// (Azure Load Balancer's default). A flow with no packet for that long
	// may be forgotten.
	shortestIdleTimeout = policy.AzureLBIdleTimeout
)

// Validate checks keepalive settings: a client's against the policy of the
// server it talks to, and each of them alone. Either may be nil, to check
// the other alone. The most important cross check is whether the server's
// enforcement will close the client's connections with GOAWAY
// ENHANCE_YOUR_CALM "too_many_pings". To check a client against a server
// you do not control, pass GRPCDefaultServerPolicy() unless you know the
// server's settings.
//
// A grpc-go client is GoClient(params), what it passes to
// grpc.WithKeepaliveParams; a grpc-go server is its ServerPolicy, what it
// passes to grpc.KeepaliveParams and grpc.KeepaliveEnforcementPolicy.
// Values are read exactly as grpc-go (v1.85) reads them:
// ClientParameters.Time below 10 s (zero included) becomes 10 s, zero
// Timeouts become 20 s, a positive ServerParameters.Time below 1 s becomes
// 1 s, zero ServerParameters.Time becomes 2 h, zero
// EnforcementPolicy.MinTime becomes 5 min, and zero MaxConnection* fields
// mean Infinity. To describe a client that does not pass
// grpc.WithKeepaliveParams at all, use GRPCDefaultClientParameters (Time:
// Infinity).
//
// Findings come the most severe first (Fatal, Error, Warning), each group
// in a fixed order. Validate compares configurations; it does not see
// traffic. The facts about grpc-go it relies on: the server answers every
// ping; it counts a strike for a ping that arrives sooner than MinTime
// after the previous one (or, with no RPC in flight and PermitWithoutStream
// false, sooner than 2 h); any headers or data the server writes reset the
// strikes, so pings only accumulate strikes while the server writes
// nothing; and the third strike ends the connection.
func Validate(client ClientKeepalive, server ServerKeepalive) Findings {
	var fs []Finding
	if client != nil {
		fs = append(fs, client.clientFindings()...)
	}
	if server != nil {
		fs = append(fs, server.serverFindings()...)
	}
	if client != nil && server != nil {
		fs = append(fs, pairFindings(client.goClient(), server.goServer())...)
	}
	return sortFindings(fs)
}

// ClientKeepalive is a client's keepalive settings in the words of its gRPC
// implementation: GoClient.
type ClientKeepalive interface {
	clientFindings() []Finding
	goClient() keepalive.ClientParameters
}

// ServerKeepalive is a server's keepalive policy in the words of its gRPC
// implementation: ServerPolicy.
type ServerKeepalive interface {
	serverFindings() []Finding
	goServer() ServerPolicy
}

// GoClient is a grpc-go client's keepalive.ClientParameters, for Validate.
type GoClient keepalive.ClientParameters

func (c GoClient) clientFindings() []Finding            { return clientFindings(keepalive.ClientParameters(c)) }
func (c GoClient) goClient() keepalive.ClientParameters { return keepalive.ClientParameters(c) }
func (p ServerPolicy) serverFindings() []Finding        { return serverFindings(p) }
func (p ServerPolicy) goServer() ServerPolicy           { return p }

// findings collects the findings of one check function.
type findings []Finding

// add appends a finding whose message is formatted as by fmt.Sprintf.
func (fs *findings) add(sev Severity, field, format string, args ...any) {
	*fs = append(*fs, Finding{Severity: sev, Field: field, Message: fmt.Sprintf(format, args...)})
}

// timeout checks a side's effective keepalive Timeout against its Time
// and against TCP_USER_TIMEOUT, which grpc-go sets to it. peer names what a
// dead connection looks like from that side.
func (fs *findings) timeout(field, peer string, t, timeout time.Duration) {
	if timeout >= t {
		fs.add(Warning, field,
			"(%s) is not below Time (%s): a dead %s is noticed only after Time+Timeout = %s, and since Timeout is also the socket's TCP_USER_TIMEOUT, "+
				"unacknowledged data may sit that long too; the two may have been swapped. Set Timeout below Time, e.g. to %s.",
			policy.Format(timeout), policy.Format(t), peer, policy.Format(policy.SatAdd(t, timeout)), policy.Format(min(policy.KeepaliveTimeout, t/2)))
	}
	if timeout < minTCPUserTimeout {
		fs.add(Warning, field,
			"is %s; grpc-go also sets it as the socket's TCP_USER_TIMEOUT, so data left unacknowledged for %s aborts the connection: "+
				"a few retransmissions of one lost segment (Linux's retransmission timeout is at least 200ms and doubles each time) kill a healthy connection. "+
				"Set it to 5s or more; 20s is grpc's default.",
			policy.Format(timeout), policy.Format(timeout))
	}
}

// sortFindings puts the most severe findings first and keeps the order
// within each severity.
func sortFindings(fs []Finding) Findings {
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Severity > fs[j].Severity })
	return fs
}

func clientFindings(c keepalive.ClientParameters) []Finding {
	var fs findings
	recommended := policy.Format(DefaultClientParameters().Time)
	switch {
	case c.Time < 0:
		fs.add(Error, "ClientParameters.Time",
			"is negative (%s); grpc.WithKeepaliveParams raises it to 10s and turns keepalive pings on. "+
				"Set it to %s (DefaultClientParameters), or to Infinity to disable keepalive.",
			policy.Format(c.Time), recommended)
	case c.Time == 0:
		fs.add(Warning, "ClientParameters.Time",
			"is 0, which does not disable keepalive: grpc.WithKeepaliveParams raises it to 10s and pings after every 10s of silence. "+
				"Set it explicitly, e.g. to %s (DefaultClientParameters), or to Infinity (or leave out grpc.WithKeepaliveParams) to disable keepalive.",
			recommended)
	case c.Time < policy.ClientMinTime:
		fs.add(Warning, "ClientParameters.Time",
			"is %s; grpc.WithKeepaliveParams raises anything below 10s to 10s. Set it to 10s or more so that the configuration says what runs.",
			policy.Format(c.Time))
	}
	if c.Timeout < 0 {
		fs.add(Fatal, "ClientParameters.Timeout",
			"is negative (%s): with keepalive on, grpc-go closes the connection as soon as a keepalive ping is not answered instantly, "+
				"and the kernel rejects it as TCP_USER_TIMEOUT. Set it to 20s (grpc's default).",
			policy.Format(c.Timeout))
	}
	e := policy.EffectiveClient(c)
	if !e.Enabled() || c.Timeout < 0 {
		return fs
	}
	fs.timeout("ClientParameters.Timeout", "connection", e.Time, e.Timeout)
	if e.Permit && e.Time >= shortestIdleTimeout {
		fs.add(Warning, "ClientParameters.Time",
			"is %s with PermitWithoutStream true: idle pings are meant to keep idle connections alive, but these come later than %s, "+
				"which may drop the flow first. Set Time below %s (LossyNetworkClientParameters uses 30s; the server's EnforcementPolicy must allow it), "+
				"or PermitWithoutStream to false.",
			policy.Format(e.Time), idleTimeoutsReachedBy(e.Time), policy.Format(shortestIdleTimeout))
	}
	return fs
}

func serverFindings(p ServerPolicy) []Finding {
	var fs findings
	kp, kep := p.Parameters, p.Enforcement
	negatives := [...]struct {
		sev    Severity
		field  string
		value  time.Duration
		effect string
		fix    string
	}{
		{Error, "ServerParameters.MaxConnectionIdle", kp.MaxConnectionIdle,
			"grpc-go drains every connection with GOAWAY \"max_idle\" as soon as it has no RPC in flight",
			"3m (LoadBalancedServerPolicy), or Infinity to never close idle connections"},
		{Fatal, "ServerParameters.MaxConnectionAge", kp.MaxConnectionAge,
			"grpc-go's +/-10% jitter calls rand.Int64N with a non-positive bound and the server panics on the first connection",
			"10m (LoadBalancedServerPolicy), or Infinity to never age connections out"},
		{Error, "ServerParameters.MaxConnectionAgeGrace", kp.MaxConnectionAgeGrace,
			"grpc-go closes a connection hard right after its max_age GOAWAY, failing every RPC in flight",
			"2m (LoadBalancedServerPolicy), or Infinity"},
		{Error, "ServerParameters.Time", kp.Time,
			"grpc-go's keepalive timer fires at once, forever: a busy loop per connection that pings after every read",
			"2m (DefaultServerPolicy), or Infinity to disable server pings"},
		{Fatal, "ServerParameters.Timeout", kp.Timeout,
			"grpc-go closes a connection as soon as a keepalive ping is not answered instantly, and the kernel rejects it as TCP_USER_TIMEOUT",
			"20s (grpc's default)"},
		{Error, "EnforcementPolicy.MinTime", kep.MinTime,
			"grpc-go never counts a ping as too early, so enforcement is off",
			"5s (DefaultServerPolicy), or 0 for grpc's 5m"},
		{Error, "ServerPolicy.LongestRPC", p.LongestRPC,
			"it cannot describe an RPC",
			"the longest RPC the service serves, 0 if unknown, or Infinity"},
	}
	invalid := false
	for _, n := range negatives {
		if n.value < 0 {
			invalid = true
			fs.add(n.sev, n.field, "is negative (%s): %s. Set it to %s.", policy.Format(n.value), n.effect, n.fix)
		}
	}
	// getJitter draws from rand.Int64N(2*(age/10)), which panics for a zero
	// bound, that is for any age below 10ns.
	if kp.MaxConnectionAge > 0 && kp.MaxConnectionAge < 10*time.Nanosecond {
		invalid = true
		fs.add(Fatal, "ServerParameters.MaxConnectionAge",
			"is %s: grpc-go's +/-10%% jitter rounds to a zero bound for rand.Int64N below 10ns and the server panics on the first connection. "+
				"Set it to 10m (LoadBalancedServerPolicy), or Infinity to never age connections out.",
			policy.Format(kp.MaxConnectionAge))
	}
	if kp.Time > 0 && kp.Time < policy.ServerMinTime {
		fs.add(Warning, "ServerParameters.Time",
			"is %s; grpc.KeepaliveParams raises anything below 1s to 1s. Set it to 1s or more so that the configuration says what runs; 2m (DefaultServerPolicy) is usually right.",
			policy.Format(kp.Time))
	}
	if invalid {
		// The remaining checks compare values; negative ones only repeat the
		// findings above.
		return fs
	}
	ekp, _ := policy.EffectiveServer(p.Parameters, p.Enforcement)
	if ekp.Time != Infinity {
		fs.timeout("ServerParameters.Timeout", "client", ekp.Time, ekp.Timeout)
	}
	if ekp.Time >= shortestIdleTimeout {
		idle := "connections without RPCs and quiet RPCs"
		alt := fmt.Sprintf("; MaxConnectionIdle below %s would close idle connections gracefully first, but cannot protect quiet RPCs", policy.Format(shortestIdleTimeout))
		if ekp.MaxConnectionIdle < shortestIdleTimeout {
			idle = fmt.Sprintf("quiet RPCs (connections without RPCs are closed first by MaxConnectionIdle, %s)", policy.Format(ekp.MaxConnectionIdle))
			alt = ""
		}
		fs.add(Warning, "ServerParameters.Time",
			"is %s, not below %s: such a middlebox may forget the flow of %s, and the connection is then dead without either side being told, "+
				"unless TCP keepalive probes keep the flow alive (Go sends them every 15s by default). Set Time to 2m (DefaultServerPolicy) or 1m (LoadBalancedServerPolicy)%s.",
			policy.Format(ekp.Time), idleTimeoutsReachedBy(ekp.Time), idle, alt)
	}
	if ekp.MaxConnectionAge != Infinity {
		grace := ekp.MaxConnectionAgeGrace
		switch {
		case grace == Infinity && p.LongestRPC != Infinity:
			fs.add(Warning, "ServerParameters.MaxConnectionAgeGrace",
				"is infinite while MaxConnectionAge is %s: after the max_age GOAWAY the old connection stays open until its last RPC ends, "+
					"so a long-lived stream keeps it, and its backend, forever and never rebalances. Set it to how long ordinary RPCs may take to finish, "+
					"e.g. 2m (LoadBalancedServerPolicy), and set ServerPolicy.LongestRPC so that Validate can check it.",
				policy.Format(ekp.MaxConnectionAge))
		case p.LongestRPC > grace:
			fs.add(Error, "ServerParameters.MaxConnectionAgeGrace",
				"is %s but ServerPolicy.LongestRPC is %s: an RPC that starts just before the server drains the connection at MaxConnectionAge (%s, +/-10%%) "+
					"is cut with Unavailable %s later. Set MaxConnectionAgeGrace to at least %s, or make clients resume such RPCs on a new connection and lower LongestRPC.",
				policy.Format(grace), policy.Format(p.LongestRPC), policy.Format(ekp.MaxConnectionAge), policy.Format(grace), policy.Format(p.LongestRPC))
		}
	}
	return fs
}

func pairFindings(c keepalive.ClientParameters, s ServerPolicy) []Finding {
	var fs findings
	e := policy.EffectiveClient(c)
	_, kep := policy.EffectiveServer(s.Parameters, s.Enforcement)
	if !e.Enabled() || kep.MinTime < 0 {
		return fs
	}
	when := "a quiet stream or a slow unary call"
	if e.Permit && kep.PermitWithoutStream {
		when += ", or a connection with no RPC"
	}
	const goaway = "the server sends GOAWAY ENHANCE_YOUR_CALM \"too_many_pings\" and closes the connection, failing the RPCs on it with Unavailable"
	strikeEffect := fmt.Sprintf("at the third strike (grpc-go tolerates %d) %s", policy.MaxPingStrikes, goaway)

	if e.Time < kep.MinTime {
		fs.add(Error, "ClientParameters.Time",
			"(%s) is below the server's EnforcementPolicy.MinTime (%s): whenever the server writes nothing for a while (%s), "+
				"every ping sooner than MinTime after the previous one is a strike; %s. "+
				"The client then doubles Time for new connections of that ClientConn%s, and every new process starts over. "+
				"Set ClientParameters.Time to at least %s, or the server's EnforcementPolicy.MinTime to at most %s.",
			policy.Format(e.Time), policy.Format(kep.MinTime), when, strikeEffect, doublings(e.Time, kep.MinTime),
			policy.Format(policy.CeilSecond(policy.SatAdd(kep.MinTime, policy.PingMargin(kep.MinTime)))), policy.Format(policy.MaxMinTimeFor(e.Time)))
	} else if e.Time < policy.SatAdd(kep.MinTime, policy.PingMargin(kep.MinTime)) {
		fs.add(Warning, "ClientParameters.Time",
			"(%s) clears the server's EnforcementPolicy.MinTime (%s) by less than %s (the larger of 1s and 10%%). A grpc-go client times each ping from its last read, "+
				"so its pings arrive at least Time apart, but pings can arrive early: other clients fire a few milliseconds early (grpc/grpc#28830), and a server reader "+
				"stalled by GC or CPU starvation stamps one ping late and the next one early; three such pings in a row with no server write between them "+
				"close the connection with too_many_pings. Set ClientParameters.Time to at least %s, or the server's EnforcementPolicy.MinTime to at most %s.",
			policy.Format(e.Time), policy.Format(kep.MinTime), policy.Format(policy.PingMargin(kep.MinTime)),
			policy.Format(policy.CeilSecond(policy.SatAdd(kep.MinTime, policy.PingMargin(kep.MinTime)))), policy.Format(policy.MaxMinTimeFor(e.Time)))
	}

	if e.Permit && !kep.PermitWithoutStream {
		switch {
		case e.Time < policy.IdlePingWindow:
			fs.add(Error, "ClientParameters.PermitWithoutStream",
				"is true, so the client pings every %s even with no RPC in flight, but the server's EnforcementPolicy.PermitWithoutStream is false: "+
					"with no RPC in flight the server counts any ping within 2h of the previous one as a strike, and about the fourth ping of an idle period "+
					"(~%s idle) is the third: %s. Doubling Time does not help until it reaches 2h. Set ClientParameters.PermitWithoutStream to false, "+
					"or the server's EnforcementPolicy.PermitWithoutStream to true.",
				policy.Format(e.Time), policy.Format(policy.SatMul(e.Time, policy.MaxPingStrikes+2)), goaway)
		case e.Time < policy.SatAdd(policy.IdlePingWindow, policy.PingMargin(policy.IdlePingWindow)):
			fs.add(Warning, "ClientParameters.PermitWithoutStream",
				"is true with Time %s, but the server's EnforcementPolicy.PermitWithoutStream is false, so idle pings must come at least 2h apart; "+
					"%s leaves less than %s (10%%) of margin for pings that arrive early. Set ClientParameters.PermitWithoutStream to false, "+
					"or the server's EnforcementPolicy.PermitWithoutStream to true.",
				policy.Format(e.Time), policy.Format(e.Time), policy.Format(policy.PingMargin(policy.IdlePingWindow)))
		}
	}
	return fs
}

// doublings describes how many connections a client whose Time is below
// minTime loses to too_many_pings before grpc-go's doubling of Time clears
// minTime, as ", so this pair loses N connections (a → b → ...)".
func doublings(t, minTime time.Duration) string {
	if minTime == Infinity || t <= 0 {
		return ", which never clears an infinite MinTime, so this pair can lose a connection on every quiet RPC"
	}
	steps := []string{policy.Format(t)}
	for t < minTime && t <= Infinity/2 {
		t *= 2
		steps = append(steps, policy.Format(t))
	}
	n := len(steps) - 1
	noun := "connections"
	if n == 1 {
		noun = "connection"
	}
	return fmt.Sprintf(", so this pair can lose %d %s (Time %s) before it settles", n, noun, strings.Join(steps, " -> "))
}

// idleTimeoutsReachedBy names the common middlebox idle timeouts not longer
// than d, as "the idle timeout(s) of ...".
func idleTimeoutsReachedBy(d time.Duration) string {
	known := [...]struct {
		name    string
		timeout time.Duration
	}{
		{"Azure Load Balancer (default 4m)", policy.AzureLBIdleTimeout},
		{"AWS NLB (350s)", policy.AWSNLBIdleTimeout},
		{"Google Cloud's firewall connection tracking (10m)", policy.GCPIdleTimeout},
	}
	var names []string
	for _, k := range known {
		if d >= k.timeout {
			names = append(names, k.name)
		}
	}
	switch len(names) {
	case 0:
		return "the idle timeouts of common middleboxes"
	case 1:
		return "the idle timeout of " + names[0]
	}
	return "the idle timeouts of " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
