package chaos

import (
	"context"
	"flag"
	"fmt"
	"regexp"
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
	kindFlag     = flag.String("chaos.kind", "", "run only the plan's trials whose kind (server-client-fault) matches this regular expression")
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
	if *kindFlag != "" {
		re := regexp.MustCompile(*kindFlag)
		indices = slices.DeleteFunc(indices, func(i int) bool { return !re.MatchString(plan(*seedFlag, i).entry.String()) })
	}
	par := *parallelFlag
	if par <= 0 {
		// Trials spend most of their time waiting for timers and peers.
		par = 4 * runtime.GOMAXPROCS(0)
	}
	need := map[impl]bool{}
	for _, i := range indices {
		tr := plan(*seedFlag, i)
		need[tr.server], need[tr.client] = true, true
	}
	pr := findPeers(t, need)
	tl := newTally()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range par {
		wg.Go(func() {
			for i := range jobs {
				tr := plan(*seedFlag, i)
				t.Run(fmt.Sprintf("%04d-%s", i, tr.entry), func(t *testing.T) {
					for _, im := range []impl{tr.server, tr.client} {
						if !pr.have(im) {
							tl.skip(tr)
							t.Skipf("the %s peer is not available (see TestChaos/peers/%s)", im, im)
						}
					}
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
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s\nreproduce: go test ./internal/chaos -run TestChaos -chaos.seed=%d -chaos.trial=%d", tr, tr.seed, tr.index)
		}
	})
	switch {
	case tr.client == implRaw:
		return runRaw(t, tr)
	case isForeign(tr.server):
		return runForeignServer(t, tr)
	case isForeign(tr.client):
		return runForeignClient(t, tr)
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
	if lo, hi := tr.inflight(); (c.active && hi == 0) || (!c.active && lo > 0) {
		wrong["active_rpcs"] = fmt.Sprintf("active_rpcs %v, want %v", c.active, !c.active)
	}
	want := 0
	if tr.failing {
		want = len(tr.cut)
	}
	var n int64
	ok := true
	for _, f := range o.failures {
		n += f.n
		ok = ok && f.reason == tr.reason.String() && slices.Contains(tr.codes, f.code)
	}
	if !ok || n != int64(want) {
		wrong["failures"] = fmt.Sprintf("transport failures %v, want %d with reason %s and a code in %v", o.failures, want, tr.reason, tr.codes)
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
	case tr.diagnosis:
		d := o.diags[0]
		if lo, hi := tr.inflight(); d.Reason != tr.reason || d.CutRPCs < lo || d.CutRPCs > hi {
			want := fmt.Sprint(lo)
			if hi > lo {
				want = fmt.Sprintf("%d to %d", lo, hi)
			}
			wrong["diagnosis"] = fmt.Sprintf("diagnosis %s cut %d, want %s cut %s", d.Reason, d.CutRPCs, tr.reason, want)
		}
	}
	return reason, wrong
}

// kinds are the kinds of wrong verdict, in the order the tally prints them.
var kinds = []string{"closes", "reason", "initiator", "active_rpcs", "failures", "cause", "diagnosis"}

// tally is the confusion matrix of each side, truth by verdict for the
// close reason, and the count of every other kind of wrong verdict.
type tally struct {
	mu      sync.Mutex
	trials  map[string]int // by entry
	skipped map[string]int // by entry: a peer was not available
	sides   [2]sideTally   // server, client
}

type sideTally struct {
	judged int
	matrix map[string]map[string]int // true reason -> recorded reason -> trials
	wrong  map[string]int            // kind -> trials
	// ranged counts, by the active_rpcs recorded, the trials whose truth
	// allows a range of RPCs in flight at the end (a foreign server's
	// resets racing its close).
	ranged map[bool]int
}

func newTally() *tally {
	tl := &tally{trials: map[string]int{}, skipped: map[string]int{}}
	for i := range tl.sides {
		tl.sides[i] = sideTally{matrix: map[string]map[string]int{}, wrong: map[string]int{}, ranged: map[bool]int{}}
	}
	return tl
}

// skip counts a trial that could not run.
func (tl *tally) skip(tr trial) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.skipped[tr.entry.String()]++
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
		if lo, hi := r.truth.inflight(); lo != hi && len(r.obs.closes) == 1 {
			st.ranged[r.obs.closes[0].active]++
		}
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
	if len(tl.skipped) > 0 {
		var sk []string
		for e, n := range tl.skipped {
			sk = append(sk, fmt.Sprintf("%s=%d", e, n))
		}
		sort.Strings(sk)
		b.WriteString("skipped (peer not available): " + strings.Join(sk, " ") + "\n")
	}
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
		if n := st.ranged[true] + st.ranged[false]; n > 0 {
			fmt.Fprintf(&b, "  trials whose truth allowed a range of RPCs in flight at the end: %d, recorded active_rpcs=true in %d\n",
				n, st.ranged[true])
		}
	}
	return b.String()
}
