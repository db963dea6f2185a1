package chaos

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

var (
	trialsFlag   = flag.Int("chaos.trials", 0, "trials to run; 0 runs the short plan")
	seedFlag     = flag.Uint64("chaos.seed", 1, "the plan's seed")
	parallelFlag = flag.Int("chaos.parallel", 0, "trials run at once; 0 picks a number for the machine")
	trialFlag    = flag.Int("chaos.trial", -1, "run only this trial of the plan, to reproduce it")
)

// shortTrials is the short plan's length: every kind of trial at least
// once, within about a minute on two busy cores.
var shortTrials = len(catalog) + len(catalog)/2

func TestChaos(t *testing.T) {
	n := *trialsFlag
	if n <= 0 {
		n = shortTrials
	}
	indices := make([]int, n)
	for i := range indices {
		indices[i] = i
	}
	if *trialFlag >= 0 {
		indices = []int{*trialFlag}
	}
	par := *parallelFlag
	if par <= 0 {
		// Trials spend most of their time waiting for timers and peers.
		par = 4 * runtime.GOMAXPROCS(0)
	}
	tl := newTally()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range par {
		wg.Go(func() {
			for i := range jobs {
				tr := plan(*seedFlag, i)
				t.Run(fmt.Sprintf("%04d-%s", i, tr.entry), func(t *testing.T) {
					res := run(t, tr)
					if wrong := tl.add(tr, res); len(wrong) > 0 {
						t.Errorf("%s\n\t%s\nreproduce: go test ./internal/chaos -run TestChaos -chaos.seed=%d -chaos.trial=%d",
							tr, strings.Join(wrong, "\n\t"), tr.seed, tr.index)
					}
				})
			}
		})
	}
	for _, i := range indices {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	t.Logf("seed %d, %d trials\n%s", *seedFlag, len(indices), tl)
}

// run runs one trial.
func run(t *testing.T, tr trial) result {
	t.Helper()
	switch {
	case tr.client == implRaw:
		return runRaw(t, tr)
	default:
		return runGo(t, tr)
	}
}

// contextFor returns a context that ends with the test or after Patience.
func contextFor(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), testenv.Patience)
}

// judge compares what one side recorded with its truth. It returns the
// close reason recorded ("none" or "several" if not exactly one close),
// and a line for each wrong verdict, named by its kind.
func judge(r sideResult) (reason string, wrong map[string]string) {
	wrong = map[string]string{}
	tr, o := r.truth, r.obs
	switch {
	case len(o.closes) == 0:
		reason = "none"
	case len(o.closes) > 1 || o.closes[0].n != 1:
		reason = "several"
	default:
		reason = o.closes[0].reason
	}
	if reason == "none" || reason == "several" {
		wrong["closes"] = "want exactly one close"
		return reason, wrong
	}
	c := o.closes[0]
	if c.reason != tr.reason.String() {
		wrong["reason"] = fmt.Sprintf("close reason %s, want %s", c.reason, tr.reason)
	}
	if c.initiator != tr.initiator.String() {
		wrong["initiator"] = fmt.Sprintf("initiator %s, want %s", c.initiator, tr.initiator)
	}
	if want := len(tr.cut) > 0; c.active != want {
		wrong["active_rpcs"] = fmt.Sprintf("active_rpcs %v, want %v", c.active, want)
	}
	var want []failRec
	if tr.failing && len(tr.cut) > 0 {
		want = []failRec{{reason: tr.reason.String(), code: tr.code, n: int64(len(tr.cut))}}
	}
	if !slices.Equal(o.failures, want) {
		wrong["failures"] = fmt.Sprintf("transport failures %v, want %v", o.failures, want)
	}
	var causes []string
	for name, got := range o.causes {
		want := noCause
		if tr.failing && slices.Contains(tr.cut, name) {
			want = tr.reason.String()
		}
		if got != want {
			causes = append(causes, fmt.Sprintf("Cause(%s) = %s, want %s", name, got, want))
		}
	}
	if len(causes) > 0 {
		sort.Strings(causes)
		wrong["cause"] = strings.Join(causes, ", ")
	}
	switch {
	case !tr.diagnosis && len(o.diags) > 0:
		wrong["diagnosis"] = fmt.Sprintf("a diagnosis (%s, cut %d), want none", o.diags[0].Reason, o.diags[0].CutRPCs)
	case tr.diagnosis && len(o.diags) != 1:
		wrong["diagnosis"] = fmt.Sprintf("%d diagnoses, want one", len(o.diags))
	case tr.diagnosis && (o.diags[0].Reason != tr.reason || o.diags[0].CutRPCs != len(tr.cut)):
		wrong["diagnosis"] = fmt.Sprintf("diagnosis %s cut %d, want %s cut %d", o.diags[0].Reason, o.diags[0].CutRPCs, tr.reason, len(tr.cut))
	}
	return reason, wrong
}

// kinds are the kinds of wrong verdict, in the order the tally prints them.
var kinds = []string{"closes", "reason", "initiator", "active_rpcs", "failures", "cause", "diagnosis"}

// tally is the confusion matrix of each side, truth by verdict for the
// close reason, and the count of every other kind of wrong verdict.
type tally struct {
	mu     sync.Mutex
	trials map[string]int // by entry
	sides  [2]sideTally   // server, client
}

type sideTally struct {
	judged int
	matrix map[string]map[string]int // true reason -> recorded reason -> trials
	wrong  map[string]int            // kind -> trials
}

func newTally() *tally {
	tl := &tally{trials: map[string]int{}}
	for i := range tl.sides {
		tl.sides[i] = sideTally{matrix: map[string]map[string]int{}, wrong: map[string]int{}}
	}
	return tl
}

// add judges a trial's result and returns its wrong verdicts.
func (tl *tally) add(tr trial, res result) []string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.trials[tr.entry.String()]++
	var out []string
	for i, r := range []sideResult{res.server, res.client} {
		if !r.on {
			continue
		}
		side := [2]pulse.Side{pulse.SideServer, pulse.SideClient}[i]
		reason, wrong := judge(r)
		st := &tl.sides[i]
		st.judged++
		want := r.truth.reason.String()
		if st.matrix[want] == nil {
			st.matrix[want] = map[string]int{}
		}
		st.matrix[want][reason]++
		for _, k := range kinds {
			if w, ok := wrong[k]; ok {
				st.wrong[k]++
				out = append(out, fmt.Sprintf("%s %s: %s", side, k, w))
			}
		}
		if len(wrong) > 0 {
			out = append(out, fmt.Sprintf("%s recorded: %s", side, r.obs))
		}
	}
	return out
}

func (tl *tally) String() string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var b strings.Builder
	var entries []string
	for e := range tl.trials {
		entries = append(entries, e)
	}
	sort.Strings(entries)
	b.WriteString("trials by kind:")
	for _, e := range entries {
		fmt.Fprintf(&b, " %s=%d", e, tl.trials[e])
	}
	b.WriteString("\n")
	for i, st := range tl.sides {
		side := [2]string{"server", "client"}[i]
		fmt.Fprintf(&b, "%s (%d judged): close reason, truth (rows) by verdict (columns)\n", side, st.judged)
		cols := map[string]bool{}
		var rows []string
		for want, got := range st.matrix {
			rows = append(rows, want)
			for r := range got {
				cols[r] = true
			}
		}
		sort.Strings(rows)
		var cs []string
		for c := range cols {
			cs = append(cs, c)
		}
		sort.Strings(cs)
		fmt.Fprintf(&b, "  %-20s", "")
		for _, c := range cs {
			fmt.Fprintf(&b, " %20s", c)
		}
		b.WriteString("\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "  %-20s", r)
			for _, c := range cs {
				fmt.Fprintf(&b, " %20d", st.matrix[r][c])
			}
			b.WriteString("\n")
		}
		b.WriteString("  wrong:")
		for _, k := range kinds {
			fmt.Fprintf(&b, " %s=%d", k, st.wrong[k])
		}
		b.WriteString("\n")
	}
	return b.String()
}
