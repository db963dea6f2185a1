package probe

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Report is what a probe measured, each finding with its evidence.
type Report struct {
	// Target is the host:port probed; TLS says whether TLS was spoken.
	Target string `json:"target"`
	TLS    bool   `json:"tls"`
	// Budget and Elapsed are reported in seconds in JSON.
	Budget         time.Duration `json:"-"`
	Elapsed        time.Duration `json:"-"`
	BudgetSeconds  float64       `json:"budget_seconds"`
	ElapsedSeconds float64       `json:"elapsed_seconds"`
	// Connections is how many connections the probe opened, PingsSent how
	// many PINGs it sent over all of them.
	Connections int       `json:"connections"`
	PingsSent   int       `json:"pings_sent"`
	Settings    []Setting `json:"settings"`
	GRPC        GRPCInfo  `json:"grpc"`
	// Peer is what answered: the implementation the wire shows, or a
	// proxy. When it is a proxy, every finding is the proxy's.
	Peer Peer `json:"peer"`
	// Interrupted is set when the probe was cut short (SIGINT); Stopped
	// says why when the server went away during the probe. Either makes
	// the report partial.
	Interrupted bool   `json:"interrupted,omitempty"`
	Stopped     string `json:"stopped,omitempty"`
	// Limits lists what limited the measurements themselves (connection
	// limits, short connection lifetimes), and what that leaves unseen.
	Limits   []string  `json:"limits,omitempty"`
	Findings []Finding `json:"findings"`
	Advice   Advice    `json:"advice"`
	// Open lists what the probe could not measure, and why.
	Open []string `json:"open,omitempty"`
}

// Setting is one HTTP/2 SETTINGS parameter the server sent, or its default.
type Setting struct {
	// Name is the setting's RFC 9113 name, e.g. "MAX_CONCURRENT_STREAMS".
	Name string `json:"name"`
	// Value is nil when the server did not send the setting.
	Value *uint32 `json:"value,omitempty"`
	// Default is what HTTP/2 (or grpc-go) assumes when it is not sent.
	Default string `json:"default"`
}

// GRPCInfo is what the probe learnt about the gRPC service itself.
type GRPCInfo struct {
	// Health is the answer to grpc.health.v1.Health/Check: a serving status,
	// or the gRPC status code when the health service is missing.
	Health string `json:"health"`
	// HeldStream is the method the probe holds open on probing connections.
	HeldStream string `json:"held_stream"`
	// HeldStreamNote says why it could not be held; empty when it could.
	HeldStreamNote string `json:"held_stream_note,omitempty"`
}

// Names of findings.
const (
	FindingRTT                 = "rtt"                               // PING round trips
	FindingMinTime             = "enforcement.min_time"              // EnforcementPolicy.MinTime
	FindingPermitWithoutStream = "enforcement.permit_without_stream" // EnforcementPolicy.PermitWithoutStream
	FindingMaxConnectionAge    = "max_connection_age"                // ServerParameters.MaxConnectionAge
	FindingMaxConnectionGrace  = "max_connection_age_grace"          // ServerParameters.MaxConnectionAgeGrace
	FindingMaxConnectionIdle   = "max_connection_idle"               // ServerParameters.MaxConnectionIdle
	FindingServerKeepalive     = "server_keepalive_time"             // ServerParameters.Time, from the server's PINGs
	FindingPathIdleTimeout     = "path_idle_timeout"                 // the network path's idle timeout
	FindingStreamIdleTimeout   = "stream_idle_timeout"               // how long a silent stream lives (a proxy's timer)
)

// Confidence levels.
const (
	ConfidenceHigh   = "high"   // both ends of the bracket observed, consistently
	ConfidenceMedium = "medium" // one end, or a single observation
	ConfidenceLow    = "low"    // observations disagree; the bracket is widened
	ConfidenceNone   = "none"   // nothing was observed
)

// Finding is one measured quantity. A duration is given as a bracket
// (Low, High]: Low is a lower bound (exclusive; 0 if none), High an upper
// bound (inclusive; 0 if the bracket is open above).
type Finding struct {
	// Name is one of the Finding* constants.
	Name string `json:"name"`
	// Result states the finding in one sentence, for people.
	Result string `json:"result"`
	// Observed is false when the quantity was not seen within the budget.
	Observed    bool          `json:"observed"`
	Low         time.Duration `json:"-"`
	High        time.Duration `json:"-"`
	LowSeconds  *float64      `json:"low_seconds,omitempty"`
	HighSeconds *float64      `json:"high_seconds,omitempty"`
	// Value is set for yes/no findings (PermitWithoutStream).
	Value *bool `json:"value,omitempty"`
	// Confidence is one of the Confidence* constants.
	Confidence string `json:"confidence"`
	// Evidence lists what was seen, one observation per entry.
	Evidence []string `json:"evidence,omitempty"`
	// Note explains the mechanism behind the finding, or a caveat.
	Note string `json:"note,omitempty"`
}

// Finding returns the finding named name, or nil.
func (r *Report) Finding(name string) *Finding {
	for i := range r.Findings {
		if r.Findings[i].Name == name {
			return &r.Findings[i]
		}
	}
	return nil
}

// Contains reports whether d lies in the finding's bracket (Low, High].
func (f *Finding) Contains(d time.Duration) bool {
	return d > f.Low && (f.High == 0 || d <= f.High)
}

func secs(d time.Duration) *float64 {
	v := d.Seconds()
	return &v
}

// bracketText writes a bracket for people.
func bracketText(lo, hi time.Duration) string {
	switch {
	case lo > 0 && hi > 0:
		return fmt.Sprintf("between %s and %s", fmtDur(lo), fmtDur(hi))
	case hi > 0:
		return fmt.Sprintf("at most %s", fmtDur(hi))
	case lo > 0:
		return fmt.Sprintf("more than %s", fmtDur(lo))
	}
	return "unknown"
}

// analyze turns what the connections saw into findings and advice.
func (p *prober) analyze(rep *Report, conns []*h2conn, enf *enforceOutcome, life *lifetimeOutcome, idle *pathIdleOutcome) {
	rep.Connections = len(conns)
	var rtts []time.Duration
	views := make([]connView, 0, len(conns))
	for _, c := range conns {
		c.mu.Lock()
		rep.PingsSent += c.pingsSent
		rtts = append(rtts, c.rtts...)
		c.mu.Unlock()
		views = append(views, c.snapshot())
	}
	rep.BudgetSeconds = rep.Budget.Seconds()
	if !p.held {
		rep.Open = append(rep.Open, fmt.Sprintf("no silent stream could be held (%s), so pings could only be tried on connections without RPCs; pass --stream-method with a method that waits for its request", rep.GRPC.HeldStreamNote))
	}

	// RTT.
	slices.Sort(rtts)
	if len(rtts) > 0 {
		f := Finding{Name: FindingRTT, Observed: true, Low: rtts[0], High: rtts[len(rtts)-1], Confidence: ConfidenceHigh,
			Result:   fmt.Sprintf("min %s, median %s, max %s", fmtRTT(rtts[0]), fmtRTT(rtts[len(rtts)/2]), fmtRTT(rtts[len(rtts)-1])),
			Evidence: []string{fmt.Sprintf("%d PING round trips on the control connection, each right after a health check", len(rtts))}}
		rep.Findings = append(rep.Findings, f)
	}

	age, grace, idleF := p.analyzeLifetime(rep, views)
	minTime, permit := p.analyzeEnforcement(rep, enf)
	rep.Findings = append(rep.Findings, minTime, permit, age, grace, idleF)
	srvTime := p.analyzeServerKeepalive(views)
	rep.Findings = append(rep.Findings, srvTime)
	pathF := p.analyzePathIdle(rep, idle, views, srvTime)
	rep.Findings = append(rep.Findings, pathF)
	if st := p.analyzeStreamIdle(views); st.Observed {
		rep.Findings = append(rep.Findings, st)
	}
	p.analyzeLimits(rep, life, pathF)

	for i := range rep.Findings {
		f := &rep.Findings[i]
		if f.Low > 0 {
			f.LowSeconds = secs(f.Low)
		}
		if f.High > 0 {
			f.HighSeconds = secs(f.High)
		}
	}
	rep.Advice = advise(p.cfg.Client, rep.Peer, minTime, permit, age, grace, idleF, srvTime, pathF)
	rep.ElapsedSeconds = time.Since(p.start).Seconds()
}

func fmtRTT(d time.Duration) string {
	if d < time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}

// analyzeEnforcement brackets EnforcementPolicy.MinTime and decides
// PermitWithoutStream from the rungs.
func (p *prober) analyzeEnforcement(rep *Report, o *enforceOutcome) (Finding, Finding) {
	rungs := slices.Clone(o.rungs)
	slices.SortFunc(rungs, func(a, b rungResult) int {
		if a.Interval != b.Interval {
			return int(a.Interval - b.Interval)
		}
		if a.Held == b.Held {
			return 0
		}
		if a.Held {
			return -1
		}
		return 1
	})
	mt := Finding{Name: FindingMinTime}
	pw := Finding{Name: FindingPermitWithoutStream}

	// With a held stream, held rungs bracket MinTime; rungs without a stream
	// answer PermitWithoutStream. Without one, rungs without a stream bracket
	// MinTime only once one of them was accepted (then PermitWithoutStream is
	// true and they are judged by MinTime).
	var lo, hi time.Duration
	var loR, hiR *rungResult
	nsAccepted := false
	for i := range rungs {
		r := &rungs[i]
		if !r.Held && r.Verdict == verdictAccepted {
			nsAccepted = true
		}
	}
	for i := range rungs {
		r := &rungs[i]
		if r.Held != p.held {
			continue
		}
		if !p.held && !nsAccepted && r.Verdict == verdictRejected {
			continue // permit false and MinTime cannot be told apart
		}
		switch r.Verdict {
		case verdictRejected:
			if s := r.maxSpacing(); s > lo {
				lo, loR = s, r
			}
		case verdictAccepted:
			if s := r.maxSpacing(); hi == 0 || s < hi {
				hi, hiR = s, r
			}
		}
	}
	for _, r := range rungs {
		if r.Verdict == verdictImplied {
			continue
		}
		ev := fmt.Sprintf("%s: %s", r.label(), r.Verdict)
		if r.PingsSent > 1 {
			ev += fmt.Sprintf(", %d pings %s apart", r.PingsSent, fmtSpacings(r.Spacings))
		}
		if r.Note != "" {
			ev += " (" + r.Note + ")"
		}
		if r.Held == p.held {
			mt.Evidence = append(mt.Evidence, ev)
		} else {
			pw.Evidence = append(pw.Evidence, ev)
		}
	}
	if n := countVerdict(rungs, verdictImplied); n > 0 {
		mt.Evidence = append(mt.Evidence, fmt.Sprintf("%d connections stopped early because other intervals already decided theirs", n))
	}
	// Only decided rungs count: one cut by a drain, a close or a limit
	// says nothing about the ping policy.
	maxDecided := time.Duration(0)
	cut := map[string]int{}
	for _, r := range rungs {
		if r.Held == p.held && (r.Verdict == verdictRejected || r.Verdict == verdictAccepted) {
			maxDecided = max(maxDecided, r.Interval)
		}
		if r.Verdict == verdictInconclusive || r.Verdict == verdictUnavailable {
			cut[r.Cut]++
		}
	}
	if n := cut[cutDrain]; n > 0 {
		mt.Evidence = append(mt.Evidence, fmt.Sprintf("%d connections were drained by the server before their pings were done: inconclusive, not rejections", n))
	}
	if n := cut[cutClosed]; n > 0 {
		mt.Evidence = append(mt.Evidence, fmt.Sprintf("%d connections were closed without GOAWAY before their pings were done: inconclusive, not rejections", n))
	}
	mt.Low, mt.High = lo, hi
	switch {
	case lo > 0 && hi > 0 && lo >= hi:
		mt.Observed, mt.Confidence = true, ConfidenceLow
		mt.Result = fmt.Sprintf("inconsistent: pings %s apart were rejected but %s apart accepted", fmtDur(lo), fmtDur(hi))
		mt.Low, mt.High = hi/2, lo*2
		mt.Note = "timing noise near the limit (a busy server or path); run again with a larger --budget"
	case hi > 0:
		mt.Observed = true
		mt.Result = bracketText(lo, hi)
		mt.Confidence = ConfidenceHigh
		if lo == 0 {
			mt.Result = fmt.Sprintf("at most %s (the shortest interval tried was accepted)", fmtDur(hi))
			mt.Confidence = ConfidenceMedium
		}
		_ = loR
		_ = hiR
	case lo > 0:
		mt.Observed = true
		mt.Confidence = ConfidenceMedium
		mt.Result = fmt.Sprintf("more than %s (every interval decided, up to %s, was rejected)", fmtDur(lo), fmtDur(maxDecided))
		switch {
		case o.limitedBy > 0:
			// No budget helps: the server's own limit ends every
			// connection before a longer interval can be judged.
			rep.Limits = append(rep.Limits, fmt.Sprintf("the server drains connections after about %s, so a connection lives too short to judge ping intervals above %s (each needs %d pings): MinTime above that cannot be measured against this server, whatever the budget",
				fmtDur(o.limitedBy), fmtDur(max(o.longestFeasible, lo)), pingsPerRung))
		case o.pathLimited > 0:
			rep.Limits = append(rep.Limits, fmt.Sprintf("the path closes connections silent for about %s, so ping intervals longer than that cannot be judged through it: MinTime above %s cannot be measured from here, whatever the budget",
				fmtDur(o.pathLimited), fmtDur(lo)))
		case len(o.notTried) > 0:
			next := o.notTried[0]
			rep.Open = append(rep.Open, fmt.Sprintf("EnforcementPolicy.MinTime is above %s; the next interval, %s, needs --budget of at least %s",
				fmtDur(lo), fmtDur(next), fmtDur(p.rungTime(next).Round(time.Second)+5*time.Second)))
		}
	default:
		mt.Confidence = ConfidenceNone
		mt.Result = "not measured"
		if !p.held && len(rungs) > 0 {
			mt.Result = "not measured: every ping interval was rejected on connections without RPCs, so MinTime and PermitWithoutStream=false cannot be told apart"
			rep.Open = append(rep.Open, "EnforcementPolicy.MinTime: without a held stream it cannot be told from PermitWithoutStream=false; pass --stream-method")
		} else if len(rungs) == 0 {
			rep.Open = append(rep.Open, fmt.Sprintf("EnforcementPolicy.MinTime: the budget allowed no ping interval; pass --budget of at least %s", fmtDur(p.rungTime(300*time.Millisecond).Round(time.Second)+5*time.Second)))
		}
	}
	if mt.Observed && mt.Confidence != ConfidenceLow {
		mt.Note = "grpc-go, C-core and grpc-java count a strike for a PING sooner than their minimum interval after the previous one while they write nothing, and send GOAWAY ENHANCE_YOUR_CALM \"too_many_pings\" at the third"
		if lo == 0 && hi > 0 {
			mt.Note = "every interval tried was accepted: the server enforces no ping policy this strict (grpc-js servers and proxies such as nginx enforce none)"
		}
	}

	// PermitWithoutStream.
	var heldAccepted time.Duration // the shortest interval accepted with a stream held
	for _, r := range rungs {
		if r.Held && r.Verdict == verdictAccepted && (heldAccepted == 0 || r.Interval < heldAccepted) {
			heldAccepted = r.Interval
		}
	}
	var nsRejectedAboveHeld *rungResult
	for i := range rungs {
		r := &rungs[i]
		if !r.Held && r.Verdict == verdictRejected && heldAccepted > 0 && r.Interval >= heldAccepted {
			nsRejectedAboveHeld = r
		}
	}
	switch {
	case nsAccepted:
		v := true
		pw.Value, pw.Observed, pw.Confidence = &v, true, ConfidenceHigh
		pw.Result = "true: pings on a connection with no RPC were accepted"
	case nsRejectedAboveHeld != nil:
		v := false
		pw.Value, pw.Observed, pw.Confidence = &v, true, ConfidenceHigh
		pw.Result = fmt.Sprintf("false: pings every %s were rejected without an RPC in flight but accepted with one", fmtDur(nsRejectedAboveHeld.Interval))
	default:
		pw.Confidence = ConfidenceNone
		pw.Result = "not measured"
		if p.held && hi == 0 {
			pw.Result = "not measured: no ping interval was accepted even with a stream held, so there was nothing to compare with"
		}
		rep.Open = append(rep.Open, "EnforcementPolicy.PermitWithoutStream: not decided ("+pw.Result+")")
	}
	return mt, pw
}

func countVerdict(rs []rungResult, v string) int {
	n := 0
	for _, r := range rs {
		if r.Verdict == v {
			n++
		}
	}
	return n
}

func fmtSpacings(s []time.Duration) string {
	var parts []string
	for _, d := range s {
		parts = append(parts, fmtDur(d))
	}
	return strings.Join(parts, "/")
}

// knownIdleTimeouts are the idle timeouts of common middleboxes, named when
// a path's measured idle timeout matches one.
var knownIdleTimeouts = []struct {
	name string
	d    time.Duration
}{
	{"many NATs (60s)", 60 * time.Second},
	{"Azure Load Balancer (4m default)", 4 * time.Minute},
	{"AWS NLB (350s)", 350 * time.Second},
	{"Google Cloud firewall connection tracking (10m)", 10 * time.Minute},
}

// analyzeLimits says what limited the measurements themselves.
func (p *prober) analyzeLimits(rep *Report, life *lifetimeOutcome, path Finding) {
	p.mu.Lock()
	fails, first, open := p.dialFails, p.dialFailErr, p.openAtFail
	p.mu.Unlock()
	if fails > 0 && rep.Stopped == "" {
		how := "were not served"
		if first.Kind == errRefused {
			how = "were refused"
		}
		rep.Limits = append(rep.Limits, fmt.Sprintf("%d probing connections %s while %d of the probe's were open, after the server had answered gRPC on another: a connection limit (the server's, or a proxy's in front of it) or an overloaded server; what they were to measure is missing below", fails, how, open))
	}
	life.mu.Lock()
	warm := life.warm
	life.mu.Unlock()
	if warm > 0 && path.Observed {
		rep.Limits = append(rep.Limits, fmt.Sprintf("the path closes connections silent for %s, so a server idle limit longer than that cannot be seen from here (it never fires first); the connection held for the age was kept warm with a health check every %s", path.Result, fmtDur(warm)))
	}
	if rep.Peer.Proxy {
		rep.Limits = append(rep.Limits, fmt.Sprintf("%s terminates HTTP/2: every finding here is the proxy's (its PING handling, its idle and stream timers), for the hop from the client to the proxy. The server behind it — its ping enforcement, age and idle limits, keepalive Time — governs the proxy's own connections to it and cannot be seen from here; probe it directly, from where the proxy runs", implName(rep.Peer.Implementation)))
	}
}
