package main

import (
	"bytes"
	"context"
	"encoding/json"
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
)

// TestPrometheus runs the program as the README's Prometheus line does
// (OTEL_METRICS_EXPORTER=prometheus OTEL_TRACES_EXPORTER=none), starts a
// real Prometheus (Debian's prometheus binary) that scrapes it every second
// and evaluates examples/operators/rules.yml, and then runs, until each
// returns data:
//
//   - every query of every panel of examples/operators/dashboard.json;
//   - every PromQL query in the README;
//   - the recording rules, and the alert the example provokes on purpose
//     (GRPCRPCsCutByMaxConnectionAge: it cuts its Watch stream at max age).
//
// Every panel must return at least one sample that is a number (not NaN):
// the workload makes each of them non-empty (max-age cuts for closes,
// failures, GOAWAYs and lifetimes; a Check interval above the server's
// keepalive Time for pings and RTT; the rules for the alerts panel). No
// panel is a deliberate empty in this run.
func TestPrometheus(t *testing.T) {
	bin := foreign.Prometheus(t).Path
	dir := t.TempDir()
	exporterPort := freePort(t)
	promAddr := "127.0.0.1:" + freePort(t)
	t.Setenv("OTEL_METRICS_EXPORTER", "prometheus")
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	t.Setenv("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1")
	t.Setenv("OTEL_EXPORTER_PROMETHEUS_PORT", exporterPort)

	// The program: a max-age cut every ~3.5 s, and a Check interval above
	// the server's keepalive Time, so that each connection, quiet between
	// Checks, is pinged before its age ends it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &strings.Builder{}
	w := healthload.NewLockedWriter(out)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, w, healthload.Config{
			Duration:      2 * patience, // a ceiling: the test cancels ctx sooner
			CheckInterval: 1500 * time.Millisecond,
			MaxAge:        3 * time.Second,
			Grace:         500 * time.Millisecond,
			KeepaliveTime: time.Second,
		})
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v\n%s", err, w.String())
			}
		case <-time.After(patience):
			t.Error("run did not return after its context was cancelled")
		}
	}()

	rules := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rules, operators.Rules, 0o644); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, fmt.Appendf(nil, `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: grpcpulse-example
    static_configs:
      - targets: ["127.0.0.1:%s"]
`, rules, exporterPort), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := startPrometheus(t, bin, config, filepath.Join(dir, "data"), promAddr)

	deadline := time.Now().Add(45 * time.Second)
	q := &prometheusAPI{base: "http://" + promAddr, hc: &http.Client{Timeout: 5 * time.Second}}
	defer q.hc.CloseIdleConnections()
	q.waitReady(t, deadline, prom)

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
	for _, e := range readmePromQL(t) {
		queries = append(queries, query{"README", e})
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
			res, err := q.query(qu.expr)
			if err == nil && numbers(res) > 0 {
				t.Logf("%s: %s\n  → %s", qu.what, qu.expr, summarize(res))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no data by the deadline: %s\n  error %v, result %s\n\nprogram output:\n%s\nprometheus:\n%s",
					qu.what, qu.expr, err, summarize(res), w.String(), prom.String())
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
}

// grafanaToPromQL replaces the dashboard's Grafana variables with what
// they stand for in this run: all jobs, and a rate window that covers the
// whole run.
func grafanaToPromQL(expr string) string {
	return strings.NewReplacer(`$job`, `.+`, `$__rate_interval`, `1m`).Replace(expr)
}

// readmePromQL returns the queries of the README's promql blocks.
func readmePromQL(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile("(?s)```promql\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		for line := range strings.Lines(m[1]) {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				out = append(out, line)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no PromQL in README.md's promql blocks")
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

// query runs an instant query and returns its vector result.
func (p *prometheusAPI) query(expr string) ([]sample, error) {
	resp, err := p.hc.PostForm(p.base+"/api/v1/query", url.Values{"query": {expr}})
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
