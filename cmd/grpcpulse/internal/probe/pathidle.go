package probe

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// defaultIdleLadder is the idle periods tried, one connection each: powers
// of two at first, then steps placed just below and above the idle timeouts
// of common middleboxes (NATs 60s, Azure Load Balancer 4m, AWS NLB 350s,
// Google Cloud 10m), so that a bracket names the one that matches.
var defaultIdleLadder = []time.Duration{
	1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second, 30 * time.Second,
	50 * time.Second, 70 * time.Second, 100 * time.Second, 140 * time.Second, 200 * time.Second,
	230 * time.Second, 250 * time.Second, 300 * time.Second, 340 * time.Second, 360 * time.Second,
	450 * time.Second, 590 * time.Second, 610 * time.Second, 900 * time.Second, 1200 * time.Second,
	1800 * time.Second, 3600 * time.Second,
}

// Verdicts of one idle rung.
const (
	idleAnswered   = "answered"    // the PING after the idle period was acknowledged
	idleUnanswered = "unanswered"  // it was not, or the connection was reset
	idleClosed     = "closed"      // the silent connection was closed (FIN or reset) without GOAWAY
	idleNotReached = "not reached" // the connection never stayed silent that long
)

// idleResult is what one idle connection saw.
type idleResult struct {
	Target time.Duration // the idle period aimed for
	// Silence is the silence held before the PING; for a closed rung,
	// until the close; for a rung not reached, the longest held.
	Silence time.Duration
	Verdict string
	Note    string
	// Ended is set on a rung not reached because the server (or the
	// proxy) drained and closed its connection first; EndedHow says how.
	Ended    bool
	EndedHow string
}

// rolePathIdle is the role of the path idle connections.
const rolePathIdle = "path idle"

// pathIdleOutcome collects the idle rungs.
type pathIdleOutcome struct {
	mu       sync.Mutex
	rungs    []idleResult
	running  int
	notTried []time.Duration
	unans    time.Duration // the shortest unanswered silence so far
}

func (o *pathIdleOutcome) waiting() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.running == 0 {
		return ""
	}
	return fmt.Sprintf("%d connections held idle for the path idle timeout", o.running)
}

func (o *pathIdleOutcome) implied(target time.Duration) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.unans > 0 && target >= o.unans
}

// start counts a rung as running until record has its result.
func (o *pathIdleOutcome) start() {
	o.mu.Lock()
	o.running++
	o.mu.Unlock()
}

func (o *pathIdleOutcome) record(r idleResult) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rungs = append(o.rungs, r)
	o.running--
	if (r.Verdict == idleUnanswered || r.Verdict == idleClosed) && (o.unans == 0 || r.Silence < o.unans) {
		o.unans = r.Silence
	}
}

// pathIdle holds connections silent for increasing periods and then pings
// each once. A middlebox that forgot the flow drops the PING (or resets
// the connection), so the longest period still answered and the shortest
// not answered bracket the path's idle timeout.
func (p *prober) pathIdle(ctx context.Context, out *pathIdleOutcome) {
	ladder := p.cfg.idleLadder
	if ladder == nil {
		ladder = defaultIdleLadder
	}
	var wg sync.WaitGroup
	n := 0
	for _, t := range ladder {
		if 2*time.Second+t+p.ackWait() > p.remaining() {
			out.mu.Lock()
			out.notTried = append(out.notTried, t)
			out.mu.Unlock()
			continue
		}
		n++
		out.start()
		wg.Go(func() { out.record(p.idleRung(ctx, out, t)) })
	}
	if n > 0 {
		p.progress("path idle: %d connections going silent for %s..%s, then one PING each", n, fmtDur(ladder[0]), fmtDur(ladder[n-1]))
	}
	wg.Wait()
}

// idleRung holds one connection silent for target, then pings it once. A
// silent stream is held if possible, so that MaxConnectionIdle does not end
// the connection first; the server's own keepalive PINGs (and this side's
// ACKs) break the silence, and the wait starts over after them.
func (p *prober) idleRung(ctx context.Context, out *pathIdleOutcome, target time.Duration) idleResult {
	r := idleResult{Target: target}
	c, err := p.dial(ctx)
	if err != nil {
		r.Verdict, r.Note = idleNotReached, err.Error()
		return r
	}
	defer c.Close()
	c.setRole(rolePathIdle)
	if p.held {
		if _, err := p.holdStream(ctx, c); err != nil {
			r.Verdict, r.Note = idleNotReached, err.Error()
			return r
		}
	}
	for {
		last := c.lastActivity()
		due := last.Add(target)
		if time.Until(due)+p.ackWait() > p.remaining() {
			r.Verdict = idleNotReached
			r.Note = fmt.Sprintf("the budget ended first; the longest silence held was %s", fmtDur(time.Since(last)))
			if sp := c.serverPingsSnapshot(); len(sp) > 0 {
				r.Note += fmt.Sprintf(" (server keepalive PINGs: %d, the first after %s of silence)", len(sp), fmtDur(sp[0].Silence))
			}
			return r
		}
		for time.Until(due) > 0 {
			if !sleepUntil(ctx, time.Now().Add(min(time.Until(due), 250*time.Millisecond)), c.done) {
				break
			}
			if out.implied(target) {
				r.Verdict, r.Note = verdictImplied, "stopped early: a shorter idle period already went unanswered"
				return r
			}
		}
		if ctx.Err() != nil {
			r.Verdict, r.Note = idleNotReached, "the budget ended first"
			return r
		}
		if !c.alive() {
			if len(c.goawaySnapshot()) == 0 && (c.endKind() == endEOF || c.endKind() == endReset) {
				r.Silence = c.silenceAtEnd()
				r.Verdict, r.Note = idleClosed, fmt.Sprintf("closed (%s, no GOAWAY) after %s of silence", c.endKind(), fmtDur(r.Silence))
				p.progress("path idle: the connection was %s", r.Note)
				return r
			}
			r.Verdict, r.Note = idleNotReached, "the connection ended while idle: "+p.endNote(c)
			if g := c.goawaySnapshot(); len(g) > 0 {
				c.mu.Lock()
				r.Silence = c.maxQuiet
				rsts := slices.Clone(c.rsts)
				c.mu.Unlock()
				r.Ended, r.EndedHow = true, p.endNote(c)
				if len(rsts) > 0 && rsts[0].At.Before(g[0].At) {
					r.EndedHow = fmt.Sprintf("the stream held open was reset (%s) after %s of silence, then %s", rsts[0].Code, fmtDur(rsts[0].Silence), r.EndedHow)
				}
				r.Note = fmt.Sprintf("the longest silence held was %s: %s", fmtDur(r.Silence), r.EndedHow)
			}
			return r
		}
		if c.lastActivity().Equal(last) {
			break
		}
		// Traffic broke the silence (a server PING or GOAWAY); start over.
	}
	last := c.lastActivity()
	sent, ack, err := c.ping([8]byte{'g', 'p', 'i', 'd', 'l', 'e'})
	r.Silence = sent.Sub(last)
	if err != nil {
		r.Verdict, r.Note = idleUnanswered, "writing the PING failed: "+oneLine(err)
		return r
	}
	t := time.NewTimer(p.ackWait())
	defer t.Stop()
	select {
	case at := <-ack:
		r.Verdict, r.Note = idleAnswered, fmt.Sprintf("PING answered in %s", fmtRTT(at.Sub(sent)))
	case <-c.done:
		r.Verdict, r.Note = idleUnanswered, "the connection ended after the PING: "+p.endNote(c)
		if c.endKind() == endEOF && len(c.goawaySnapshot()) == 0 {
			// A FIN with no GOAWAY right behind the PING: the path's
			// timer fired as the PING went out, and it closed the flow
			// as it closes every idle one. The close is what it does at
			// its timeout, counted once, as a close; the PING was not
			// dropped.
			c.mu.Lock()
			r.Silence = c.closedAt.Sub(last)
			c.mu.Unlock()
			r.Verdict = idleClosed
			r.Note = fmt.Sprintf("closed (FIN, no GOAWAY) %s after the PING, %s after the last frame before it", fmtDur(r.Silence-sent.Sub(last)), fmtDur(r.Silence))
		}
	case <-t.C:
		r.Verdict, r.Note = idleUnanswered, fmt.Sprintf("no PING ACK within %s", fmtDur(p.ackWait()))
	case <-ctx.Done():
		r.Verdict, r.Note = idleNotReached, "the budget ended while waiting for the PING ACK"
	}
	p.progress("path idle: PING after %s of silence: %s (%s)", fmtDur(r.Silence), r.Verdict, r.Note)
	return r
}

// endNote says how a connection ended.
func (p *prober) endNote(c *h2conn) string {
	if g := c.goawaySnapshot(); len(g) > 0 {
		return fmt.Sprintf("GOAWAY %s %q, then %s", g[0].Code, printable(g[0].Debug, 40), oneLine(c.err()))
	}
	return oneLine(c.err())
}

func (c *h2conn) serverPingsSnapshot() []serverPing {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]serverPing(nil), c.serverPings...)
}
