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
	"github.com/grpcpulse/grpcpulse/stats/pulse"
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
	// Field names the setting to change, as its implementation names it:
	// "ClientParameters.Time", "ServerParameters.MaxConnectionAgeGrace",
	// "EnforcementPolicy.MinTime" and "ServerPolicy.LongestRPC" for
	// grpc-go; the channel argument ("grpc.keepalive_time_ms") for C-core
	// and grpc-js; the builder method
	// ("ManagedChannelBuilder.keepAliveTime",
	// "NettyServerBuilder.permitKeepAliveTime") for grpc-java.
	Field string
	// Message says what goes wrong, with the values involved, and what to set
	// the field to instead.
	Message string

	// The check that found it, and the changes its message proposes, in
	// their structured form.
	rule  string
	fixes fixSet
	// onServer: the finding is about the server's own settings.
	onServer bool
}

// server reports whether the finding is about the server's own settings,
// which a client cannot fix.
func (f Finding) server() bool { return f.onServer }

// maxFixes and maxChanges bound a finding's proposed changes: at most two
// alternatives, each of at most three changes.
const (
	maxFixes   = 2
	maxChanges = 3
)

// fixSet holds a finding's alternative fixes in fixed arrays, so that a
// Finding stays comparable.
type fixSet struct {
	n   uint8
	fix [maxFixes]struct {
		n uint8
		c [maxChanges]policy.Change
	}
}

func newFixSet(fixes ...policy.Fix) fixSet {
	var fs fixSet
	for _, f := range fixes {
		if len(f) == 0 || int(fs.n) == maxFixes {
			continue
		}
		x := &fs.fix[fs.n]
		for _, c := range f {
			if int(x.n) < maxChanges {
				x.c[x.n] = c
				x.n++
			}
		}
		fs.n++
	}
	return fs
}

// list returns the fixes as slices.
func (fs fixSet) list() []policy.Fix {
	out := make([]policy.Fix, fs.n)
	for i := range out {
		x := fs.fix[i]
		out[i] = append(policy.Fix(nil), x.c[:x.n]...)
	}
	return out
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

// Fatal reports whether a finding is Fatal: a value its implementation
// rejects or panics on.
func (fs Findings) Fatal() bool { return atLeast(fs, Fatal) != nil }

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
	// minKeepaliveTimeout is the shortest keepalive timeout Validate
	// proposes anywhere: a PING's answer needs the round trip plus the
	// peer's scheduling, which a loaded host or a long path stretches to
	// hundreds of milliseconds.
	minKeepaliveTimeout = time.Second
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
// Each side is given in the words of its gRPC implementation, and judged
// by that implementation's defaults, clamps and rules:
//   - grpc-go: GoClient(params), what a client passes to
//     grpc.WithKeepaliveParams; ServerPolicy, what a server passes to
//     grpc.KeepaliveParams and grpc.KeepaliveEnforcementPolicy;
//   - gRPC C-core (C++, Python, Ruby, PHP, ...): CCoreClient and
//     CCoreServer, its channel arguments;
//   - grpc-js: JSClient and JSServer, its channel options;
//   - grpc-java: JavaClient and JavaServer, what its builders are passed.
//
// Any client may be checked against any server, with the same rules and
// messages; findings name each setting as its implementation does.
//
// grpc-go's values are read exactly as grpc-go (v1.85) reads them:
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
// traffic. The facts it relies on: every implementation's server answers
// every ping; grpc-go, C-core and grpc-java servers count a strike for a
// ping that arrives sooner than their minimum interval after the previous
// one (or, with no RPC in flight and pings without calls not permitted,
// sooner than 2 h); any headers or data the server writes reset the
// strikes, so pings only accumulate strikes while the server writes
// nothing; the third strike ends the connection (C-core's
// grpc.http2.max_ping_strikes changes that number); grpc-js servers
// enforce nothing.
func Validate(client ClientKeepalive, server ServerKeepalive) Findings {
	var sm *policy.Server
	var sf []Finding
	if server != nil {
		in, ok := server.serverFindings()
		if ok {
			m := server.serverModel()
			sm = &m
			in = append(in, serverModelFindings(m, server.longestRPC())...)
		}
		for i := range in {
			in[i].onServer = true
		}
		sf = in
	}
	var fs []Finding
	if client != nil {
		in, ok := client.clientFindings()
		fs = append(fs, in...)
		if ok {
			fs = append(fs, clientModelFindings(client.clientModel(), sm)...)
		}
	}
	fs = append(fs, sf...)
	if client != nil && server != nil {
		fs = append(fs, pairFindings(client.clientModel(), server.serverModel())...)
	}
	return sortFindings(fs)
}

// ClientKeepalive is a client's keepalive settings in the words of its gRPC
// implementation: GoClient, CCoreClient, JSClient or JavaClient.
type ClientKeepalive interface {
	// clientFindings returns what is wrong with the settings as written,
	// and whether they describe a keepalive the checks of its model apply
	// to.
	clientFindings() ([]Finding, bool)
	clientModel() policy.Client
}

// ServerKeepalive is a server's keepalive policy in the words of its gRPC
// implementation: ServerPolicy, CCoreServer, JSServer or JavaServer.
type ServerKeepalive interface {
	serverFindings() ([]Finding, bool)
	serverModel() policy.Server
	longestRPC() time.Duration
}

// GoClient is a grpc-go client's keepalive.ClientParameters, for Validate.
type GoClient keepalive.ClientParameters

func (c GoClient) clientFindings() ([]Finding, bool) {
	return clientFindings(keepalive.ClientParameters(c))
}
func (c GoClient) clientModel() policy.Client {
	return policy.EffectiveClient(keepalive.ClientParameters(c))
}
func (p ServerPolicy) serverFindings() ([]Finding, bool) { return serverFindings(p) }
func (p ServerPolicy) serverModel() policy.Server {
	return policy.GoServer(p.Parameters, p.Enforcement)
}
func (p ServerPolicy) longestRPC() time.Duration { return p.LongestRPC }

// findings collects the findings of one check function.
type findings []Finding

// addFix appends a finding of rule whose message is formatted as by
// fmt.Sprintf, proposing fixes.
func (fs *findings) addFix(rule string, fixes []policy.Fix, sev Severity, field, format string, args ...any) {
	*fs = append(*fs, Finding{Severity: sev, Field: field, Message: fmt.Sprintf(format, args...), rule: rule, fixes: newFixSet(fixes...)})
}

// fix is a one-change fix.
func fix(k policy.Knob, op policy.Op, v time.Duration) policy.Fix {
	return policy.Fix{{Knob: k, Op: op, Value: v}}
}

// implName names an implementation in a message.
func implName(impl pulse.Implementation) string {
	switch impl {
	case pulse.ImplementationGo:
		return "grpc-go"
	case pulse.ImplementationCCore:
		return "C-core"
	case pulse.ImplementationJS:
		return "grpc-js"
	case pulse.ImplementationJava:
		return "grpc-java"
	}
	return "gRPC"
}

// sets renders fixes as "Set A to x, or the server's B to y." for a finding
// about side's settings: the other side's settings are named as that
// side's.
func sets(fixes []policy.Fix, side pulse.Side, client, server pulse.Implementation) string {
	parts := make([]string, 0, len(fixes))
	for _, f := range fixes {
		clauses := make([]string, len(f))
		for i, c := range f {
			impl, owner := client, ""
			if c.Knob.Server() {
				impl = server
			}
			if c.Knob.Server() != (side == pulse.SideServer) {
				owner = "the client's "
				if c.Knob.Server() {
					owner = "the server's "
				}
			}
			clauses[i] = owner + policy.Describe(c, impl)
		}
		parts = append(parts, joinAnd(clauses))
	}
	if len(parts) == 0 {
		return ""
	}
	return "Set " + strings.Join(parts, ", or ") + "."
}

func joinAnd(parts []string) string {
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// tcpUserTimeout reports whether a side of impl sets its keepalive timeout
// as the socket's TCP_USER_TIMEOUT: grpc-go on both sides, C-core and
// grpc-java (on Linux, with epoll) on clients with keepalive on.
func tcpUserTimeout(impl pulse.Implementation, server bool) bool {
	switch impl {
	case pulse.ImplementationGo:
		return true
	case pulse.ImplementationCCore, pulse.ImplementationJava:
		return !server
	}
	return false
}

// timeoutFix returns a keepalive time and timeout that satisfy both timeout
// rules at once: the timeout below the time and at least
// minKeepaliveTimeout, or minTCPUserTimeout where it is the socket's
// TCP_USER_TIMEOUT; grpc's 20 s default where
// the time leaves room for it. The time stays unless the timeout needs room
// below it, and is never below floor.
func timeoutFix(t, timeout time.Duration, tcp bool, floor time.Duration) (time.Duration, time.Duration) {
	least := minKeepaliveTimeout
	if tcp {
		least = minTCPUserTimeout
	}
	newTimeout := timeout
	if newTimeout < least {
		newTimeout = min(policy.KeepaliveTimeout, max(least, t/2))
	}
	if newTimeout >= t {
		newTimeout = max(least, min(policy.KeepaliveTimeout, t/2))
	}
	newTime := t
	if newTimeout >= newTime {
		newTime = max(floor, 2*newTimeout)
	}
	return newTime, newTimeout
}

// timeout checks a side's keepalive timeout against its time and against
// TCP_USER_TIMEOUT, which some implementations set to it. peer names what a
// dead connection looks like from that side. Both findings propose the same
// time and timeout, which satisfy both rules.
func (fs *findings) timeout(impl pulse.Implementation, server bool, peer string, t, timeout time.Duration) {
	timeKnob, timeoutKnob, floor := policy.KnobClientTime, policy.KnobClientTimeout, policy.ClientFloor(impl)
	if server {
		timeKnob, timeoutKnob, floor = policy.KnobServerTime, policy.KnobServerTimeout, policy.ServerMinTime
		if impl == pulse.ImplementationJava {
			floor = policy.JavaMinKeepaliveTime
		}
	}
	tcp := tcpUserTimeout(impl, server)
	newTime, newTimeout := timeoutFix(t, timeout, tcp, floor)
	f := policy.Fix{{Knob: timeoutKnob, Op: policy.Set, Value: newTimeout}}
	also := ""
	if newTime != t {
		f = append(f, policy.Change{Knob: timeKnob, Op: policy.AtLeast, Value: newTime})
		also = fmt.Sprintf(" and Time to %s", policy.Format(newTime))
	}
	side := pulse.SideClient
	if server {
		side = pulse.SideServer
	}
	field := policy.Name(timeoutKnob, impl)
	tw, tow := "Time", "Timeout"
	if impl != pulse.ImplementationGo {
		tw, tow = policy.Name(timeKnob, impl), field
	}
	if timeout >= t {
		sticky := ""
		if tcp {
			sticky = fmt.Sprintf(", and since %s is also the socket's TCP_USER_TIMEOUT, unacknowledged data may sit that long too", tow)
		}
		how := fmt.Sprintf("Set Timeout below Time, e.g. to %s%s.", policy.Format(newTimeout), also)
		if impl != pulse.ImplementationGo {
			how = sets([]policy.Fix{f}, side, impl, impl)
		}
		sum := tw + "+" + tow
		if impl != pulse.ImplementationGo {
			sum = "the two together"
		}
		fs.addFix("timeout_not_below_time", []policy.Fix{f}, Warning, field,
			"(%s) is not below %s (%s): a dead %s is noticed only after %s = %s%s; the two may have been swapped. %s",
			policy.Format(timeout), tw, policy.Format(t), peer, sum, policy.Format(policy.SatAdd(t, timeout)), sticky, how)
	}
	if tcp && timeout < minTCPUserTimeout {
		how := "Set it to 5s or more; 20s is grpc's default."
		switch {
		case impl != pulse.ImplementationGo:
			how = "It must be 5s or more: " + sets([]policy.Fix{f}, side, impl, impl)
		case newTime != t:
			how = fmt.Sprintf("Set it to 5s or more, which needs a longer Time: e.g. Timeout %s and Time %s.", policy.Format(newTimeout), policy.Format(newTime))
		}
		fs.addFix("tcp_user_timeout", []policy.Fix{f}, Warning, field,
			"is %s; %s also sets it as the socket's TCP_USER_TIMEOUT, so data left unacknowledged for %s aborts the connection: "+
				"a few retransmissions of one lost segment (Linux's retransmission timeout is at least 200ms and doubles each time) kill a healthy connection. %s",
			policy.Format(timeout), implName(impl), policy.Format(timeout), how)
	}
}

// sortFindings puts the most severe findings first and keeps the order
// within each severity.
func sortFindings(fs []Finding) Findings {
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Severity > fs[j].Severity })
	return fs
}

func clientFindings(c keepalive.ClientParameters) ([]Finding, bool) {
	var fs findings
	recommended := DefaultClientParameters().Time
	atLeast := []policy.Fix{fix(policy.KnobClientTime, policy.AtLeast, recommended)}
	switch {
	case c.Time < 0:
		fs.addFix("client_time_negative", atLeast, Error, "ClientParameters.Time",
			"is negative (%s); grpc.WithKeepaliveParams raises it to 10s and turns keepalive pings on. "+
				"Set it to %s (DefaultClientParameters), or to Infinity to disable keepalive.",
			policy.Format(c.Time), policy.Format(recommended))
	case c.Time == 0:
		fs.addFix("client_time_zero", atLeast, Warning, "ClientParameters.Time",
			"is 0, which does not disable keepalive: grpc.WithKeepaliveParams raises it to 10s and pings after every 10s of silence. "+
				"Set it explicitly, e.g. to %s (DefaultClientParameters), or to Infinity (or leave out grpc.WithKeepaliveParams) to disable keepalive.",
			policy.Format(recommended))
	case c.Time < policy.ClientMinTime:
		fs.addFix("client_time_clamped", []policy.Fix{fix(policy.KnobClientTime, policy.AtLeast, policy.ClientMinTime)}, Warning, "ClientParameters.Time",
			"is %s; grpc.WithKeepaliveParams raises anything below 10s to 10s. Set it to 10s or more so that the configuration says what runs.",
			policy.Format(c.Time))
	}
	if c.Timeout < 0 {
		fs.addFix("client_timeout_negative", []policy.Fix{fix(policy.KnobClientTimeout, policy.Set, policy.KeepaliveTimeout)}, Fatal, "ClientParameters.Timeout",
			"is negative (%s): with keepalive on, grpc-go closes the connection as soon as a keepalive ping is not answered instantly, "+
				"and the kernel rejects it as TCP_USER_TIMEOUT. Set it to 20s (grpc's default).",
			policy.Format(c.Timeout))
	}
	return fs, c.Timeout >= 0
}

// clientModelFindings checks a client's keepalive as its implementation
// runs it: its timeout, idle pings too slow for middleboxes, and C-core's
// limit of PINGs without data. s is the server's policy, or nil.
func clientModelFindings(e policy.Client, s *policy.Server) []Finding {
	var fs findings
	if !e.Enabled() {
		return fs
	}
	fs.timeout(e.Impl, false, "connection", e.Time, e.Timeout)
	if e.Permit && e.Time >= shortestIdleTimeout {
		name, permit := policy.Name(policy.KnobClientTime, e.Impl), policy.Name(policy.KnobClientPermitWithoutStream, e.Impl)
		lossy := LossyNetworkClientParameters().Time
		lower, lowerOK := policy.Allowed(policy.Fix{{Knob: policy.KnobClientTime, Op: policy.AtMost, Value: lossy}}, e, s)
		off := policy.Fix{{Knob: policy.KnobClientPermitWithoutStream, Op: policy.Set, On: false}}
		fixes := []policy.Fix{lower, off}
		if !lowerOK {
			fixes = []policy.Fix{off}
		}
		with := "PermitWithoutStream true"
		how := fmt.Sprintf("Set Time below %s (LossyNetworkClientParameters uses 30s; the server's EnforcementPolicy must allow it), or PermitWithoutStream to false.",
			policy.Format(shortestIdleTimeout))
		if e.Impl != pulse.ImplementationGo {
			with = permit + " on"
			how = fmt.Sprintf("Set %s below %s, e.g. to %s (the server's ping policy must allow it), or %s.",
				name, policy.Format(shortestIdleTimeout), policy.Format(lossy), policy.Describe(off[0], e.Impl))
		}
		if s != nil {
			how = "Lower it below " + policy.Format(shortestIdleTimeout) + ": " + sets(fixes, pulse.SideClient, e.Impl, s.Impl)
		}
		fs.addFix("client_idle_pings_slow", fixes, Warning, name,
			"is %s with %s: idle pings are meant to keep idle connections alive, but these come later than %s, "+
				"which may drop the flow first. %s",
			policy.Format(e.Time), with, idleTimeoutsReachedBy(e.Time), how)
	}
	if e.MaxPingsWithoutData > 0 {
		lift := policy.Fix{{Knob: policy.KnobClientMaxPingsWithoutData, Op: policy.Set, N: 0}}
		fixes := []policy.Fix{lift}
		how := sets(fixes, pulse.SideClient, e.Impl, pulse.ImplementationUnknown) + " The server's ping policy must then accept the client's PINGs, also without calls if it pings without them."
		if s != nil {
			// Lifting the limit must not earn too_many_pings: the client
			// then pings no faster than the server accepts, or the server
			// accepts what it sends.
			fixes = nil
			slower := append(policy.Fix{}, lift...)
			slower = append(slower, policy.Change{Knob: policy.KnobClientTime, Op: policy.AtLeast, Value: policy.SafeInterval(s.MinTime)})
			for _, f := range []policy.Fix{lift, slower} {
				if holds(f, e, *s) {
					fixes = append(fixes, f)
					break
				}
			}
			if g, ok := policy.Allowed(lift, e, s); ok && len(g) > 1 {
				fixes = append(fixes, g)
			}
			how = sets(fixes, pulse.SideClient, e.Impl, s.Impl)
			if len(fixes) == 0 {
				how = "Lifting it (0) would have the server close the connection with too_many_pings, whose ping policy cannot be changed to accept these PINGs."
			}
		}
		fs.addFix("ccore_pings_without_data", fixes, Warning, policy.ArgMaxPingsWithoutData,
			"is %d: C-core stops its keepalive PINGs after %d while nothing comes from the server, so a quiet stream or an idle connection "+
				"is watched for %s only, and a flow a middlebox forgets after that is noticed by the next RPC. %s",
			e.MaxPingsWithoutData, e.MaxPingsWithoutData, policy.Format(policy.SatMul(e.Time, int64(e.MaxPingsWithoutData))), how)
	}
	return fs
}

// holds reports whether client c, with f made to it and to server s, is
// struck out by s in no situation, even with its PINGs early by the margin.
func holds(f policy.Fix, c policy.Client, s policy.Server) bool {
	c2, s2 := f.ApplyClient(c), f.ApplyServer(s)
	for _, sit := range []policy.Situation{policy.QuietRPC, policy.NoRPC} {
		if policy.StrikesOut(c2, s2, sit) || policy.Marginal(c2, s2, sit) {
			return false
		}
	}
	return true
}

func serverFindings(p ServerPolicy) ([]Finding, bool) {
	var fs findings
	kp, kep := p.Parameters, p.Enforcement
	negatives := [...]struct {
		sev    Severity
		field  string
		knob   policy.Knob
		value  time.Duration
		effect string
		fix    string
		to     time.Duration
	}{
		{Error, "ServerParameters.MaxConnectionIdle", policy.KnobServerMaxConnectionIdle, kp.MaxConnectionIdle,
			"grpc-go drains every connection with GOAWAY \"max_idle\" as soon as it has no RPC in flight",
			"3m (LoadBalancedServerPolicy), or Infinity to never close idle connections", 3 * time.Minute},
		{Fatal, "ServerParameters.MaxConnectionAge", policy.KnobServerMaxConnectionAge, kp.MaxConnectionAge,
			"grpc-go's +/-10% jitter calls rand.Int64N with a non-positive bound and the server panics on the first connection",
			"10m (LoadBalancedServerPolicy), or Infinity to never age connections out", 10 * time.Minute},
		{Error, "ServerParameters.MaxConnectionAgeGrace", policy.KnobServerMaxConnectionAgeGrace, kp.MaxConnectionAgeGrace,
			"grpc-go closes a connection hard right after its max_age GOAWAY, failing every RPC in flight",
			"2m (LoadBalancedServerPolicy), or Infinity", 2 * time.Minute},
		{Error, "ServerParameters.Time", policy.KnobServerTime, kp.Time,
			"grpc-go's keepalive timer fires at once, forever: a busy loop per connection that pings after every read",
			"2m (DefaultServerPolicy), or Infinity to disable server pings", 2 * time.Minute},
		{Fatal, "ServerParameters.Timeout", policy.KnobServerTimeout, kp.Timeout,
			"grpc-go closes a connection as soon as a keepalive ping is not answered instantly, and the kernel rejects it as TCP_USER_TIMEOUT",
			"20s (grpc's default)", policy.KeepaliveTimeout},
		{Error, "EnforcementPolicy.MinTime", policy.KnobServerMinTime, kep.MinTime,
			"grpc-go never counts a ping as too early, so enforcement is off",
			"5s (DefaultServerPolicy), or 0 for grpc's 5m", 5 * time.Second},
		{Error, "ServerPolicy.LongestRPC", 0, p.LongestRPC,
			"it cannot describe an RPC",
			"the longest RPC the service serves, 0 if unknown, or Infinity", 0},
	}
	invalid := false
	for _, n := range negatives {
		if n.value < 0 {
			invalid = true
			var fixes []policy.Fix
			if n.knob != 0 {
				fixes = []policy.Fix{fix(n.knob, policy.Set, n.to)}
			}
			fs.addFix("server_negative", fixes, n.sev, n.field, "is negative (%s): %s. Set it to %s.", policy.Format(n.value), n.effect, n.fix)
		}
	}
	// getJitter draws from rand.Int64N(2*(age/10)), which panics for a zero
	// bound, that is for any age below 10ns.
	if kp.MaxConnectionAge > 0 && kp.MaxConnectionAge < 10*time.Nanosecond {
		invalid = true
		fs.addFix("server_age_panics", []policy.Fix{fix(policy.KnobServerMaxConnectionAge, policy.AtLeast, 10*time.Minute)}, Fatal, "ServerParameters.MaxConnectionAge",
			"is %s: grpc-go's +/-10%% jitter rounds to a zero bound for rand.Int64N below 10ns and the server panics on the first connection. "+
				"Set it to 10m (LoadBalancedServerPolicy), or Infinity to never age connections out.",
			policy.Format(kp.MaxConnectionAge))
	}
	if kp.Time > 0 && kp.Time < policy.ServerMinTime {
		fs.addFix("server_time_clamped", []policy.Fix{fix(policy.KnobServerTime, policy.AtLeast, policy.ServerMinTime)}, Warning, "ServerParameters.Time",
			"is %s; grpc.KeepaliveParams raises anything below 1s to 1s. Set it to 1s or more so that the configuration says what runs; 2m (DefaultServerPolicy) is usually right.",
			policy.Format(kp.Time))
	}
	// The remaining checks compare values; negative ones only repeat the
	// findings above.
	return fs, !invalid
}

// serverModelFindings checks a server's policy as its implementation runs
// it: its keepalive timeout, keepalive pings too slow for middleboxes, and
// the grace after MaxConnectionAge against the longest RPC (grpc-go's
// ServerPolicy.LongestRPC; 0 where unknown).
func serverModelFindings(s policy.Server, longest time.Duration) []Finding {
	var fs findings
	goServer := s.Impl == pulse.ImplementationGo
	if s.Time != Infinity {
		fs.timeout(s.Impl, true, "client", s.Time, s.Timeout)
	}
	if s.Time >= shortestIdleTimeout {
		idle := "connections without RPCs and quiet RPCs"
		alt := fmt.Sprintf("; MaxConnectionIdle below %s would close idle connections gracefully first, but cannot protect quiet RPCs", policy.Format(shortestIdleTimeout))
		if s.MaxConnectionIdle < shortestIdleTimeout {
			idle = fmt.Sprintf("quiet RPCs (connections without RPCs are closed first by MaxConnectionIdle, %s)", policy.Format(s.MaxConnectionIdle))
			alt = ""
		}
		lower := policy.Fix{{Knob: policy.KnobServerTime, Op: policy.AtMost, Value: DefaultServerPolicy().Parameters.Time}}
		how := "Set Time to 2m (DefaultServerPolicy) or 1m (LoadBalancedServerPolicy)" + alt + "."
		if !goServer {
			how = sets([]policy.Fix{lower}, pulse.SideServer, s.Impl, s.Impl)
		}
		probes := "unless TCP keepalive probes keep the flow alive (Go sends them every 15s by default)"
		if !goServer {
			probes = fmt.Sprintf("and TCP keepalive probes, off on %s's sockets unless turned on, do not keep it alive", implName(s.Impl))
		}
		is := fmt.Sprintf("is %s, not below %s", policy.Format(s.Time), idleTimeoutsReachedBy(s.Time))
		if s.Time == Infinity && !goServer {
			is = "is off (no keepalive PINGs from the server), so nothing keeps a silent flow alive against " + idleTimeoutsReachedBy(s.Time)
		}
		fs.addFix("server_time_idle", []policy.Fix{lower}, Warning, policy.Name(policy.KnobServerTime, s.Impl),
			"%s: such a middlebox may forget the flow of %s, and the connection is then dead without either side being told, %s. %s",
			is, idle, probes, how)
	}
	if s.MaxConnectionAge == Infinity {
		return fs
	}
	grace := s.MaxConnectionAgeGrace
	field := policy.Name(policy.KnobServerMaxConnectionAgeGrace, s.Impl)
	switch {
	case grace == Infinity && longest != Infinity:
		set := policy.Fix{{Knob: policy.KnobServerMaxConnectionAgeGrace, Op: policy.AtMost, Value: 2 * time.Minute}}
		how := "Set it to how long ordinary RPCs may take to finish, e.g. 2m (LoadBalancedServerPolicy), and set ServerPolicy.LongestRPC so that Validate can check it."
		if !goServer {
			how = "Set it to how long ordinary RPCs may take to finish, e.g. " + policy.Describe(set[0], s.Impl)[len(field)+len(" to at most "):] + "."
		}
		fs.addFix("grace_infinite", []policy.Fix{set}, Warning, field,
			"is infinite while MaxConnectionAge is %s: after the max_age GOAWAY the old connection stays open until its last RPC ends, "+
				"so a long-lived stream keeps it, and its backend, forever and never rebalances. %s",
			policy.Format(s.MaxConnectionAge), how)
	case longest > grace:
		fs.addFix("grace_short", []policy.Fix{{{Knob: policy.KnobServerMaxConnectionAgeGrace, Op: policy.AtLeast, Value: longest}}}, Error, field,
			"is %s but ServerPolicy.LongestRPC is %s: an RPC that starts just before the server drains the connection at MaxConnectionAge (%s, +/-10%%) "+
				"is cut with Unavailable %s later. Set MaxConnectionAgeGrace to at least %s, or make clients resume such RPCs on a new connection and lower LongestRPC.",
			policy.Format(grace), policy.Format(longest), policy.Format(s.MaxConnectionAge), policy.Format(grace), policy.Format(longest))
	}
	return fs
}

// pairFindings checks a client's keepalive against a server's ping policy:
// whether, in either situation in which the server writes nothing, the
// client's PINGs, replayed through the server's enforcement, end the
// connection with too_many_pings, or would if they came a little early.
func pairFindings(c policy.Client, s policy.Server) []Finding {
	var fs findings
	if !c.Enabled() || s.MinTime < 0 || c.Timeout < 0 || !s.Enforces() || s.Impl == pulse.ImplementationGo && s.MaxConnectionAge < 0 {
		return fs
	}
	timeName := policy.Name(policy.KnobClientTime, c.Impl)
	minName := "the server's " + policy.Name(policy.KnobServerMinTime, s.Impl)
	goaway := "the server sends GOAWAY ENHANCE_YOUR_CALM \"too_many_pings\" and closes the connection, failing the RPCs on it with Unavailable"
	strikeEffect := fmt.Sprintf("at the third strike (%s tolerates %d) %s", implName(s.Impl), s.MaxPingStrikes, goaway)
	if s.MaxPingStrikes != policy.MaxPingStrikes {
		strikeEffect = fmt.Sprintf("at strike %d (%s tolerates %d) %s", s.MaxPingStrikes+1, implName(s.Impl), s.MaxPingStrikes, goaway)
	}
	doubles, doubling := "The client then doubles Time for new connections of that ClientConn", "Time"
	if c.Impl != pulse.ImplementationGo {
		doubles, doubling = "The client then doubles its keepalive time for new connections of that channel", "the keepalive time"
	}

	when := policy.QuietRPC.String()
	if c.Permit && s.Permit {
		when += ", or " + policy.NoRPC.String()
	}
	fixes := policy.PingFixes(c, s, policy.QuietRPC)
	switch {
	case policy.StrikesOut(c, s, policy.QuietRPC):
		fs.addFix("too_many_pings", fixes, Error, timeName,
			"(%s) is below %s (%s): whenever the server writes nothing for a while (%s), "+
				"every ping sooner than that after the previous one is a strike; %s. "+
				"%s%s, and every new process starts over. %s",
			policy.Format(c.Time), minName, policy.Format(s.MinTime), when, strikeEffect, doubles, doublings(c.Time, s.MinTime),
			sets(fixes, pulse.SideClient, c.Impl, s.Impl))
	case policy.Marginal(c, s, policy.QuietRPC):
		fs.addFix("too_many_pings_margin", fixes, Warning, timeName,
			"(%s) clears %s (%s) by less than %s (the larger of 1s and 10%%). A client times each ping from its last read, "+
				"so its pings arrive at least Time apart, but pings can arrive early: other clients fire a few milliseconds early (grpc/grpc#28830), and a server reader "+
				"stalled by GC or CPU starvation stamps one ping late and the next one early; three such pings in a row with no server write between them "+
				"close the connection with too_many_pings. %s",
			policy.Format(c.Time), minName, policy.Format(s.MinTime), policy.Format(policy.PingMargin(s.MinTime)), sets(fixes, pulse.SideClient, c.Impl, s.Impl))
	}

	if c.Permit && !s.Permit {
		permitName := policy.Name(policy.KnobClientPermitWithoutStream, c.Impl)
		serverPermit := "the server's " + policy.Name(policy.KnobServerPermitWithoutStream, s.Impl)
		fixes := policy.PingFixes(c, s, policy.NoRPC)
		switch {
		case policy.StrikesOut(c, s, policy.NoRPC):
			fs.addFix("idle_pings", fixes, Error, permitName,
				"is on, so the client pings every %s even with no RPC in flight, but %s is off: "+
					"with no RPC in flight the server counts any ping within 2h of the previous one as a strike, and about the fourth ping of an idle period "+
					"(~%s idle) is the third: %s. Doubling %s does not help until it reaches 2h. %s",
				policy.Format(c.Time), serverPermit, policy.Format(policy.SatMul(c.Time, int64(s.MaxPingStrikes)+2)), goaway, doubling, sets(fixes, pulse.SideClient, c.Impl, s.Impl))
		case policy.Marginal(c, s, policy.NoRPC):
			fs.addFix("idle_pings_margin", fixes, Warning, permitName,
				"is on with a keepalive time of %s, but %s is off, so idle pings must come at least 2h apart; "+
					"%s leaves less than %s (10%%) of margin for pings that arrive early. %s",
				policy.Format(c.Time), serverPermit, policy.Format(c.Time), policy.Format(policy.PingMargin(policy.IdlePingWindow)),
				sets(fixes, pulse.SideClient, c.Impl, s.Impl))
		}
	}
	return fs
}

// doublings describes how many connections a client whose Time is below
// minTime loses to too_many_pings before its doubling of Time clears
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
