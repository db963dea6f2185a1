package probe

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// lifetimeOutcome tracks the connections held only to see how long the
// server lets connections live:
//   - one with a silent stream: MaxConnectionAge and its grace (no server
//     counts a connection with a stream open as idle);
//   - one that never opens a stream: MaxConnectionIdle, or MaxConnectionAge
//     if shorter;
//   - one that runs a health check a few seconds after connecting: an idle
//     limit ends it that much later than the first (it counts from the
//     last stream), an age limit at the same age (it counts from the
//     connect). That tells the two apart when the server says neither.
//
// A watcher that something on the path closes while it is silent is
// replaced by one that keeps its flow alive with a health check more
// often than that, so that the age can still be seen.
type lifetimeOutcome struct {
	mu      sync.Mutex
	running int
	// warm is set when a watcher was cut while silent and replaced by one
	// kept warm with health checks this often.
	warm time.Duration
}

func (o *lifetimeOutcome) waiting() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.running == 0 {
		return ""
	}
	return fmt.Sprintf("%d connections held for the server's age and idle limits", o.running)
}

func (o *lifetimeOutcome) add(n int) {
	o.mu.Lock()
	o.running += n
	o.mu.Unlock()
}

// Kinds of lifetime watcher.
const (
	watchHeld     = "stream held"
	watchNone     = "no stream"
	watchActivity = "one health check, then no stream"
)

// activityDelay is when the activity watcher runs its health check.
func (p *prober) activityDelay() time.Duration {
	return min(3*time.Second, max(time.Second, p.cfg.Budget/10))
}

// lifetime holds the watcher connections until the server ends them or the
// budget does.
func (p *prober) lifetime(ctx context.Context, out *lifetimeOutcome) {
	var wg sync.WaitGroup
	var watch func(kind string, warm time.Duration)
	watch = func(kind string, warm time.Duration) {
		defer wg.Done()
		defer out.add(-1)
		c, err := p.dial(ctx)
		if err != nil {
			return
		}
		c.setRole(kind)
		defer c.Close()
		if kind == watchHeld {
			if _, err := p.holdStream(ctx, c); err != nil {
				return
			}
		}
		if kind == watchActivity {
			if sleepUntil(ctx, c.ready.Add(p.activityDelay()), c.done, c.goawayCh) {
				_, _ = c.unary(ctx, healthCheck, p.authority, 5*time.Second)
			}
		}
		// Keep the flow warm: a health check is traffic both ways that no
		// server counts against its ping policy or its age.
		for warm > 0 && c.alive() && len(c.goawaySnapshot()) == 0 {
			if !sleepUntil(ctx, time.Now().Add(warm), c.done, c.goawayCh) {
				break
			}
			_, _ = c.unary(ctx, healthCheck, p.authority, 5*time.Second)
		}
		// The first GOAWAY says when; the close that follows, with the
		// stream still open, says when the grace ran out.
		sleepUntil(ctx, p.deadline, c.done, c.goawayCh)
		if g := c.goawaySnapshot(); len(g) > 0 {
			p.progress("server sent GOAWAY %s %q %s after connecting (%s)", g[0].Code, printable(g[0].Debug, 40),
				fmtDur(g[0].At.Sub(c.ready)), kind)
			if kind == watchHeld {
				sleepUntil(ctx, p.deadline, c.done)
			}
			return
		}
		// Ended while silent, with no GOAWAY: something on the path (or
		// the server's host) closed it. Try again, kept warm, while the
		// budget leaves room for an age to be seen.
		if k := c.endKind(); kind == watchHeld && warm == 0 && (k == endEOF || k == endReset) && p.remaining() > 10*time.Second {
			silence := c.silenceAtEnd()
			every := max(200*time.Millisecond, silence/3)
			out.mu.Lock()
			out.warm = every
			out.mu.Unlock()
			p.progress("a silent connection ended after %s (%s, no GOAWAY); holding another one, with a health check every %s to keep its flow alive", fmtDur(silence), k, fmtDur(every))
			out.add(1)
			wg.Add(1)
			go watch(kind, every)
		}
	}
	kinds := []string{watchNone, watchActivity}
	if p.held {
		kinds = append(kinds, watchHeld)
	}
	for _, kind := range kinds {
		out.add(1)
		wg.Add(1)
		go watch(kind, 0)
	}
	wg.Wait()
}
