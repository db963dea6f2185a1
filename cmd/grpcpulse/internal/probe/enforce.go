package probe

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// defaultEnforceLadder is the ping intervals tried, one connection each (two
// when a silent stream can be held: with it and without). The steps are
// about 1.5x apart and avoid round values, so that a MinTime someone
// configured (2s, 5s, 10s, 30s, 1m, 5m) falls strictly inside a bracket
// instead of on a rung, where timing noise decides.
var defaultEnforceLadder = []time.Duration{
	300 * time.Millisecond, 450 * time.Millisecond, 700 * time.Millisecond, 1100 * time.Millisecond,
	1600 * time.Millisecond, 2400 * time.Millisecond, 3600 * time.Millisecond, 5500 * time.Millisecond,
	8500 * time.Millisecond, 13 * time.Second, 19 * time.Second, 29 * time.Second, 44 * time.Second,
	65 * time.Second, 95 * time.Second, 140 * time.Second, 210 * time.Second, 310 * time.Second,
	450 * time.Second, 650 * time.Second, 950 * time.Second, 1400 * time.Second, 2100 * time.Second,
	3100 * time.Second, 4500 * time.Second, 7300 * time.Second,
}

// pingsPerRung is how many PINGs a probing connection sends at most: grpc-go
// counts no strike for the first (or, after the server wrote on a stream,
// resets its count on it) and sends GOAWAY at the third strike
// (maxPingStrikes = 2), that is after the fourth PING. Sending no more than
// that is what lets the probe say a connection that got no GOAWAY was
// within policy, without ever pinging a server more than needed.
const pingsPerRung = 4

// Verdicts of one probing connection.
const (
	verdictRejected     = "rejected"     // GOAWAY ENHANCE_YOUR_CALM "too_many_pings"
	verdictAccepted     = "accepted"     // all pings answered, no GOAWAY
	verdictInconclusive = "inconclusive" // something else ended or disturbed it
	verdictImplied      = "implied"      // stopped early: other rungs already decide it
	verdictUnavailable  = "unavailable"  // could not even start
)

// rungResult is what one probing connection saw.
type rungResult struct {
	Interval time.Duration
	Held     bool
	Verdict  string
	// Spacings between consecutive PINGs as sent.
	Spacings  []time.Duration
	PingsSent int
	Acked     int
	Note      string
	// Cut says what ended an inconclusive rung early: cutDrain (the
	// server drained the connection: its age or idle limit), cutClosed (it
	// ended without GOAWAY), cutLimit (it could not be opened), cutWrites
	// (the server wrote on it), cutBudget; empty otherwise.
	Cut string
	// Lived is how long the connection lived before a drain cut it.
	Lived time.Duration
}

// What cut an inconclusive rung.
const (
	cutDrain  = "drain"
	cutClosed = "closed"
	cutLimit  = "limit"
	cutWrites = "writes"
	cutBudget = "budget"
)

// maxSpacing is the longest gap between two of the rung's pings.
func (r rungResult) maxSpacing() time.Duration {
	var m time.Duration
	for _, s := range r.Spacings {
		m = max(m, s)
	}
	return m
}

func (r rungResult) label() string {
	kind := "no stream"
	if r.Held {
		kind = "stream held"
	}
	return fmt.Sprintf("every %s, %s", fmtDur(r.Interval), kind)
}

// enforceOutcome collects the rungs' results.
type enforceOutcome struct {
	mu       sync.Mutex
	held     bool // rungs with a held stream ran
	rungs    []rungResult
	running  int
	notTried []time.Duration // rungs the budget did not allow

	// For early stops: the smallest accepted and largest rejected interval,
	// per kind of rung.
	heldAcc, heldRej, nsAcc, nsRej time.Duration

	// limitedBy is set when the server's age or idle limit cut rungs:
	// about how long connections live, and the longest interval that a
	// rung can still judge within it.
	limitedBy, longestFeasible time.Duration
	// pathLimited is the shortest silence after which a rung's connection
	// was closed without GOAWAY: intervals longer than that cannot be
	// judged through this path.
	pathLimited time.Duration
}

func (o *enforceOutcome) waiting() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.running == 0 {
		return ""
	}
	return fmt.Sprintf("%d ping-enforcement connections", o.running)
}

// implied reports whether a rung's result already follows from others, so
// that it can stop pinging: enforcement is monotone in the interval (a ping
// is a strike if it comes sooner than MinTime after the previous one).
func (o *enforceOutcome) implied(interval time.Duration, held bool) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if held {
		return (o.heldAcc > 0 && interval >= o.heldAcc) || interval <= o.heldRej
	}
	if o.held {
		// Rungs without a stream only answer PermitWithoutStream; once one
		// was accepted, or one was rejected where a held rung was accepted,
		// it is answered; below a rejected held rung they can only be rejected.
		return o.nsAcc > 0 || (o.heldAcc > 0 && o.nsRej >= o.heldAcc) || interval <= o.heldRej
	}
	return (o.nsAcc > 0 && interval >= o.nsAcc) || interval <= o.nsRej
}

// start counts a rung as running until record has its result.
func (o *enforceOutcome) start() {
	o.mu.Lock()
	o.running++
	o.mu.Unlock()
}

func (o *enforceOutcome) record(r rungResult) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rungs = append(o.rungs, r)
	o.running--
	m := r.Interval
	switch {
	case r.Verdict == verdictAccepted && r.Held:
		if o.heldAcc == 0 || m < o.heldAcc {
			o.heldAcc = m
		}
	case r.Verdict == verdictRejected && r.Held:
		o.heldRej = max(o.heldRej, m)
	case r.Verdict == verdictAccepted:
		if o.nsAcc == 0 || m < o.nsAcc {
			o.nsAcc = m
		}
	case r.Verdict == verdictRejected:
		o.nsRej = max(o.nsRej, m)
	}
}

// enforcement runs the ping-interval ladder: every rung that fits in the
// budget at once, in parallel, each on its own connection.
func (p *prober) enforcement(ctx context.Context, out *enforceOutcome) {
	ladder := p.cfg.enforceLadder
	if ladder == nil {
		ladder = defaultEnforceLadder
	}
	kinds := []bool{false}
	if p.held {
		kinds = []bool{true, false}
	}
	var wg sync.WaitGroup
	var tried []time.Duration
	for i, iv := range ladder {
		// Setup, three intervals, and the wait for the last ACK and GOAWAY.
		if need := p.rungTime(iv); need > p.remaining() {
			out.mu.Lock()
			out.notTried = append(out.notTried, iv)
			out.mu.Unlock()
			continue
		}
		tried = append(tried, iv)
		for _, held := range kinds {
			out.start()
			wg.Go(func() { out.record(p.rung(ctx, out, i, iv, held)) })
		}
	}
	if len(tried) > 0 {
		p.progress("ping enforcement: %d connections pinging every %s..%s (4 pings each at most)", len(tried)*len(kinds), fmtDur(tried[0]), fmtDur(tried[len(tried)-1]))
	}
	wg.Wait()
	p.refineEnforcement(ctx, out, kinds)
}

// refineEnforcement adapts to a server whose age or idle limit cut the
// longer rungs: a rung needs three intervals on one connection, so the
// limit bounds the intervals that can be judged at all. When no interval
// was accepted above the largest rejected one, it tries a few more
// between that and the longest interval the limit leaves room for.
func (p *prober) refineEnforcement(ctx context.Context, out *enforceOutcome, kinds []bool) {
	held := p.held
	out.mu.Lock()
	lived := time.Duration(0)
	for _, r := range out.rungs {
		if r.Held != held {
			continue
		}
		if r.Cut == cutDrain && (lived == 0 || r.Lived < lived) {
			lived = r.Lived
		}
		if r.Cut == cutClosed && (out.pathLimited == 0 || r.Lived < out.pathLimited) {
			out.pathLimited = r.Lived
		}
	}
	rej, acc := out.nsRej, out.nsAcc
	if held {
		rej, acc = out.heldRej, out.heldAcc
	}
	out.mu.Unlock()
	if lived == 0 || (acc > 0 && acc <= 2*max(rej, 300*time.Millisecond)) {
		return
	}
	// The limit is jittered by up to 10% down; keep clear of it.
	longest := (time.Duration(float64(lived)*0.85) - max(300*time.Millisecond, 4*p.rtt)) / (pingsPerRung - 1)
	lo := max(rej, 200*time.Millisecond)
	if acc > 0 {
		longest = min(longest, acc)
	}
	if longest <= lo*11/10 {
		out.mu.Lock()
		out.limitedBy = lived
		out.longestFeasible = max(longest, 0)
		out.mu.Unlock()
		return
	}
	var ladder []time.Duration
	for _, f := range []float64{0.25, 0.5, 0.75, 1} {
		iv := lo + time.Duration(f*float64(longest-lo))
		if p.rungTime(iv) <= p.remaining() {
			ladder = append(ladder, iv.Round(10*time.Millisecond))
		}
	}
	out.mu.Lock()
	out.limitedBy = lived
	out.longestFeasible = longest
	out.mu.Unlock()
	if len(ladder) == 0 {
		return
	}
	p.progress("ping enforcement: connections live about %s here, so intervals above %s cannot be judged; trying %d more between %s and %s", fmtDur(lived), fmtDur(longest), len(ladder), fmtDur(ladder[0]), fmtDur(ladder[len(ladder)-1]))
	var wg sync.WaitGroup
	for i, iv := range ladder {
		for _, h := range kinds {
			if h != held {
				continue // the refinement is about MinTime
			}
			out.start()
			wg.Go(func() { out.record(p.rung(ctx, out, 100+i, iv, h)) })
		}
	}
	wg.Wait()
}

// rungTime is how long a rung at interval iv needs.
func (p *prober) rungTime(iv time.Duration) time.Duration {
	return 2*time.Second + (pingsPerRung-1)*iv + p.ackWait() + p.goawayGrace()
}

// ackWait is how long a PING may take to be answered before the probe calls
// it unanswered: generous against a busy server, short against the budget.
func (p *prober) ackWait() time.Duration {
	return min(10*time.Second, max(1500*time.Millisecond, 10*p.rtt))
}

// goawayGrace is how long after the last PING's ACK the probe waits for a
// GOAWAY: grpc-go queues the GOAWAY right behind that ACK.
func (p *prober) goawayGrace() time.Duration {
	return max(500*time.Millisecond, 4*p.rtt)
}

// rung runs one probing connection that pings every iv.
func (p *prober) rung(ctx context.Context, out *enforceOutcome, idx int, iv time.Duration, held bool) rungResult {
	r := rungResult{Interval: iv, Held: held}
	c, err := p.dial(ctx)
	if err != nil {
		r.Verdict, r.Note, r.Cut = verdictUnavailable, err.Error(), cutLimit
		return r
	}
	defer c.Close()
	c.setRole("ping enforcement")
	if held {
		if _, err := p.holdStream(ctx, c); err != nil {
			r.Verdict, r.Note = verdictUnavailable, err.Error()
			return r
		}
	}
	var (
		base  = time.Now()
		acks  []<-chan time.Time
		sends []time.Time
		tick  = make(chan struct{})
	)
	defer close(tick)
	goaway := func() (goawayEvent, bool) {
		g := c.goawaySnapshot()
		if len(g) == 0 {
			return goawayEvent{}, false
		}
		return g[0], true
	}
	for k := range pingsPerRung {
		due := base.Add(time.Duration(k) * iv)
		// Wake early, in slices, to notice an implied result or a GOAWAY.
		for time.Until(due) > 0 {
			step := min(time.Until(due), 250*time.Millisecond)
			if !sleepUntil(ctx, time.Now().Add(step), c.done) {
				break
			}
			if out.implied(iv, held) {
				r.Verdict, r.Note = verdictImplied, "stopped early: other intervals already decide this one"
				return p.finishRung(c, r, sends, acks)
			}
		}
		if ctx.Err() != nil {
			r.Verdict, r.Note, r.Cut = verdictInconclusive, "the budget ended before the pings were done", cutBudget
			return p.finishRung(c, r, sends, acks)
		}
		if !c.alive() {
			break
		}
		if _, ok := goaway(); ok {
			break
		}
		sent, ack, err := c.ping([8]byte{'g', 'p', 'e', byte(idx), map[bool]byte{true: 1}[held], byte(k)})
		if err != nil {
			break
		}
		sends = append(sends, sent)
		acks = append(acks, ack)
	}
	// The last ACK, then a short grace for the GOAWAY queued behind it.
	if len(acks) > 0 {
		t := time.NewTimer(p.ackWait())
		select {
		case at := <-acks[len(acks)-1]:
			acks[len(acks)-1] = closedTimeChan(at)
		case <-c.done:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		sleepUntil(ctx, time.Now().Add(p.goawayGrace()), c.done)
	}
	r = p.finishRung(c, r, sends, acks)
	if g, ok := goaway(); ok && g.Code == http2.ErrCodeEnhanceYourCalm {
		r.Verdict = verdictRejected
		r.Note = fmt.Sprintf("GOAWAY %s %q after PING %d of %d", g.Code, g.Debug, r.PingsSent, pingsPerRung)
	} else if ok {
		r.Verdict, r.Cut, r.Lived = verdictInconclusive, cutDrain, g.At.Sub(c.ready)
		r.Note = fmt.Sprintf("cut by GOAWAY %s %q %s after connecting, before the pings were done", g.Code, printable(g.Debug, 40), fmtDur(r.Lived))
	} else if !c.alive() {
		r.Verdict, r.Cut, r.Lived = verdictInconclusive, cutClosed, c.silenceAtEnd()
		r.Note = fmt.Sprintf("cut: the connection ended without GOAWAY (%s) after %s of silence", c.endKind(), fmtDur(r.Lived))
	} else if r.PingsSent < pingsPerRung || r.Acked < r.PingsSent {
		r.Verdict = verdictInconclusive
		r.Note = fmt.Sprintf("%d of %d pings answered", r.Acked, r.PingsSent)
	} else if n := c.serverWritesSince(sends[0]); n > 0 {
		r.Verdict, r.Cut = verdictInconclusive, cutWrites
		r.Note = fmt.Sprintf("the server wrote %d HEADERS/DATA frames during the pings, which resets its strike count", n)
	} else {
		r.Verdict = verdictAccepted
		r.Note = fmt.Sprintf("%d pings answered, no GOAWAY", r.PingsSent)
	}
	p.progress("ping enforcement: %s: %s (%s)", r.label(), r.Verdict, r.Note)
	return r
}

// finishRung fills in what the rung sent and how much was answered.
func (p *prober) finishRung(c *h2conn, r rungResult, sends []time.Time, acks []<-chan time.Time) rungResult {
	r.PingsSent = len(sends)
	for i := 1; i < len(sends); i++ {
		r.Spacings = append(r.Spacings, sends[i].Sub(sends[i-1]))
	}
	for _, a := range acks {
		select {
		case <-a:
			r.Acked++
		default:
		}
	}
	return r
}

func closedTimeChan(t time.Time) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- t
	return ch
}

// fmtDur formats a duration compactly: "2.4s", "5m30s", "350ms".
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d.Round(100*time.Millisecond) < time.Minute:
		return strings.TrimSuffix(d.Round(100*time.Millisecond).String(), ".0s")
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
