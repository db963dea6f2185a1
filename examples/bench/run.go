package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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
	args         []string // as given, for the command line in the report
}

func parseParams(args []string, stderr io.Writer) (params, error) {
	p := params{args: args}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&p.rounds, "rounds", 5, "rounds; every configuration is measured once per round, and the median is reported")
	fs.DurationVar(&p.duration, "duration", 3*time.Second, "measurement window of the unary, churn and bulk-copy workloads")
	fs.DurationVar(&p.warmup, "warmup", time.Second, "load run before each window of the unary, churn and bulk-copy workloads")
	fs.IntVar(&p.conns, "conns", 2000, "connections held open by the idle workload")
	fs.IntVar(&p.callers, "callers", 32, "concurrent callers on one connection in the unary workload")
	fs.IntVar(&p.workers, "workers", 50, "concurrent dial-Check-Close workers in the churn workload")
	fs.Uint64Var(&p.stream16Msgs, "stream16-msgs", 1_000_000, "16-byte messages in each measured stream")
	fs.Uint64Var(&p.stream1KMsgs, "stream1k-msgs", 300_000, "1 KiB messages in each measured stream")
	workloads := fs.String("workloads", strings.Join(allWorkloads, ","), "workloads to run, comma-separated")
	configs := fs.String("configs", strings.Join(defaultConfigs, ","), "configurations to compare, comma-separated (also: "+cfgNoSpans+", the bundles without connection spans)")
	fs.BoolVar(&p.json, "json", false, "write the results as JSON instead of a Markdown table")
	fs.StringVar(&p.profileDir, "profile", "", "write CPU and allocation profiles of every measurement window, per side, into this directory")
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
			"rounds": "3", "duration": "500ms", "warmup": "200ms", "conns": "500",
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
			// Rotate the order every round, so that no configuration
			// always runs first or right after another workload.
			if wl == wlBulk {
				ms, err := measureBulk(ctx, p, round)
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
				continue
			}
			n := len(p.configs)
			for i := range n {
				cfg := p.configs[(i+round)%n]
				if err := ctx.Err(); err != nil {
					return err
				}
				m, err := measure(ctx, p, wl, cfg, round)
				if err != nil {
					return fmt.Errorf("round %d, %s, %s: %w", round+1, wl, cfg, err)
				}
				res.add(wl, cfg, m)
				fmt.Fprintf(stderr, "round %d/%d  %-9s %-9s %s  (%s elapsed)\n", round+1, p.rounds, wl, cfg,
					res.brief(wl, m), time.Since(start).Round(time.Second))
			}
		}
	}
	if p.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res.jsonReport())
	}
	_, err = io.WriteString(stdout, res.markdown())
	return err
}

// hasBulkVariant reports whether configuration cfg is measured by the bulk
// copy: bare TCP for bare, the frame observer for grpcpulse. The others wrap
// their conns exactly as one of those two does.
func hasBulkVariant(cfg string) bool { return cfg == cfgBare || cfg == cfgGRPCPulse }

// measure runs one workload in one configuration once and returns its
// metrics.
func measure(ctx context.Context, p params, wl, cfg string, round int) (map[string]float64, error) {
	// Generous limits: a child that hangs is killed, never waited for
	// forever.
	limit := 3*time.Minute + 2*(p.duration+p.warmup)
	ctx, cancel := context.WithTimeout(ctx, limit+time.Minute)
	defer cancel()
	common := []string{"-config=" + cfg, "-workload=" + wl}
	profile := func(side string) []string {
		if p.profileDir == "" {
			return nil
		}
		return []string{"-profile=" + filepath.Join(p.profileDir, fmt.Sprintf("%s-%s-%s-r%d", wl, cfg, side, round+1))}
	}

	srv, err := startProc(ctx, "server", append(append([]string{"-role=server"}, common...), profile("server")...)...)
	if err != nil {
		return nil, err
	}
	defer srv.close()
	addr, err := srv.expect("addr", limit)
	if err != nil {
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
		cargs = append(cargs, "-size=16", "-msgs="+strconv.FormatUint(p.stream16Msgs, 10))
	case wlStream1K:
		cargs = append(cargs, "-size=1024", "-msgs="+strconv.FormatUint(p.stream1KMsgs, 10))
	}
	cli, err := startProc(ctx, "client", append(cargs, profile("client")...)...)
	if err != nil {
		return nil, err
	}
	defer cli.close()
	if _, err := cli.expect("ready", limit); err != nil {
		return nil, err
	}

	var sr, cr result
	switch wl {
	case wlStream16, wlStream1K:
		// The client's window is its stream, from request to last
		// message; the server's encloses it.
		if err := srv.start(limit); err != nil {
			return nil, err
		}
		if err := cli.start(limit); err != nil {
			return nil, err
		}
		if cr, err = cli.result(limit); err != nil {
			return nil, err
		}
		if err := srv.send("stop"); err != nil {
			return nil, err
		}
		if sr, err = srv.result(limit); err != nil {
			return nil, err
		}
	case wlIdle:
		rs, err := windows(ctx, 0, limit, srv, cli)
		if err != nil {
			return nil, err
		}
		sr, cr = rs[0], rs[1]
	default:
		rs, err := windows(ctx, p.duration, limit, srv, cli)
		if err != nil {
			return nil, err
		}
		sr, cr = rs[0], rs[1]
	}
	// Close the client first, so that the server sees ordinary client
	// closes, and report a child that did not end cleanly.
	if err := cli.close(); err != nil {
		return nil, err
	}
	if err := srv.close(); err != nil {
		return nil, err
	}
	return metricsOf(wl, p, sr, cr)
}

// bulkSlices is how many windows of each bulk configuration a round
// alternates: the copy is a single connection's throughput, which moves by
// several percent within seconds on a shared machine, so the two are measured
// in short turns rather than one after the other.
const bulkSlices = 10

// measureBulk runs the bulk copy of every configuration that has a bulk
// variant, each in a process of its own, started together and measured in
// alternating windows (bulkSlices of each, in the order ABBA... so that
// neither always goes first), and returns each one's metrics over all of its
// windows.
func measureBulk(ctx context.Context, p params, round int) (map[string]map[string]float64, error) {
	var cfgs []string
	for _, cfg := range p.configs {
		if hasBulkVariant(cfg) {
			cfgs = append(cfgs, cfg)
		}
	}
	if len(cfgs) == 0 {
		return nil, nil
	}
	limit := 3*time.Minute + 2*(p.duration+p.warmup)
	ctx, cancel := context.WithTimeout(ctx, limit+time.Minute)
	defer cancel()
	procs := make([]*proc, len(cfgs))
	for i, cfg := range cfgs {
		args := []string{"-role=bulk", "-warmup=" + p.warmup.String(), "-config=" + cfg, "-workload=" + wlBulk}
		if p.profileDir != "" {
			args = append(args, "-profile="+filepath.Join(p.profileDir, fmt.Sprintf("%s-%s-bulk-r%d", wlBulk, cfg, round+1)))
		}
		b, err := startProc(ctx, "bulk copy "+cfg, args...)
		if err != nil {
			return nil, err
		}
		defer b.close()
		procs[i] = b
		// A child pauses after its warm-up: wait for that before the
		// next starts, so that no warm-up runs beside another copy.
		if _, err := b.expect("ready", limit); err != nil {
			return nil, err
		}
	}
	sums := make([]result, len(procs))
	slice := max(p.duration/bulkSlices, time.Millisecond)
	for k := range bulkSlices {
		for j := range procs {
			i := j
			if (k+round)%2 == 1 {
				i = len(procs) - 1 - j
			}
			rs, err := windows(ctx, slice, limit, procs[i])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", cfgs[i], err)
			}
			sums[i].add(rs[0])
		}
	}
	out := make(map[string]map[string]float64, len(cfgs))
	for i, cfg := range cfgs {
		m, err := metricsOf(wlBulk, p, sums[i], sums[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfg, err)
		}
		out[cfg] = m
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
