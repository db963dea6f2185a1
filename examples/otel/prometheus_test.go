package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grpcpulse/grpcpulse/examples/internal/healthload"
	"github.com/grpcpulse/grpcpulse/examples/operators"
	"github.com/grpcpulse/grpcpulse/internal/peers/foreign"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
)

// TestPrometheus runs the program with its default workload and the
// Prometheus exporter, as examples/otel/README.md's Prometheus line does,
// and a real Prometheus (Debian's prometheus binary) configured with
// examples/operators/README.md's configuration as it is written there
// (only the target's address is this run's). Traces go to an in-process
// OTLP collector: the grpc.transport spans are the truth the histograms are
// checked against. Then, until each returns data:
//
//   - every query of every panel of examples/operators/dashboard.json;
//   - every PromQL query of the READMEs;
//   - the recording rules, and the alert the example provokes on purpose
//     (GRPCRPCsCutByMaxConnectionAge: it cuts its Watch stream at max age).
//
// Every panel must return at least one sample that is a number (not NaN):
// the default workload makes each of them non-empty (max-age cuts for
// closes, failures, GOAWAYs and lifetimes; the standby's idle closes, and
// the server's pings of its connection for pings and RTT; the rules for the
// alerts panel). No panel is a deliberate empty in this run.
//
// The README's median lifetime query must then be within 25% of the true
// median of the lifetimes the program produced, for each close reason; and
// the Watch stream's cuts must come when the banner says (CutTimes).
func TestPrometheus(t *testing.T) {
	bin := foreign.Prometheus(t).Path
	dir := t.TempDir()
	exporterAddr := "127.0.0.1:" + freePort(t)
	promAddr := "127.0.0.1:" + freePort(t)
	spans := startCollector(t, "http/protobuf", false)
	t.Setenv("OTEL_METRICS_EXPORTER", "prometheus")
	host, port, _ := net.SplitHostPort(exporterAddr)
	t.Setenv("OTEL_EXPORTER_PROMETHEUS_HOST", host)
	t.Setenv("OTEL_EXPORTER_PROMETHEUS_PORT", port)

	// The default workload, as go run ./examples/otel runs it.
	var cfg healthload.Config
	fs := flag.NewFlagSet("otel", flag.ContinueOnError)
	cfg.RegisterFlags(fs, 0)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg.Duration = 10 * time.Minute // a ceiling: the test stops it sooner
	out := &strings.Builder{}
	clock := &lineClock{w: healthload.NewLockedWriter(out)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, clock, cfg) }()
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v\n%s", err, clock.w.String())
				}
			case <-time.After(patience):
				t.Error("run did not return after its context was cancelled")
			}
		})
	}
	defer stop()

	config := operatorsPrometheusConfig(t, dir, exporterAddr)
	prom := startPrometheus(t, bin, config, filepath.Join(dir, "data"), promAddr)

	deadline := time.Now().Add(2 * time.Minute)
	q := &prometheusAPI{base: "http://" + promAddr, hc: &http.Client{Timeout: 5 * time.Second}}
	defer q.hc.CloseIdleConnections()
	q.waitReady(t, deadline, prom)
	failf := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\n\nprogram output:\n%s\nprometheus:\n%s", append(args, clock.w.String(), prom.String())...)
	}

	dash, err := operators.ParseDashboard()
	if err != nil {
		t.Fatal(err)
	}
	type query struct{ what, expr string }
	var queries []query
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			queries = append(queries, query{fmt.Sprintf("panel %q (%s)", p.Title, tg.RefID), grafanaToPromQL(tg.Expr)})
		}
	}
	medianQuery := ""
	for _, e := range readmePromQL(t) {
		queries = append(queries, query{"README", e})
		if strings.HasPrefix(e, "histogram_quantile(0.5,") && strings.Contains(e, "grpc_transport_lifetime_seconds_bucket") {
			medianQuery = e
		}
	}
	if medianQuery == "" {
		t.Fatal("the READMEs have no median lifetime query (histogram_quantile(0.5, ... grpc_transport_lifetime_seconds_bucket ...))")
	}
	queries = append(queries,
		query{"recording rule", "grpcpulse:transport_closes:increase10m"},
		query{"recording rule", "grpcpulse:rpc_transport_failures:increase10m"},
		query{"recording rule", "grpcpulse:transport_connections:sum"},
		// 0, not empty: closes, but no keepalive timeout among them.
		query{"recording rule", "grpcpulse:transport_closes_keepalive_timeout:ratio10m == 0"},
		query{"alert", `ALERTS{alertname="GRPCRPCsCutByMaxConnectionAge", alertstate="firing", job="grpcpulse-example", rpc_method="grpc.health.v1.Health/Watch"}`},
	)

	for _, qu := range queries {
		for {
			res, err := q.query(qu.expr, time.Time{})
			if err == nil && numbers(res) > 0 {
				t.Logf("%s: %s\n  → %s", qu.what, qu.expr, summarize(res))
				break
			}
			if time.Now().After(deadline) {
				failf("%s: no data by the deadline: %s\n  error %v, result %s", qu.what, qu.expr, err, summarize(res))
			}
			time.Sleep(250 * time.Millisecond)
		}
	}

	// The median lifetime of the two reasons the workload produces, once
	// both have a rate: a series' first close counts once a second follows.
	reasons := []string{"max_connection_age", "max_connection_idle"}
	var (
		medians map[string]float64
		at      time.Time
	)
	for {
		at = time.Now()
		res, err := q.query(medianQuery, at)
		medians = map[string]float64{}
		for _, s := range res {
			if v := s.value(); !math.IsNaN(v) {
				medians[s.Metric["grpc_close_reason"]] = v
			}
		}
		if err == nil && len(medians) > 0 && !slices.ContainsFunc(reasons, func(r string) bool { _, ok := medians[r]; return !ok }) {
			break
		}
		if time.Now().After(deadline) {
			failf("%s: no median for each of %v by the deadline: error %v, result %s", medianQuery, reasons, err, summarize(res))
		}
		time.Sleep(250 * time.Millisecond)
	}
	stop() // the final export sends every span

	lifetimes := map[string][]float64{}
	for _, sp := range spans.allSpans() {
		if sp.scope != semconv.ScopeName || sp.GetName() != semconv.ConnSpanName || time.Unix(0, int64(sp.GetEndTimeUnixNano())).After(at) {
			continue
		}
		for _, kv := range sp.GetAttributes() {
			if kv.GetKey() == string(semconv.CloseReason) {
				r := kv.GetValue().GetStringValue()
				lifetimes[r] = append(lifetimes[r], float64(sp.GetEndTimeUnixNano()-sp.GetStartTimeUnixNano())/1e9)
			}
		}
	}
	for _, r := range reasons {
		truth := median(lifetimes[r])
		got := medians[r]
		t.Logf("median lifetime of %s closes: Prometheus %.3gs, true %.3gs (%d closes, both sides), off by %.1f%%",
			r, got, truth, len(lifetimes[r]), 100*math.Abs(got-truth)/truth)
		if len(lifetimes[r]) == 0 || math.Abs(got-truth) > 0.25*truth {
			t.Errorf("%s: %s = %.3gs, but the true median of the %d %s lifetimes the program produced is %.3gs: off by more than 25%%\n%v",
				medianQuery, r, got, len(lifetimes[r]), r, truth, lifetimes[r])
		}
	}

	// The cuts, against the banner: the first after at least the age, the
	// grace and grpc-go's close delay, the next ones about an age apart,
	// well short of age plus grace. The lower bounds are timers, which
	// never fire early; the upper ones leave seconds for a busy machine.
	first, every, regular := cfg.CutTimes()
	banner, cuts := clock.times()
	if !regular || len(cuts) < 2 {
		failf("want two cuts at least, on the regular schedule (%v); saw %d", regular, len(cuts))
	}
	const late = 3 * time.Second
	if d := cuts[0].Sub(banner); d < first[0] || d > first[1]+late {
		t.Errorf("the first cut came %v after the banner; it says %v-%v", d, first[0], first[1])
	}
	for i := 1; i < len(cuts); i++ {
		// A cut is seen when the client reads its end; the slack covers
		// that delay on the previous one.
		if d := cuts[i].Sub(cuts[i-1]); d < every[0]-250*time.Millisecond || d > min(every[1]+late, cfg.MaxAge+cfg.Grace) {
			t.Errorf("cut %d came %v after cut %d; the banner says every %v-%v", i+1, d, i, every[0], every[1])
		}
	}
	t.Logf("cuts after the banner: %v (the banner: first %v-%v, then every %v-%v)", sinceEach(banner, cuts), first[0], first[1], every[0], every[1])
}

// operatorsPrometheusConfig writes the Prometheus configuration of
// examples/operators/README.md into dir as prometheus.yml, with its target
// replaced by target and the rules it names where it names them (relative
// to the configuration file, as in the repository root), and returns its
// path.
func operatorsPrometheusConfig(t *testing.T, dir, target string) string {
	t.Helper()
	b, err := os.ReadFile("../operators/README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("examples/operators/README.md has no yaml block (the Prometheus configuration)")
	}
	yml := string(m[1])
	for _, want := range []string{"scrape_interval:", "evaluation_interval:", `targets: ["localhost:9464"]`, "rule_files: [examples/operators/rules.yml]"} {
		if !strings.Contains(yml, want) {
			t.Fatalf("examples/operators/README.md's Prometheus configuration lacks %q:\n%s", want, yml)
		}
	}
	yml = strings.Replace(yml, "localhost:9464", target, 1)
	rules := filepath.Join(dir, "examples", "operators", "rules.yml")
	if err := os.MkdirAll(filepath.Dir(rules), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rules, operators.Rules, 0o644); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return config
}

// lineClock passes the program's output on to w and notes when the banner
// and each cut of the Watch stream were written.
type lineClock struct {
	w *healthload.LockedWriter

	mu     sync.Mutex
	banner time.Time
	cuts   []time.Time
}

func (c *lineClock) Write(p []byte) (int, error) {
	now := time.Now()
	c.mu.Lock()
	switch {
	case bytes.HasPrefix(p, []byte("gRPC server on ")):
		c.banner = now
	case bytes.HasPrefix(p, []byte("watch #")) && bytes.Contains(p, []byte(": cut: ")):
		c.cuts = append(c.cuts, now)
	}
	c.mu.Unlock()
	return c.w.Write(p)
}

func (c *lineClock) times() (time.Time, []time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.banner, slices.Clone(c.cuts)
}

func sinceEach(t0 time.Time, ts []time.Time) []time.Duration {
	var out []time.Duration
	for _, t := range ts {
		out = append(out, t.Sub(t0).Round(10*time.Millisecond))
	}
	return out
}

// median is the median of xs: the middle value, or the mean of the two.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// grafanaToPromQL replaces the dashboard's Grafana variables with what
// they stand for in this run: all jobs, and the rate window Grafana's
// $__rate_interval gives with its default scrape interval (15s).
func grafanaToPromQL(expr string) string {
	return strings.NewReplacer(`$job`, `.+`, `$__rate_interval`, `1m`).Replace(expr)
}

// readmePromQL returns the queries of the promql blocks of
// examples/operators/README.md, and of README.md if it has any.
func readmePromQL(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, f := range []string{"../operators/README.md", "../../README.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n := len(out)
		for _, m := range regexp.MustCompile("(?s)```promql\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
			for line := range strings.Lines(m[1]) {
				if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
					out = append(out, line)
				}
			}
		}
		if n == len(out) && f == "../operators/README.md" {
			t.Fatalf("no PromQL in %s's promql blocks", f)
		}
	}
	return out
}

// freePort returns a port that was free a moment ago on 127.0.0.1.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// syncBuffer collects a process's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startPrometheus starts Prometheus and stops it when the test ends.
func startPrometheus(t *testing.T, bin, config, data, addr string) *syncBuffer {
	t.Helper()
	logs := &syncBuffer{}
	cmd := exec.Command(bin,
		"--config.file="+config,
		"--storage.tsdb.path="+data,
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	return logs
}

// prometheusAPI queries Prometheus's HTTP API.
type prometheusAPI struct {
	base string
	hc   *http.Client
}

func (p *prometheusAPI) waitReady(t *testing.T, deadline time.Time, logs *syncBuffer) {
	t.Helper()
	for {
		resp, err := p.hc.Get(p.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus at %s not ready: %v\n%s", p.base, err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sample is one element of an instant query's result.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"` // [time, "value"]
}

func (s sample) value() float64 {
	v, _ := s.Value[1].(string)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// query runs an instant query, at time at unless it is zero, and returns
// its vector result.
func (p *prometheusAPI) query(expr string, at time.Time) ([]sample, error) {
	form := url.Values{"query": {expr}}
	if !at.IsZero() {
		form.Set("time", strconv.FormatFloat(float64(at.UnixNano())/1e9, 'f', 3, 64))
	}
	resp, err := p.hc.PostForm(p.base+"/api/v1/query", form)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string   `json:"resultType"`
			Result     []sample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s: %s", resp.Status, body.Error)
	}
	if body.Data.ResultType != "vector" {
		return nil, fmt.Errorf("result type %s, want vector", body.Data.ResultType)
	}
	return body.Data.Result, nil
}

// numbers counts the samples whose value is a number.
func numbers(res []sample) int {
	n := 0
	for _, s := range res {
		if !math.IsNaN(s.value()) {
			n++
		}
	}
	return n
}

// summarize prints a result compactly, for the log and failure messages.
func summarize(res []sample) string {
	if len(res) == 0 {
		return "(empty)"
	}
	var parts []string
	for _, s := range res {
		var labels []string
		for k, v := range s.Metric {
			if k != "__name__" && !strings.HasPrefix(k, "otel_scope_name") && k != "instance" {
				labels = append(labels, k+"="+v)
			}
		}
		parts = append(parts, fmt.Sprintf("{%s} %.4g", strings.Join(sortStrings(labels), ","), s.value()))
	}
	return strings.Join(sortStrings(parts), "; ")
}

func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}
