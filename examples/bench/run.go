package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// params are the suite's flags.
type params struct {
	rounds       int
	duration     time.Duration
	warmup       time.Duration
	conns        int
	callers      int
	workers      int
	stream16Msgs uint64
	stream1KMsgs uint64
	workloads    []string
	configs      []string
	json         bool
	profileDir   string
	out          string
	turns        int
	args         []string // as given, for the command line in the report
}

func parseParams(args []string, stderr io.Writer) (params, error) {
	p := params{args: args}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&p.rounds, "rounds", 5, "rounds; every configuration is measured once per round, and the median is reported")
	fs.DurationVar(&p.duration, "duration", 3*time.Second, "measured time of each configuration per round in the unary, churn and bulk-copy workloads, split into -turns windows")
	fs.IntVar(&p.turns, "turns", 10, "windows of each configuration per round in the loaded workloads, measured in turns with the other configurations")
	fs.DurationVar(&p.warmup, "warmup", time.Second, "load run before each window of the unary, churn and bulk-copy workloads")
	fs.IntVar(&p.conns, "conns", 2000, "connections held open by the idle workload")
	fs.IntVar(&p.callers, "callers", 32, "concurrent callers on one connection in the unary workload")
	fs.IntVar(&p.workers, "workers", 50, "concurrent dial-Check-Close workers in the churn workload")
	fs.Uint64Var(&p.stream16Msgs, "stream16-msgs", 1_000_000, "16-byte messages in each measured stream")
	fs.Uint64Var(&p.stream1KMsgs, "stream1k-msgs", 300_000, "1 KiB messages in each measured stream")
	workloads := fs.String("workloads", strings.Join(allWorkloads, ","), "workloads to run, comma-separated")
	configs := fs.String("configs", strings.Join(defaultConfigs, ","), "configurations to compare, comma-separated (also: "+cfgPolicy+", the bundles' keepalive policy alone; "+cfgNoSpans+", the bundles without connection spans)")
	fs.BoolVar(&p.json, "json", false, "write the results as JSON instead of a Markdown table")
	fs.StringVar(&p.out, "o", "", "write the Markdown table into this file (docs/performance.md), between its "+tableBegin+" and "+tableEnd+" lines, instead of to stdout")
	fs.StringVar(&p.profileDir, "profile", "", "write CPU and allocation profiles of each configuration's last window of every round, per side, into this directory")
	quick := fs.Bool("quick", false, "a validation run in under 2 minutes: one round, short windows, fewer connections and messages (flags given explicitly still apply)")
	if err := fs.Parse(args); err != nil {
		return p, err
	}
	if fs.NArg() > 0 {
		return p, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]string{
			"rounds": "3", "duration": "600ms", "turns": "3", "warmup": "200ms", "conns": "500",
			"stream16-msgs": "100000", "stream1k-msgs": "30000",
		} {
			if !set[name] {
				_ = fs.Set(name, v)
			}
		}
	}
	var err error
	if p.workloads, err = pick("workload", *workloads, allWorkloads); err != nil {
		return p, err
	}
	if p.configs, err = pick("configuration", *configs, allConfigs); err != nil {
		return p, err
	}
	switch {
	case p.rounds < 1:
		return p, errors.New("-rounds must be at least 1")
	case p.turns < 1:
		return p, errors.New("-turns must be at least 1")
	case p.duration <= 0:
		return p, errors.New("-duration must be positive")
	case p.warmup < 0:
		return p, errors.New("-warmup must not be negative")
	case p.conns < 1 || p.callers < 1 || p.workers < 1 || p.stream16Msgs < 1 || p.stream1KMsgs < 1:
		return p, errors.New("-conns, -callers, -workers and the message counts must be at least 1")
	}
	return p, nil
}

// pick splits a comma-separated list and checks it against all, keeping the
// order of all.
func pick(what, list string, all []string) ([]string, error) {
	var got []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(all, s) {
			return nil, fmt.Errorf("unknown %s %q (known: %s)", what, s, strings.Join(all, ", "))
		}
		got = append(got, s)
	}
	if len(got) == 0 {
		return nil, fmt.Errorf("no %s selected", what)
	}
	return slices.DeleteFunc(slices.Clone(all), func(s string) bool { return !slices.Contains(got, s) }), nil
}

// run runs the suite and writes the report to stdout, progress to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	p, err := parseParams(args, stderr)
	if err != nil {
		return err
	}
	res := newResults(p)
	start := time.Now()
	for round := range p.rounds {
		for _, wl := range p.workloads {
			if err := ctx.Err(); err != nil {
				return err
			}
			var ms map[string]map[string]float64
			var err error
			switch wl {
			case wlIdle:
				ms, err = measureIdle(ctx, p, round)
			default:
				ms, err = measureInterleaved(ctx, p, wl, round)
			}
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round+1, wl, err)
			}
			for _, cfg := range p.configs {
				if m, ok := ms[cfg]; ok {
					res.add(wl, cfg, m)
					fmt.Fprintf(stderr, "round %d/%d  %-9s %-9s %s  (%s elapsed)\n", round+1, p.rounds, wl, cfg,
						res.brief(wl, m), time.Since(start).Round(time.Second))
				}
			}
		}
	}
	if p.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res.jsonReport())
	}
	if p.out != "" {
		return replaceTable(p.out, res.markdown())
	}
	_, err = io.WriteString(stdout, res.markdown())
	return err
}

// The lines between which -o writes the table, leaving the rest of the file,
// the analysis written from the table, as it is.
const (
	tableBegin = "<!-- bench table: begin -->"
	tableEnd   = "<!-- bench table: end -->"
)

// replaceTable writes table into file between the tableBegin and tableEnd
// lines.
func replaceTable(file, table string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	doc := string(b)
	i, j := strings.Index(doc, tableBegin+"\n"), strings.Index(doc, tableEnd)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %q line followed by a %q line to write the table between", file, tableBegin, tableEnd)
	}
	doc = doc[:i+len(tableBegin)+1] + "\n" + strings.TrimSpace(table) + "\n\n" + doc[j:]
	return os.WriteFile(file, []byte(doc), 0o644)
}

// measures reports whether workload wl measures configuration cfg. The bulk
// copy measures bare TCP for bare and the frame observer for grpcpulse: the
// others wrap their conns exactly as one of those two does. perdial differs
// from grpcpulse only in how its client builds its options for each
// connection it dials, so it is measured where clients dial more than once:
// the idle connections and churn.
func measures(wl, cfg string) bool {
	switch {
	case wl == wlBulk:
		return cfg == cfgBare || cfg == cfgGRPCPulse
	case cfg == cfgPerDial:
		return wl == wlIdle || wl == wlChurn
	}
	return true
}

// turnOrder returns the order of the configurations in turn k of round:
// rotated every round and reversed every other turn (ABC CBA BCA ACB ...), so
// that none always goes first or follows the same one.
//
// Each round of a loaded workload measures every configuration in p.turns
// windows, taking turns. Throughput on a shared 2-core machine moves by
// several percent within seconds, so configurations are measured in short
// turns, in processes started together, rather than one after the other:
// drift then falls on all of them alike.
func turnOrder(n, round, k int) []int {
	order := make([]int, n)
	for i := range n {
		order[i] = (i + round) % n
	}
	if k%2 == 1 {
		slices.Reverse(order)
	}
	return order
}

// limitOf is how long the suite waits for a child's answer: generous, so
// that a child that hangs is killed, never waited for forever.
func limitOf(p params) time.Duration { return 3*time.Minute + 2*(p.duration+p.warmup) }

// pair is the processes of one configuration: its server and its client,
// or for the bulk copy, which has no server, the copy alone (as cli).
type pair struct {
	cfg      string
	srv, cli *proc
}

// startPair starts the processes of one configuration and waits until the
// loading one is ready: connected, warmed up and, for the unary, churn and
// bulk-copy loads, paused until its first window.
func startPair(ctx context.Context, p params, wl, cfg string, round int, msgs uint64) (*pair, error) {
	limit := limitOf(p)
	common := []string{"-config=" + cfg, "-workload=" + wl}
	profile := func(side string) []string {
		if p.profileDir == "" {
			return nil
		}
		return []string{"-profile=" + filepath.Join(p.profileDir, fmt.Sprintf("%s-%s-%s-r%d", wl, cfg, side, round+1))}
	}
	if wl == wlBulk {
		b, err := startProc(ctx, cfg+" bulk copy", append(append([]string{"-role=bulk", "-warmup=" + p.warmup.String()}, common...), profile("bulk")...)...)
		if err != nil {
			return nil, err
		}
		if _, err := b.expect("ready", limit); err != nil {
			b.close()
			return nil, err
		}
		return &pair{cfg: cfg, cli: b}, nil
	}
	srv, err := startProc(ctx, cfg+" server", append(append([]string{"-role=server"}, common...), profile("server")...)...)
	if err != nil {
		return nil, err
	}
	addr, err := srv.expect("addr", limit)
	if err != nil {
		srv.close()
		return nil, err
	}
	cargs := append([]string{"-role=client", "-addr=" + addr}, common...)
	switch wl {
	case wlIdle:
		cargs = append(cargs, "-conns="+strconv.Itoa(p.conns))
	case wlUnary:
		cargs = append(cargs, "-callers="+strconv.Itoa(p.callers), "-warmup="+p.warmup.String())
	case wlChurn:
		cargs = append(cargs, "-workers="+strconv.Itoa(p.workers), "-warmup="+p.warmup.String())
	case wlStream16:
		cargs = append(cargs, "-size=16", "-msgs="+strconv.FormatUint(msgs, 10))
	case wlStream1K:
		cargs = append(cargs, "-size=1024", "-msgs="+strconv.FormatUint(msgs, 10))
	}
	cli, err := startProc(ctx, cfg+" client", append(cargs, profile("client")...)...)
	if err != nil {
		srv.close()
		return nil, err
	}
	if _, err := cli.expect("ready", limit); err != nil {
		cli.close()
		srv.close()
		return nil, err
	}
	return &pair{cfg: cfg, srv: srv, cli: cli}, nil
}

// window measures one window of the pair's workload: a stream (the client's
// window is its stream, from request to last message; the server's encloses
// it), or d of the running load.
func (pr *pair) window(ctx context.Context, p params, wl string, d time.Duration) (sr, cr result, err error) {
	limit := limitOf(p)
	switch wl {
	case wlStream16, wlStream1K:
		if err := pr.srv.start(limit); err != nil {
			return sr, cr, err
		}
		if err := pr.cli.start(limit); err != nil {
			return sr, cr, err
		}
		if cr, err = pr.cli.result(limit); err != nil {
			return sr, cr, err
		}
		if err := pr.srv.send("stop"); err != nil {
			return sr, cr, err
		}
		sr, err = pr.srv.result(limit)
		return sr, cr, err
	case wlBulk:
		rs, err := windows(ctx, d, limit, pr.cli)
		if err != nil {
			return sr, cr, err
		}
		return rs[0], rs[0], nil
	}
	rs, err := windows(ctx, d, limit, pr.srv, pr.cli)
	if err != nil {
		return sr, cr, err
	}
	return rs[0], rs[1], nil
}

// close ends the client first, so that the server sees ordinary client
// closes, and reports a child that did not end cleanly.
func (pr *pair) close() error {
	err := pr.cli.close()
	if pr.srv != nil {
		err = errors.Join(err, pr.srv.close())
	}
	return err
}

// measureIdle opens the idle connections of each configuration in turn, each
// pair alone on the machine, and returns their memory.
func measureIdle(ctx context.Context, p params, round int) (map[string]map[string]float64, error) {
	out := make(map[string]map[string]float64, len(p.configs))
	for _, i := range turnOrder(len(p.configs), round, 0) {
		cfg := p.configs[i]
		if !measures(wlIdle, cfg) {
			continue
		}
		m, err := measureIdleOne(ctx, p, cfg, round)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfg, err)
		}
		out[cfg] = m
	}
	return out, nil
}

// measureIdleOne measures the idle connections of one configuration. Its
// deadline kills children that hang, never waited for forever.
func measureIdleOne(ctx context.Context, p params, cfg string, round int) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, limitOf(p)+time.Minute)
	defer cancel()
	pr, err := startPair(ctx, p, wlIdle, cfg, round, 0)
	if err != nil {
		return nil, err
	}
	sr, cr, err := pr.window(ctx, p, wlIdle, 0)
	if cerr := pr.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return metricsOf(wlIdle, p, sr, cr)
}

// measureInterleaved runs a loaded workload (unary, churn, a stream or the
// bulk copy) in every configuration that has it at once, each in processes
// of its own, and measures them in turns: p.turns windows of each, of
// duration/turns, or for a stream of a turns-th of its messages. Each
// configuration's metrics are over all of its windows. The round's deadline
// kills children that hang, never waited for forever.
func measureInterleaved(ctx context.Context, p params, wl string, round int) (map[string]map[string]float64, error) {
	cfgs := slices.DeleteFunc(slices.Clone(p.configs), func(cfg string) bool { return !measures(wl, cfg) })
	ctx, cancel := context.WithTimeout(ctx, time.Duration(len(cfgs))*limitOf(p)+time.Minute)
	defer cancel()
	var msgs uint64
	switch wl {
	case wlStream16:
		msgs = max(p.stream16Msgs/uint64(p.turns), 1)
	case wlStream1K:
		msgs = max(p.stream1KMsgs/uint64(p.turns), 1)
	}
	pairs := make([]*pair, len(cfgs))
	defer func() {
		for _, pr := range pairs {
			if pr != nil {
				pr.close()
			}
		}
	}()
	// One at a time: each warms up alone, then pauses.
	for _, i := range turnOrder(len(cfgs), round, 0) {
		pr, err := startPair(ctx, p, wl, cfgs[i], round, msgs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfgs[i], err)
		}
		pairs[i] = pr
	}
	srvSum := make([]result, len(pairs))
	cliSum := make([]result, len(pairs))
	d := max(p.duration/time.Duration(p.turns), time.Millisecond)
	for k := range p.turns {
		for _, i := range turnOrder(len(pairs), round, k) {
			sr, cr, err := pairs[i].window(ctx, p, wl, d)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", pairs[i].cfg, err)
			}
			srvSum[i].add(sr)
			cliSum[i].add(cr)
		}
	}
	out := make(map[string]map[string]float64, len(pairs))
	for i, pr := range pairs {
		err := pr.close()
		pairs[i] = nil
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pr.cfg, err)
		}
		if out[pr.cfg], err = metricsOf(wl, p, srvSum[i], cliSum[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", pr.cfg, err)
		}
	}
	return out, nil
}

// windows opens a measurement window on every proc, waits d, closes them all
// and returns their results in order.
func windows(ctx context.Context, d, limit time.Duration, ps ...*proc) ([]result, error) {
	for _, p := range ps {
		if err := p.start(limit); err != nil {
			return nil, err
		}
	}
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	for _, p := range ps {
		if err := p.send("stop"); err != nil {
			return nil, err
		}
	}
	rs := make([]result, len(ps))
	for i, p := range ps {
		var err error
		if rs[i], err = p.result(limit); err != nil {
			return nil, err
		}
	}
	return rs, nil
}
