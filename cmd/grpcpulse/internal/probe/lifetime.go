package probe

import (
	"context"
	"fmt"
	"sync"
)

// lifetimeOutcome tracks the two connections held only to see how long the
// server lets connections live: one with a silent stream (MaxConnectionAge,
// and its grace: MaxConnectionIdle never fires while a stream is open) and
// one without any (MaxConnectionIdle, or MaxConnectionAge if shorter). Any
// other probing connection's GOAWAY counts as evidence too; see analyze.
type lifetimeOutcome struct {
	mu      sync.Mutex
	running int
}

func (o *lifetimeOutcome) waiting() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.running == 0 {
		return ""
	}
	return fmt.Sprintf("%d connections held for max_age/max_idle GOAWAY", o.running)
}

func (o *lifetimeOutcome) add(n int) {
	o.mu.Lock()
	o.running += n
	o.mu.Unlock()
}

// lifetime holds the watcher connections until the server ends them or the
// budget does.
func (p *prober) lifetime(ctx context.Context, out *lifetimeOutcome) {
	var wg sync.WaitGroup
	watch := func(held bool) {
		defer wg.Done()
		defer out.add(-1)
		c, err := p.dial(ctx)
		if err != nil {
			return
		}
		defer c.Close()
		if held {
			if _, err := p.holdStream(ctx, c); err != nil {
				return
			}
		}
		// The first GOAWAY says when; the close that follows, with the
		// stream still open, says when the grace ran out.
		sleepUntil(ctx, p.deadline, c.done, c.goawayCh)
		if g := c.goawaySnapshot(); len(g) > 0 {
			p.progress("server sent GOAWAY %s %q %s after connecting (%s)", g[0].Code, g[0].Debug,
				fmtDur(g[0].At.Sub(c.ready)), map[bool]string{true: "stream held", false: "no stream"}[held])
			if held {
				sleepUntil(ctx, p.deadline, c.done)
			}
		}
	}
	kinds := []bool{false}
	if p.held {
		kinds = append(kinds, true)
	}
	for _, held := range kinds {
		out.add(1)
		wg.Add(1)
		go watch(held)
	}
	wg.Wait()
}
