package probe

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http2"
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
	Findings    []Finding `json:"findings"`
	Advice      Advice    `json:"advice"`
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
	for _, c := range conns {
		c.mu.Lock()
		rep.PingsSent += c.pingsSent
		rtts = append(rtts, c.rtts...)
		c.mu.Unlock()
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

	minTime, permit := p.analyzeEnforcement(rep, enf)
	rep.Findings = append(rep.Findings, minTime, permit)
	age, grace, idleF := p.analyzeLifetime(rep, conns)
	rep.Findings = append(rep.Findings, age, grace, idleF)
	srvTime := p.analyzeServerKeepalive(conns)
	rep.Findings = append(rep.Findings, srvTime)
	pathF := p.analyzePathIdle(rep, idle, srvTime)
	rep.Findings = append(rep.Findings, pathF)

	for i := range rep.Findings {
		f := &rep.Findings[i]
		if f.Low > 0 {
			f.LowSeconds = secs(f.Low)
		}
		if f.High > 0 {
			f.HighSeconds = secs(f.High)
		}
	}
	rep.Advice = advise(minTime, permit, age, grace, idleF, srvTime, pathF)
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
	maxTried := time.Duration(0)
	for _, r := range rungs {
		maxTried = max(maxTried, r.Interval)
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
		mt.Result = fmt.Sprintf("more than %s (every interval tried, up to %s, was rejected)", fmtDur(lo), fmtDur(maxTried))
		if len(o.notTried) > 0 {
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
		mt.Note = "grpc-go counts a strike for a PING sooner than MinTime after the previous one while it writes nothing, and sends GOAWAY ENHANCE_YOUR_CALM \"too_many_pings\" at the third"
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

// analyzeLifetime reads MaxConnectionAge, its grace and MaxConnectionIdle
// from the GOAWAYs of every connection.
func (p *prober) analyzeLifetime(rep *Report, conns []*h2conn) (age, grace, idle Finding) {
	age = Finding{Name: FindingMaxConnectionAge}
	grace = Finding{Name: FindingMaxConnectionGrace}
	idle = Finding{Name: FindingMaxConnectionIdle}
	slack := max(250*time.Millisecond, 2*p.rtt)
	var ageLo, ageHi, idleLo, idleHi, longestLife, longestIdle time.Duration
	nAge, nIdle := 0, 0
	for _, c := range conns {
		c.mu.Lock()
		gs := slices.Clone(c.goaways)
		ready, dialStart, hadStream := c.ready, c.dialStart, c.hadStream
		closedAt, peerClosed, closeErr := c.closedAt, c.peerClosed, c.closeErr
		c.mu.Unlock()
		end := closedAt
		if end.IsZero() {
			end = time.Now()
		}
		life := end.Sub(ready)
		if len(gs) > 0 {
			life = gs[0].At.Sub(ready)
		}
		longestLife = max(longestLife, life)
		if !hadStream {
			longestIdle = max(longestIdle, life)
		}
		if len(gs) == 0 || gs[0].Code != http2.ErrCodeNo {
			continue
		}
		g := gs[0]
		// The server's timer started between the dial and its SETTINGS;
		// it fired at most a little before its GOAWAY was read.
		dLo, dHi := max(0, g.At.Sub(ready)-slack), g.At.Sub(dialStart)
		switch g.Debug {
		case "max_age":
			// grpc-go adds a jitter of up to +/-10% to MaxConnectionAge.
			lo, hi := time.Duration(float64(dLo)/1.1), time.Duration(float64(dHi)/0.9)
			if nAge == 0 || lo > ageLo {
				ageLo = lo
			}
			if nAge == 0 || hi < ageHi {
				ageHi = hi
			}
			nAge++
			age.Evidence = append(age.Evidence, fmt.Sprintf("GOAWAY NO_ERROR \"max_age\" %s after connecting (%s)", fmtDur(g.At.Sub(ready)), streamNote(hadStream)))
			if hadStream && peerClosed {
				gr := closedAt.Sub(g.At)
				grace.Observed, grace.Confidence = true, ConfidenceMedium
				// After the grace, grpc-go waits up to 1 s for the client
				// to close first (grpc-go#5358) before it closes.
				grace.Low, grace.High = max(0, gr-time.Second-slack), gr+slack
				grace.Result = bracketText(grace.Low, grace.High)
				grace.Note = "the server closed the connection with a stream still open; grpc-go closes up to 1s after the grace ends, waiting for the client to close first"
				grace.Evidence = append(grace.Evidence, fmt.Sprintf("closed %s after GOAWAY \"max_age\": %s", fmtDur(gr), oneLine(closeErr)))
			}
		case "max_idle":
			if hadStream {
				continue // idle since its last stream ended, not since it started
			}
			lo, hi := dLo, dHi
			if nIdle == 0 || lo > idleLo {
				idleLo = lo
			}
			if nIdle == 0 || hi < idleHi {
				idleHi = hi
			}
			nIdle++
			idle.Evidence = append(idle.Evidence, fmt.Sprintf("GOAWAY NO_ERROR \"max_idle\" %s after connecting, no stream ever opened", fmtDur(g.At.Sub(ready))))
		}
	}
	if nAge > 0 {
		age.Observed, age.Low, age.High = true, ageLo, ageHi
		age.Confidence = ConfidenceMedium
		if nAge > 1 {
			age.Confidence = ConfidenceHigh
		}
		if ageLo >= ageHi {
			age.Confidence = ConfidenceLow
			age.Low, age.High = min(ageLo, ageHi), max(ageLo, ageHi)
		}
		age.Result = bracketText(age.Low, age.High)
		age.Note = "grpc-go jitters MaxConnectionAge by +/-10% per connection; the range allows for that"
	} else {
		age.Low = longestLife
		age.Result = fmt.Sprintf("not observed within the budget: more than %s (or infinite)", fmtDur(longestLife))
		age.Confidence = ConfidenceNone
		rep.Open = append(rep.Open, fmt.Sprintf("MaxConnectionAge: no max_age GOAWAY within %s", fmtDur(longestLife)))
	}
	if !grace.Observed {
		grace.Confidence = ConfidenceNone
		grace.Result = "not observed"
		if nAge > 0 {
			grace.Result = "not observed: the server did not close a connection with a stream held after max_age within the budget"
		}
	}
	if nIdle > 0 {
		idle.Observed, idle.Low, idle.High = true, idleLo, idleHi
		idle.Confidence = ConfidenceMedium
		if nIdle > 1 {
			idle.Confidence = ConfidenceHigh
		}
		if idleLo >= idleHi {
			idle.Confidence = ConfidenceLow
			idle.Low, idle.High = min(idleLo, idleHi), max(idleLo, idleHi)
		}
		idle.Result = bracketText(idle.Low, idle.High)
	} else {
		idle.Low = longestIdle
		idle.Result = fmt.Sprintf("not observed within the budget: more than %s (or infinite)", fmtDur(longestIdle))
		idle.Confidence = ConfidenceNone
		rep.Open = append(rep.Open, fmt.Sprintf("MaxConnectionIdle: no max_idle GOAWAY within %s", fmtDur(longestIdle)))
	}
	return age, grace, idle
}

func streamNote(held bool) string {
	if held {
		return "stream held"
	}
	return "no stream"
}

// analyzeServerKeepalive reads ServerParameters.Time from the server's own
// keepalive PINGs: grpc-go pings after Time without reading anything.
func (p *prober) analyzeServerKeepalive(conns []*h2conn) Finding {
	f := Finding{Name: FindingServerKeepalive}
	var shortest time.Duration
	n := 0
	for _, c := range conns {
		for _, sp := range c.serverPingsSnapshot() {
			n++
			if shortest == 0 || sp.Silence < shortest {
				shortest = sp.Silence
			}
		}
	}
	if n > 0 {
		f.Observed, f.Confidence = true, ConfidenceMedium
		f.Low, f.High = max(0, shortest-max(2*p.rtt, 100*time.Millisecond)), shortest+max(2*p.rtt, 100*time.Millisecond)
		f.Result = fmt.Sprintf("about %s", fmtDur(shortest))
		f.Evidence = []string{fmt.Sprintf("%d keepalive PINGs from the server, the earliest after %s without a frame from the probe", n, fmtDur(shortest))}
		return f
	}
	// No server PING anywhere: Time is longer than the longest time any
	// live connection went without a frame from the probe.
	var longest time.Duration
	for _, c := range conns {
		c.mu.Lock()
		end := c.closedAt
		if end.IsZero() {
			end = time.Now()
		}
		longest = max(longest, end.Sub(c.lastWrite))
		c.mu.Unlock()
	}
	f.Low, f.Confidence = longest, ConfidenceNone
	f.Result = "no keepalive PING from the server"
	if longest > 0 {
		f.Result += fmt.Sprintf(": Time is more than %s", fmtDur(longest))
	}
	return f
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

// analyzePathIdle brackets the path's idle timeout.
func (p *prober) analyzePathIdle(rep *Report, o *pathIdleOutcome, srvTime Finding) Finding {
	f := Finding{Name: FindingPathIdleTimeout}
	rungs := slices.Clone(o.rungs)
	slices.SortFunc(rungs, func(a, b idleResult) int { return int(a.Target - b.Target) })
	var lo, hi time.Duration
	for _, r := range rungs {
		switch r.Verdict {
		case idleAnswered:
			lo = max(lo, r.Silence)
		case idleUnanswered:
			if hi == 0 || r.Silence < hi {
				hi = r.Silence
			}
		}
		if r.Verdict != verdictImplied {
			ev := fmt.Sprintf("idle %s: %s", fmtDur(r.Target), r.Verdict)
			if r.Silence > 0 {
				ev = fmt.Sprintf("PING after %s of silence: %s", fmtDur(r.Silence), r.Verdict)
			}
			if r.Note != "" {
				ev += " (" + r.Note + ")"
			}
			f.Evidence = append(f.Evidence, ev)
		}
	}
	f.Low, f.High = lo, hi
	switch {
	case hi > 0 && lo >= hi:
		f.Observed, f.Confidence = true, ConfidenceLow
		f.Result = fmt.Sprintf("inconsistent: a PING after %s of silence went unanswered but one after %s was answered", fmtDur(hi), fmtDur(lo))
		f.Low, f.High = 0, hi
	case hi > 0:
		f.Observed, f.Confidence = true, ConfidenceMedium
		if lo > 0 {
			f.Confidence = ConfidenceHigh
		}
		f.Result = bracketText(lo, hi)
		var names []string
		for _, k := range knownIdleTimeouts {
			if k.d > lo && k.d <= hi {
				names = append(names, k.name)
			}
		}
		if len(names) > 0 {
			f.Result += ": matches " + strings.Join(names, ", ")
		}
		f.Note = "a middlebox on the path forgets flows idle this long; a PING after that is dropped or reset"
	default:
		f.Confidence = ConfidenceNone
		f.Result = "no drop observed"
		if lo > 0 {
			f.Result = fmt.Sprintf("no drop observed: a PING after %s of silence was still answered", fmtDur(lo))
		}
		if srvTime.Observed && srvTime.High > 0 {
			f.Note = fmt.Sprintf("the server's own keepalive PINGs (every ~%s) keep its connections' flows alive, so longer idle periods do not occur on them", fmtDur(srvTime.High))
		}
		next := time.Duration(0)
		if len(o.notTried) > 0 {
			next = o.notTried[0]
		}
		msg := fmt.Sprintf("path idle timeout: no drop within %s of silence", fmtDur(lo))
		if len(rungs) == 0 {
			msg = "path idle timeout: the budget allowed no idle period"
		}
		if next > 0 {
			msg += fmt.Sprintf("; trying %s of silence needs --budget of at least %s", fmtDur(next), fmtDur(next+p.ackWait()+5*time.Second))
		}
		rep.Open = append(rep.Open, msg)
	}
	f.Evidence = append(f.Evidence, "the probe disables TCP keepalive on its sockets; the server's kernel may still send TCP keepalive probes, which also keep flows alive")
	return f
}
