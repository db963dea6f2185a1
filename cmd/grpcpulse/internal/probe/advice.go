package probe

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/options"
)

// Advice is the client keepalive the measurements call for, written in the
// settings of the client's own implementation.
type Advice struct {
	// Client is the implementation the advice is written for (ImplGo,
	// ImplCCore, ImplJS or ImplJava).
	Client string `json:"client"`
	// ClientParameters is the advised keepalive in grpc-go's form, whatever
	// the client; Time is options.Infinity for "keepalive off".
	ClientParameters    keepalive.ClientParameters `json:"-"`
	TimeSeconds         float64                    `json:"time_seconds"`
	TimeoutSeconds      float64                    `json:"timeout_seconds"`
	PermitWithoutStream bool                       `json:"permit_without_stream"`
	// Helps is false when no keepalive of this client can prevent what
	// was measured (its floor is above the path's idle timeout): Code then
	// keeps the client's keepalive as it is and Reasons say what helps.
	Helps bool `json:"helps"`
	// Code is the advice as code or channel arguments for Client.
	Code string `json:"code"`
	// Reasons explain each setting.
	Reasons []string `json:"reasons"`
	// ServerMust lists what the server (or the proxy) must allow for the
	// advice to work, where the measurements show it does not yet, in its
	// own settings.
	ServerMust []string `json:"server_must,omitempty"`
	// ServerPolicy is the server policy the measurements imply, with
	// unmeasured fields at grpc's defaults (the worst case for a client);
	// ServerPolicyText describes it.
	ServerPolicy     options.ServerPolicy `json:"-"`
	ServerPolicyText string               `json:"server_policy"`
	// Validate holds options.Validate's findings about the advised client
	// (in grpc-go's form) against that policy; findings about the server
	// alone are left out, since its unmeasured fields are guesses.
	// ValidateErrors counts the Error-severity ones.
	Validate       []string `json:"validate"`
	ValidateErrors int      `json:"validate_errors"`
}

// clientProfile is what one client implementation does with its keepalive
// settings.
type clientProfile struct {
	name string
	// floor is the shortest keepalive Time the implementation uses: a
	// shorter setting is raised to it.
	floor     time.Duration
	floorWhy  string
	timeField string
}

var clientProfiles = map[string]clientProfile{
	ImplGo:    {name: "grpc-go", floor: 10 * time.Second, floorWhy: "grpc-go raises a keepalive Time under 10s to 10s", timeField: "Time"},
	ImplJava:  {name: "grpc-java", floor: 10 * time.Second, floorWhy: "grpc-java raises a keepAliveTime under 10s to 10s", timeField: "keepAliveTime"},
	ImplCCore: {name: "gRPC C-core", floor: time.Millisecond, timeField: "grpc.keepalive_time_ms"},
	ImplJS:    {name: "grpc-js", floor: time.Millisecond, timeField: "grpc.keepalive_time_ms"},
}

// Clients lists the implementations --client accepts.
var Clients = []string{ImplGo, ImplCCore, ImplJS, ImplJava}

// grpcDefaultMinTime is grpc's default minimum ping interval a server
// enforces (grpc-go's EnforcementPolicy.MinTime, C-core's
// grpc.http2.min_recv_ping_interval_without_data_ms, grpc-java's
// permitKeepAliveTime), assumed when the probe could not bound it.
const grpcDefaultMinTime = 5 * time.Minute

// defaultTime is the Time advised where nothing measured asks for less:
// DefaultClientParameters', under AWS NLB's 350s idle timeout.
var defaultTime = options.DefaultClientParameters().Time

// advise picks the client keepalive from the findings, for client:
//   - A path that closes or forgets idle flows sets Time: under its idle
//     timeout with margin, with pings on idle connections too, since an
//     idle connection is what it cuts. The server must then accept pings
//     that often without calls; where the measurements show it does not,
//     ServerMust says what to change. Where the client's own floor is
//     above the path's timeout, no client keepalive helps, and the advice
//     says what does.
//   - Otherwise Time is DefaultClientParameters' 5m30s, or more where the
//     server's minimum ping interval asks for more, and idle connections
//     are not pinged.
//   - Timeout is grpc's 20s, or half of Time if that is shorter.
func advise(client string, peer Peer, mt, permit, age, grace, idle, srvTime, path Finding) Advice {
	if _, ok := clientProfiles[client]; !ok {
		client = ImplGo
	}
	prof := clientProfiles[client]
	a := Advice{Client: client, Helps: true}
	var reasons []string
	server := serverTerms(peer)
	who := "the server"
	if peer.Proxy {
		who = implName(peer.Implementation)
	}

	// The server's minimum ping interval, as far as measured.
	minTime := grpcDefaultMinTime
	minKnown := false
	switch {
	case mt.Observed && mt.High > 0:
		minTime, minKnown = mt.High, true
	case mt.Observed && mt.Low >= grpcDefaultMinTime:
		minTime = options.Infinity
	}
	margin := func(d time.Duration) time.Duration { return ceilSecond(d + max(time.Second, d/10)) }
	permitOK := permit.Value != nil && *permit.Value

	var pathCap time.Duration
	if path.Observed && path.High > 0 {
		if path.Low > time.Second {
			pathCap = (path.Low - max(time.Second, path.Low/10)).Truncate(100 * time.Millisecond)
		}
		if pathCap <= 0 {
			pathCap = (path.High / 2).Truncate(100 * time.Millisecond)
		}
	}
	var t time.Duration
	pws := false
	switch {
	case pathCap > 0 && prof.floor > pathCap:
		a.Helps = false
		a.ClientParameters = keepalive.ClientParameters{Time: options.Infinity, Timeout: 20 * time.Second}
		reasons = append(reasons,
			fmt.Sprintf("the path cuts connections silent for %s; %s, so no %s keepalive can keep idle connections through it: leave the client's keepalive as it is", path.Result, prof.floorWhy, prof.name),
			fmt.Sprintf("what helps instead: raise the idle timeout of the proxy or load balancer on the path above %s (then a %s client can ping under it), or have the server ping: %s", fmtDur(margin(prof.floor)), prof.name, server.keepaliveTime(pathCap)))
	case pathCap > 0:
		t, pws = pathCap, true
		reasons = append(reasons, fmt.Sprintf("%s %s: under the path's idle timeout (%s) with margin, so that a ping crosses the path before it forgets the connection", prof.timeField, fmtDur(t), path.Result))
		reasons = append(reasons, "pings without calls: it is idle connections that the path cuts, so they must be pinged too")
		if peer.Proxy {
			reasons = append(reasons, fmt.Sprintf("%s answers the pings itself, for the hop from the client to it", implName(peer.Implementation)))
		}
		needMin := !minKnown || minTime > t
		if needMin || !permitOK {
			if must := server.allow(t, !minKnown, mt, permit); must != "" {
				a.ServerMust = append(a.ServerMust, must)
			}
		}
	case minTime == options.Infinity:
		a.ClientParameters = keepalive.ClientParameters{Time: options.Infinity, Timeout: 20 * time.Second}
		reasons = append(reasons, fmt.Sprintf("the server rejects pings even %s apart, so no keepalive interval is known to be safe: leave client keepalive off and rely on the server's pings", fmtDur(mt.Low)))
	default:
		t = max(defaultTime, margin(minTime), prof.floor)
		switch {
		case t == defaultTime && minKnown:
			reasons = append(reasons, fmt.Sprintf("%s %s: %s accepts pings at least every %s (measured), and no idle timeout was seen on the path; 5m30s stays under AWS NLB's 350s, the shortest common load-balancer idle timeout", prof.timeField, fmtDur(t), who, fmtDur(minTime)))
		case t == defaultTime:
			reasons = append(reasons, fmt.Sprintf("%s %s: the server's minimum ping interval was not bounded, so grpc's default (5m) is assumed, and no idle timeout was seen on the path; 5m30s clears 5m with margin", prof.timeField, fmtDur(t)))
		default:
			reasons = append(reasons, fmt.Sprintf("%s %s: the shortest interval that clears the server's minimum ping interval (%s) with margin (the larger of 1s and 10%%)", prof.timeField, fmtDur(t), mt.Result))
		}
		reasons = append(reasons, "no pings without calls: no idle timeout was seen on the path, so idle connections need no pinging")
	}
	if t > 0 {
		timeout := min(20*time.Second, max(time.Second, (t/2).Truncate(time.Second)))
		if t < 2*time.Second {
			timeout = max(t/2, 10*time.Millisecond)
		}
		if timeout < 20*time.Second {
			reasons = append(reasons, fmt.Sprintf("timeout %s: half of the ping interval, so that a lost ACK is noticed before the next ping is due", fmtDur(timeout)))
		} else {
			reasons = append(reasons, "timeout 20s: grpc's default")
		}
		a.ClientParameters = keepalive.ClientParameters{Time: t, Timeout: timeout, PermitWithoutStream: pws}
	}
	a.Reasons = reasons

	sp := impliedPolicy(mt, permit, age, grace, idle, srvTime)
	a.ServerPolicy = sp
	a.ServerPolicyText = fmt.Sprintf("EnforcementPolicy{MinTime: %s, PermitWithoutStream: %t}, ServerParameters{MaxConnectionAge: %s, MaxConnectionAgeGrace: %s, MaxConnectionIdle: %s, Time: %s}",
		fmtPolicyDur(sp.Enforcement.MinTime), sp.Enforcement.PermitWithoutStream, fmtPolicyDur(sp.Parameters.MaxConnectionAge),
		fmtPolicyDur(sp.Parameters.MaxConnectionAgeGrace), fmtPolicyDur(sp.Parameters.MaxConnectionIdle), fmtPolicyDur(sp.Parameters.Time))
	if a.Helps && client == ImplGo && !peer.Proxy {
		a.Validate, a.ValidateErrors = validateAdvice(a.ClientParameters, sp)
	}
	c := a.ClientParameters
	a.TimeSeconds, a.TimeoutSeconds, a.PermitWithoutStream = c.Time.Seconds(), c.Timeout.Seconds(), c.PermitWithoutStream
	if c.Time == options.Infinity {
		a.TimeSeconds = -1
	}
	a.Code = clientCode(client, c, a.Helps)
	return a
}

// impliedPolicy is the grpc-go server policy the findings imply, with
// unmeasured fields at grpc's defaults.
func impliedPolicy(mt, permit, age, grace, idle, srvTime Finding) options.ServerPolicy {
	sp := options.ServerPolicy{
		Parameters: keepalive.ServerParameters{
			MaxConnectionAge: options.Infinity, MaxConnectionAgeGrace: options.Infinity, MaxConnectionIdle: options.Infinity,
		},
		Enforcement: keepalive.EnforcementPolicy{MinTime: grpcDefaultMinTime},
	}
	if mt.Observed && mt.High > 0 {
		sp.Enforcement.MinTime = mt.High
	} else if mt.Low > grpcDefaultMinTime {
		sp.Enforcement.MinTime = mt.Low
	}
	if permit.Value != nil {
		sp.Enforcement.PermitWithoutStream = *permit.Value
	}
	if age.Observed {
		sp.Parameters.MaxConnectionAge = age.High
	}
	if grace.Observed {
		sp.Parameters.MaxConnectionAgeGrace = grace.High
	}
	if idle.Observed {
		sp.Parameters.MaxConnectionIdle = idle.High
	}
	if srvTime.Observed {
		sp.Parameters.Time = srvTime.High
	}
	return sp
}

// validateAdvice checks the advised grpc-go client against the implied
// server policy with options.Validate, leaving out findings about the
// server alone. It is the probe's one use of the library's checks.
func validateAdvice(c keepalive.ClientParameters, sp options.ServerPolicy) (findings []string, errs int) {
	serverOnly := map[string]bool{}
	for _, f := range options.Validate(nil, sp) {
		serverOnly[f.String()] = true
	}
	for _, f := range options.Validate(options.GoClient(c), sp) {
		if serverOnly[f.String()] {
			continue
		}
		findings = append(findings, f.String())
		if f.Severity == options.Error {
			errs++
		}
	}
	return findings, errs
}

// serverNames says a server's settings in its implementation's own words.
type serverNames struct{ impl string }

func serverTerms(p Peer) serverNames { return serverNames{impl: p.Implementation} }

// allow says what the server must accept for a client pinging every t
// with no call open, or "" if it accepts that already (as grpc-js servers
// and nginx do: they enforce no ping policy).
func (s serverNames) allow(t time.Duration, minUnknown bool, mt, permit Finding) string {
	ms := t.Milliseconds()
	measured := fmt.Sprintf("measured: minimum interval %s, pings without calls %s", mt.Result, permit.Result)
	var what string
	switch s.impl {
	case ImplJS, ImplNginx:
		return ""
	case ImplGo:
		what = fmt.Sprintf("keepalive.EnforcementPolicy{MinTime: %s or less, PermitWithoutStream: true}", goDur(t))
	case ImplCCore:
		what = fmt.Sprintf("server channel arguments grpc.http2.min_recv_ping_interval_without_data_ms <= %d and grpc.keepalive_permit_without_calls = 1", ms)
	case ImplJava:
		what = fmt.Sprintf("NettyServerBuilder .permitKeepAliveTime(%d, TimeUnit.MILLISECONDS) or less and .permitKeepAliveWithoutCalls(true)", ms)
	default:
		what = fmt.Sprintf("a minimum ping interval of %s or less with pings allowed without calls (grpc-go: keepalive.EnforcementPolicy{MinTime: %s, PermitWithoutStream: true}; C-core: grpc.http2.min_recv_ping_interval_without_data_ms = %d, grpc.keepalive_permit_without_calls = 1; grpc-java: permitKeepAliveTime, permitKeepAliveWithoutCalls(true))", fmtDur(t), goDur(t), ms)
	}
	return fmt.Sprintf("the server must accept pings every %s on connections without calls: %s (%s); until it does, these pings end connections with GOAWAY ENHANCE_YOUR_CALM \"too_many_pings\"", fmtDur(t), what, measured)
}

// keepaliveTime says how to make the server ping every t or more often.
func (s serverNames) keepaliveTime(t time.Duration) string {
	t = max(t, time.Second)
	switch s.impl {
	case ImplGo:
		return fmt.Sprintf("keepalive.ServerParameters{Time: %s} on the server (grpc-go servers ping no more often than every 1s)", goDur(t))
	case ImplCCore, ImplJS:
		return fmt.Sprintf("the server channel arguments grpc.keepalive_time_ms = %d and grpc.keepalive_permit_without_calls = 1", t.Milliseconds())
	case ImplJava:
		return fmt.Sprintf("NettyServerBuilder .keepAliveTime(%d, TimeUnit.MILLISECONDS) on the server", t.Milliseconds())
	}
	return fmt.Sprintf("a server keepalive Time of %s (grpc-go: keepalive.ServerParameters{Time: %s}; C-core and grpc-js: grpc.keepalive_time_ms = %d; grpc-java: keepAliveTime)", fmtDur(t), goDur(t), t.Milliseconds())
}

// clientCode writes the advice as code or channel arguments for client.
func clientCode(client string, c keepalive.ClientParameters, helps bool) string {
	off := c.Time == options.Infinity
	switch client {
	case ImplCCore, ImplJS:
		if !helps || off {
			return "# no keepalive channel arguments: leave grpc.keepalive_time_ms unset (keepalive off)"
		}
		args := []string{
			fmt.Sprintf("(\"grpc.keepalive_time_ms\", %d)", c.Time.Milliseconds()),
			fmt.Sprintf("(\"grpc.keepalive_timeout_ms\", %d)", c.Timeout.Milliseconds()),
			fmt.Sprintf("(\"grpc.keepalive_permit_without_calls\", %d)", b2i(c.PermitWithoutStream)),
		}
		if client == ImplCCore {
			// C-core stops pinging after two PINGs without data unless
			// told otherwise, and 1.5x and earlier space PINGs without
			// data at least 5 minutes apart.
			args = append(args, "(\"grpc.http2.max_pings_without_data\", 0)")
			if c.Time < 5*time.Minute {
				args = append(args, fmt.Sprintf("(\"grpc.http2.min_time_between_pings_ms\", %d)", c.Time.Milliseconds()))
			}
			return "options = [\n    " + strings.Join(args, ",\n    ") + ",\n]"
		}
		var js []string
		for _, a := range args {
			a = strings.TrimSuffix(strings.TrimPrefix(a, "("), ")")
			k, v, _ := strings.Cut(a, ", ")
			js = append(js, fmt.Sprintf("'%s': %s", strings.Trim(k, `"`), v))
		}
		return "{\n  " + strings.Join(js, ",\n  ") + ",\n}"
	case ImplJava:
		if !helps || off {
			return "// no keepAliveTime: leave the channel's keepalive off"
		}
		return fmt.Sprintf("NettyChannelBuilder.forTarget(target)\n    .keepAliveTime(%d, TimeUnit.MILLISECONDS)\n    .keepAliveTimeout(%d, TimeUnit.MILLISECONDS)\n    .keepAliveWithoutCalls(%t)",
			c.Time.Milliseconds(), c.Timeout.Milliseconds(), c.PermitWithoutStream)
	}
	if !helps {
		return "// no grpc.WithKeepaliveParams: no grpc-go client keepalive helps here (see below)"
	}
	return fmt.Sprintf("grpc.WithKeepaliveParams(keepalive.ClientParameters{\n\tTime:                %s,\n\tTimeout:             %s,\n\tPermitWithoutStream: %t,\n})",
		goDur(c.Time), goDur(c.Timeout), c.PermitWithoutStream)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func fmtPolicyDur(d time.Duration) string {
	switch d {
	case options.Infinity:
		return "infinity"
	case 0:
		return "grpc default"
	}
	return fmtDur(d)
}

// goDur writes d as a Go expression.
func goDur(d time.Duration) string {
	if d == options.Infinity {
		return "options.Infinity"
	}
	var parts []string
	h, m, s := d/time.Hour, (d%time.Hour)/time.Minute, (d%time.Minute)/time.Second
	for _, u := range []struct {
		n    time.Duration
		unit string
	}{{h, "time.Hour"}, {m, "time.Minute"}, {s, "time.Second"}} {
		if u.n > 0 {
			parts = append(parts, fmt.Sprintf("%d*%s", u.n, u.unit))
		}
	}
	if rest := d % time.Second; rest != 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%d*time.Millisecond", (d%time.Second)/time.Millisecond))
	}
	if len(parts) == 1 {
		return strings.Replace(parts[0], "*", " * ", 1)
	}
	return strings.Join(parts, " + ")
}

// ceilSecond rounds d up to a whole second.
func ceilSecond(d time.Duration) time.Duration {
	if t := d.Truncate(time.Second); t != d {
		return t + time.Second
	}
	return d
}
