package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grpcpulse/grpcpulse/examples/internal/healthload"
	"go.uber.org/goleak"
)

// TestMain fails the package if run leaves a goroutine behind: the
// workload, the gRPC server and client and the HTTP server must all be gone
// when it returns.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// patience bounds every wait. It is generous because -race on two busy
// cores is slow; a series that is there is seen at the next scrape anyway.
const patience = 20 * time.Second

func fastConfig() config {
	return config{
		Config: healthload.Config{
			Duration:      patience, // a ceiling: the test cancels ctx much sooner
			CheckInterval: 50 * time.Millisecond,
			MaxAge:        300 * time.Millisecond,
			Grace:         300 * time.Millisecond,
		},
		listen: "127.0.0.1:0",
	}
}

// TestMetricsEndpoint runs the program, scrapes /metrics until the max-age
// cut of the Watch stream shows up under the names the PromQL in the
// package comment uses, and stops the program as SIGINT does (cancelling
// ctx).
func TestMetricsEndpoint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	urls := make(chan string, 1)
	cfg := fastConfig()
	cfg.listening = func(url string) { urls <- url }
	var out strings.Builder
	done := make(chan error, 1)
	go func() { done <- run(ctx, &out, cfg) }()

	var url string
	select {
	case url = <-urls:
	case err := <-done:
		t.Fatalf("run returned before serving /metrics: %v\n%s", err, out.String())
	}

	hc := &http.Client{Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections() // the keep-alive connection's goroutines
	want := []series{
		{"grpc_transport_closes_total", map[string]string{"grpc_close_reason": "max_connection_age", "grpc_side": "server", "grpc_close_initiator": "local"}},
		{"grpc_transport_closes_total", map[string]string{"grpc_close_reason": "max_connection_age", "grpc_side": "client", "grpc_close_initiator": "peer"}},
		{"grpc_rpc_transport_failures_total", map[string]string{"grpc_close_reason": "max_connection_age", "grpc_side": "client",
			"rpc_method": "grpc.health.v1.Health/Watch", "rpc_response_status_code": "UNAVAILABLE"}},
		{"grpc_transport_connections", map[string]string{"grpc_side": "client"}},
		{"grpc_transport_lifetime_seconds_count", map[string]string{"grpc_close_reason": "max_connection_age"}},
		{"target_info", map[string]string{"service_name": serviceName}},
	}
	var body string
	deadline := time.Now().Add(patience)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for missing := want; ; <-tick.C {
		body = scrape(t, hc, url)
		missing = missingSeries(body, missing)
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, /metrics lacks %v:\n%s\n\nprogram output:\n%s", patience, missing, grep(body, "grpc_"), out.String())
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out.String())
		}
	case <-time.After(patience):
		t.Fatal("run did not return after its context was cancelled")
	}
	for _, want := range []string{"serving metrics on " + url, "grpcpulse's cause: max_connection_age", "stopping"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// The HTTP server is gone with run.
	if resp, err := hc.Get(url); err == nil {
		resp.Body.Close()
		t.Errorf("GET %s after run returned: %s, want a connection error", url, resp.Status)
	}
}

// TestRunStopsAfterDuration checks -duration: run returns by itself.
func TestRunStopsAfterDuration(t *testing.T) {
	cfg := fastConfig()
	cfg.Duration = 200 * time.Millisecond
	var out strings.Builder
	done := make(chan error, 1)
	go func() { done <- run(context.Background(), &out, cfg) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out.String())
		}
	case <-time.After(patience):
		t.Fatal("run did not stop after -duration")
	}
}

// TestRunRejectsBadPolicy checks that flags grpc-go cannot run with fail at
// start instead of being replaced by the preset.
func TestRunRejectsBadPolicy(t *testing.T) {
	cfg := fastConfig()
	cfg.Grace = -time.Second
	if err := run(context.Background(), &strings.Builder{}, cfg); err == nil || !strings.Contains(err.Error(), "MaxConnectionAgeGrace") {
		t.Fatalf("run with a negative grace: got %v, want an error naming MaxConnectionAgeGrace", err)
	}
}

// series is a sample to look for: a metric name and some of its labels.
type series struct {
	name   string
	labels map[string]string
}

func scrape(t *testing.T, hc *http.Client, url string) string {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	return string(b)
}

// missingSeries returns the series of want that have no matching sample in
// the text exposition body.
func missingSeries(body string, want []series) []series {
	var missing []series
	for _, s := range want {
		found := false
		sc := bufio.NewScanner(strings.NewReader(body))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() && !found {
			found = s.matches(sc.Text())
		}
		if !found {
			missing = append(missing, s)
		}
	}
	return missing
}

// matches reports whether line, a sample in the text format
// (name{l1="v1",...} value), is one of s. Label values
// here hold no escaped quotes or commas, which keeps the parsing simple.
func (s series) matches(line string) bool {
	rest, ok := strings.CutPrefix(line, s.name+"{")
	if !ok {
		return false
	}
	labels, value, ok := strings.Cut(rest, "} ")
	if !ok {
		return false
	}
	v, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return false
	}
	// A counter's sample must have counted something; a gauge
	// (grpc_transport_connections) may be at zero between two connections.
	if counts := strings.HasSuffix(s.name, "_total") || strings.HasSuffix(s.name, "_count"); counts && v <= 0 {
		return false
	}
	for k, v := range s.labels {
		if !strings.Contains(","+labels+",", ","+k+"="+strconv.Quote(v)+",") {
			return false
		}
	}
	return true
}

// grep returns the lines of body that start with prefix, for failure
// messages.
func grep(body, prefix string) string {
	var lines []string
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, prefix) {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "")
}
