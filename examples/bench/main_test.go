package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain runs a child's code when the suite starts this test binary as one
// of its children.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(childMain(os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}

// tiny makes a run that checks behaviour, not speed.
var tiny = []string{
	"-duration=100ms", "-warmup=50ms", "-conns=10", "-callers=4", "-workers=4",
	"-stream16-msgs=2000", "-stream1k-msgs=500",
}

func runSuite(t *testing.T, ctx context.Context, args ...string) (string, error) {
	t.Helper()
	var out, progress bytes.Buffer
	err := run(ctx, append(slices.Clone(tiny), args...), &out, &progress)
	t.Logf("progress:\n%s", progress.String())
	assertNoChildren(t)
	return out.String(), err
}

// TestTable runs every workload in every configuration once and checks that
// the table has a number for each.
func TestTable(t *testing.T) {
	out, err := runSuite(t, context.Background(), "-rounds=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out)
	if !strings.Contains(out, "go run ./examples/bench -duration=100ms") {
		t.Error("the report does not give the command")
	}
	var header []string
	rows := map[string][]string{} // metric name → cells
	workload := ""
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| ---") {
			continue
		}
		cells := strings.Split(line, "|")
		cells = cells[1 : len(cells)-1]
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if header == nil {
			header = cells
			continue
		}
		if cells[0] != "" {
			workload = cells[0]
		}
		rows[workload+": "+cells[1]] = cells
	}
	wantHeader := append([]string{"workload", "metric", "unit"}, defaultConfigs...)
	wantHeader = append(wantHeader, "grpcpulse ÷ bare", "grpcpulse ÷ noop", "grpcpulse ÷ floor", "grpcpulse ÷ otelgrpc", "both ÷ otelgrpc", "noopotel ÷ floor", "perdial ÷ grpcpulse")
	if !slices.Equal(header, wantHeader) {
		t.Fatalf("header %q, want %q", header, wantHeader)
	}
	defs := metricDefs(params{callers: 4, workers: 4})
	if len(rows) != len(defs) {
		t.Errorf("%d rows, want %d", len(rows), len(defs))
	}
	seen := map[string]bool{}
	for _, d := range defs {
		seen[d.workload] = true
		cells, ok := rows[workloadNames[d.workload]+": "+d.name]
		if !ok {
			t.Errorf("no row for %s %q", d.workload, d.name)
			continue
		}
		for i, cell := range cells[3:] {
			col := header[3+i]
			measured := true
			for _, cfg := range strings.Split(col, " ÷ ") {
				measured = measured && measures(d.workload, cfg)
			}
			if !measured {
				if cell != "—" {
					t.Errorf("%s %s, %s: %q, want — (not measured)", d.workload, d.name, col, cell)
				}
				continue
			}
			if _, err := strconv.ParseFloat(strings.NewReplacer(",", "", "×", "").Replace(cell), 64); err != nil {
				t.Errorf("%s %s, %s: %q is not a number", d.workload, d.name, col, cell)
			}
		}
	}
	for _, wl := range allWorkloads {
		if !seen[wl] {
			t.Errorf("workload %s has no row", wl)
		}
	}
}

// TestJSON runs a few configurations and workloads over several rounds and
// checks the JSON report.
func TestJSON(t *testing.T) {
	out, err := runSuite(t, context.Background(), "-rounds=3", "-json", "-workloads=unary,bulkcopy", "-configs=grpcpulse,bare")
	if err != nil {
		t.Fatal(err)
	}
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !slices.Equal(rep.Configs, []string{cfgBare, cfgGRPCPulse}) || !slices.Equal(rep.Workloads, []string{wlUnary, wlBulk}) {
		t.Errorf("configs %q, workloads %q", rep.Configs, rep.Workloads)
	}
	keys := map[string]bool{}
	for _, m := range rep.Metrics {
		keys[m.Key] = true
		if m.Workload != wlUnary && m.Workload != wlBulk {
			t.Errorf("metric %s of a workload not asked for", m.Key)
		}
		for _, cfg := range rep.Configs {
			if n := len(m.Samples[cfg]); n != 3 {
				t.Errorf("%s %s: %d samples, want 3", m.Key, cfg, n)
			}
			if m.Median[cfg] == nil {
				t.Errorf("%s %s: no median", m.Key, cfg)
			}
		}
		if r := m.Ratios["grpcpulse/bare"]; r == nil || *r <= 0 {
			t.Errorf("%s: ratio grpcpulse/bare %v", m.Key, r)
		}
	}
	for _, k := range []string{"unary.rate", "unary.allocs_per_rpc.server", "unary.allocs_per_rpc.client", "bulkcopy.rate"} {
		if !keys[k] {
			t.Errorf("no metric %s", k)
		}
	}
}

// TestCancel stops a run in the middle of a measurement: run returns, and
// no child is left running.
func TestCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := runSuite(t, ctx, "-workloads=unary", "-duration=1m")
	if err == nil {
		t.Fatal("a cancelled run succeeded")
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("run returned %v after it was cancelled", d)
	}
}

func TestParams(t *testing.T) {
	for _, args := range [][]string{
		{"-workloads=nope"}, {"-configs=bare,nope"}, {"-rounds=0"}, {"-duration=0s"}, {"-turns=0"}, {"extra"},
	} {
		if _, err := parseParams(args, new(bytes.Buffer)); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	p, err := parseParams([]string{"-quick", "-conns=7", "-configs=otelgrpc,bare"}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if p.rounds != 3 || p.conns != 7 || !slices.Equal(p.configs, []string{cfgBare, cfgOtelGRPC}) {
		t.Errorf("-quick with explicit flags: rounds %d, conns %d, configs %q", p.rounds, p.conns, p.configs)
	}
}

func TestFormat(t *testing.T) {
	for v, want := range map[float64]string{1234567.4: "1,234,567", 999.6: "1,000", 123.4: "123", 12.34: "12.3", 1.234: "1.23", -4321: "-4,321"} {
		if got := format(v); got != want {
			t.Errorf("format(%v) = %q, want %q", v, got, want)
		}
	}
	if got := median([]float64{5, 1, 3, 2}); got != 2.5 {
		t.Errorf("median = %v, want 2.5", got)
	}
}

// assertNoChildren fails if this process still has a child process.
func assertNoChildren(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip(err)
	}
	me := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after
		// its closing parenthesis.
		s := string(stat)
		if f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]); len(f) > 1 && f[1] == me {
			t.Errorf("child process %s is still running: %s", e.Name(), s)
		}
	}
}

// -o writes the table between its markers and leaves the analysis around
// it as written; a file without the markers is refused, untouched.
func TestReplaceTable(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "performance.md")
	doc := "# Performance\n\nintro\n\n" + tableBegin + "\n\nold table\n\n" + tableEnd + "\n\nanalysis\n"
	if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := replaceTable(f, "| new | table |\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f)
	want := "# Performance\n\nintro\n\n" + tableBegin + "\n\n| new | table |\n\n" + tableEnd + "\n\nanalysis\n"
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
	bare := filepath.Join(dir, "bare.md")
	if err := os.WriteFile(bare, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := replaceTable(bare, "x"); err == nil || !strings.Contains(err.Error(), tableBegin) {
		t.Errorf("replaceTable without markers = %v, want an error naming them", err)
	}
	if b, _ := os.ReadFile(bare); string(b) != "no markers\n" {
		t.Errorf("the file without markers was changed: %q", b)
	}
}
