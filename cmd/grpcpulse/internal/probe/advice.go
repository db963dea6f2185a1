package probe

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/options"
)

// Advice is the client keepalive the measurements call for, checked with
// options.Validate against a server policy built from the same measurements.
type Advice struct {
	// ClientParameters is the advised value; Go is it as code to paste.
	ClientParameters    keepalive.ClientParameters `json:"-"`
	TimeSeconds         float64                    `json:"time_seconds"`
	TimeoutSeconds      float64                    `json:"timeout_seconds"`
	PermitWithoutStream bool                       `json:"permit_without_stream"`
	Go                  string                     `json:"go"`
	// Reasons explain each field.
	Reasons []string `json:"reasons"`
	// ServerPolicy is the server policy the measurements imply, with
	// unmeasured fields at grpc's defaults (the worst case for a client);
	// ServerPolicyText describes it.
	ServerPolicy     options.ServerPolicy `json:"-"`
	ServerPolicyText string               `json:"server_policy"`
	// Validate holds options.Validate's findings about the advised client
	// and the pair (findings about the server alone are left out: the
	// server's unmeasured fields are guesses). ValidateErrors counts the
	// Error-severity ones; it is 0 unless the measurements conflict.
	Validate       []string `json:"validate"`
	ValidateErrors int      `json:"validate_errors"`
}

// grpcDefaultMinTime is grpc's default EnforcementPolicy.MinTime, assumed
// when the probe could not bound MinTime from above.
const grpcDefaultMinTime = 5 * time.Minute

// advise picks ClientParameters from the findings:
//   - Time clears the upper end of the MinTime bracket by the margin
//     options.Validate asks for (the larger of 1 s and 10%), and is at least
//     grpc-go's 10-s floor. If MinTime's bracket is open above, grpc's 5-minute
//     default is assumed, as DefaultClientParameters does for unknown servers.
//   - Below that floor nothing is safe; above it, Time is
//     DefaultClientParameters' 5m30s unless the path drops idle flows sooner,
//     in which case Time goes under the longest silence the path survived.
//   - PermitWithoutStream only if the server permits it and the path drops
//     idle flows (otherwise idle pings buy nothing).
//   - Timeout is grpc's 20 s, or half of Time if that is shorter.
func advise(mt, permit, age, grace, idle, srvTime, path Finding) Advice {
	var a Advice
	var reasons []string

	assumedMin := grpcDefaultMinTime
	switch {
	case mt.Observed && mt.High > 0:
		assumedMin = mt.High
		reasons = append(reasons, fmt.Sprintf("the server's EnforcementPolicy.MinTime is at most %s (measured)", fmtDur(mt.High)))
	case mt.Observed && mt.Low >= grpcDefaultMinTime:
		assumedMin = 0
	default:
		reasons = append(reasons, "EnforcementPolicy.MinTime was not bounded from above, so grpc's default (5m) is assumed, as for a server you know nothing about")
	}
	if assumedMin == 0 {
		// MinTime is longer than grpc's default and its end is unknown: no
		// client Time is known to be safe.
		a.ClientParameters = options.GRPCDefaultClientParameters()
		reasons = append(reasons, fmt.Sprintf("the server rejects pings even %s apart, so no keepalive interval is known to be safe: leave client keepalive off (Time: infinity) and rely on the server's pings", fmtDur(mt.Low)))
	} else {
		floor := max(10*time.Second, ceilSecond(assumedMin+max(time.Second, assumedMin/10)))
		t := options.DefaultClientParameters().Time
		var idleCap time.Duration
		if path.Observed && path.High > 0 {
			if path.Low > 0 {
				idleCap = (path.Low - max(time.Second, path.Low/10)).Truncate(time.Second)
			} else {
				idleCap = (path.High / 2).Truncate(time.Second)
			}
		}
		if idleCap > 0 && t > idleCap {
			t = idleCap
		}
		conflict := false
		if t < floor {
			conflict = idleCap > 0 && floor > idleCap
			t = floor
		}
		switch {
		case conflict:
			reasons = append(reasons, fmt.Sprintf("Time %s is the shortest interval that clears MinTime with margin (and grpc-go's 10s floor); it cannot beat the path's idle timeout (%s), so client pings cannot keep idle flows alive here: keep them alive from the server (ServerParameters.Time below %s) or raise the middlebox's idle timeout",
				fmtDur(t), path.Result, fmtDur(max(time.Second, path.Low))))
		case idleCap > 0:
			reasons = append(reasons, fmt.Sprintf("Time %s stays under the path's idle timeout (%s) with margin, and clears MinTime with margin", fmtDur(t), path.Result))
		case t == options.DefaultClientParameters().Time:
			reasons = append(reasons, fmt.Sprintf("Time %s is DefaultClientParameters': it clears MinTime with margin, and stays under AWS NLB's 350s idle timeout although this path dropped no flow within the budget", fmtDur(t)))
		default:
			reasons = append(reasons, fmt.Sprintf("Time %s is the shortest interval that clears MinTime with margin (the larger of 1s and 10%%)", fmtDur(t)))
		}
		permitOK := permit.Value != nil && *permit.Value
		pws := permitOK && idleCap > 0 && !conflict
		switch {
		case pws:
			reasons = append(reasons, "PermitWithoutStream true: the server permits pings without RPCs and the path drops idle flows, so idle connections are kept warm")
		case conflict:
			reasons = append(reasons, "PermitWithoutStream false: client pings cannot come often enough to keep idle flows alive on this path, so pinging idle connections buys nothing")
		case !permitOK && permit.Value != nil:
			reasons = append(reasons, "PermitWithoutStream false: the server rejects pings on connections without RPCs")
		case permit.Value == nil:
			reasons = append(reasons, "PermitWithoutStream false: whether the server permits pings without RPCs was not measured")
		default:
			reasons = append(reasons, "PermitWithoutStream false: the server would permit it, but nothing here needs idle connections kept warm")
		}
		timeout := min(20*time.Second, (t / 2).Truncate(time.Second))
		if timeout < 20*time.Second {
			reasons = append(reasons, fmt.Sprintf("Timeout %s: half of Time, so that a lost ACK is noticed before the next ping is due (also the socket's TCP_USER_TIMEOUT)", fmtDur(timeout)))
		} else {
			reasons = append(reasons, "Timeout 20s: grpc's default; it is also the socket's TCP_USER_TIMEOUT, so it must survive a few retransmissions")
		}
		a.ClientParameters = keepalive.ClientParameters{Time: t, Timeout: timeout, PermitWithoutStream: pws}
	}
	a.Reasons = reasons

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
	a.ServerPolicy = sp
	a.ServerPolicyText = fmt.Sprintf("EnforcementPolicy{MinTime: %s, PermitWithoutStream: %t}, ServerParameters{MaxConnectionAge: %s, MaxConnectionAgeGrace: %s, MaxConnectionIdle: %s, Time: %s}",
		fmtPolicyDur(sp.Enforcement.MinTime), sp.Enforcement.PermitWithoutStream, fmtPolicyDur(sp.Parameters.MaxConnectionAge),
		fmtPolicyDur(sp.Parameters.MaxConnectionAgeGrace), fmtPolicyDur(sp.Parameters.MaxConnectionIdle), fmtPolicyDur(sp.Parameters.Time))

	serverOnly := map[string]bool{}
	for _, f := range options.Validate(nil, sp) {
		serverOnly[f.String()] = true
	}
	for _, f := range options.Validate(options.GoClient(a.ClientParameters), sp) {
		if serverOnly[f.String()] {
			continue
		}
		a.Validate = append(a.Validate, f.String())
		if f.Severity == options.Error {
			a.ValidateErrors++
		}
	}
	c := a.ClientParameters
	a.TimeSeconds, a.TimeoutSeconds, a.PermitWithoutStream = c.Time.Seconds(), c.Timeout.Seconds(), c.PermitWithoutStream
	if c.Time == options.Infinity {
		a.TimeSeconds = -1
	}
	a.Go = fmt.Sprintf("grpc.WithKeepaliveParams(keepalive.ClientParameters{\n\tTime:                %s,\n\tTimeout:             %s,\n\tPermitWithoutStream: %t,\n})",
		goDur(c.Time), goDur(c.Timeout), c.PermitWithoutStream)
	return a
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
