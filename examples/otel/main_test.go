package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/examples/internal/healthload"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
)

// TestMain fails the package if run leaves a goroutine behind: the
// workload, the gRPC server and client, the exporters, the /metrics server
// and their connections must all be gone when it returns.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// patience bounds every wait. It is generous because -race on two busy
// cores is slow; a condition that holds is seen at the next export anyway.
const patience = 30 * time.Second

// otelgrpcScope is the instrumentation scope of otelgrpc's spans.
const otelgrpcScope = "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"

// fastConfig makes a max-age cut happen within about a second.
func fastConfig(d time.Duration) healthload.Config {
	return healthload.Config{
		Duration:      d,
		CheckInterval: 50 * time.Millisecond,
		MaxAge:        300 * time.Millisecond,
		Grace:         300 * time.Millisecond,
	}
}

// runUntil runs the program until cond holds on what c received, then
// interrupts it the way SIGINT does (cancelling ctx) and waits for it.
func runUntil(t *testing.T, c *collector, cfg healthload.Config, cond func() string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &strings.Builder{}
	w := healthload.NewLockedWriter(out)
	done := make(chan error, 1)
	go func() { done <- run(ctx, w, cfg) }()
	c.waitFor(t, cond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out.String())
		}
	case <-time.After(patience):
		t.Fatal("run did not return after its context was cancelled")
	}
	return out.String()
}

// maxAgeCut is the condition every OTLP test waits for: the Watch stream
// cut by max age, seen by both sides and counted as an RPC failure.
func maxAgeCut(c *collector) func() string {
	maxAge := map[string]string{"grpc.close.reason": "max_connection_age"}
	return func() string {
		for _, side := range []string{"server", "client"} {
			if !c.hasPoint(semconv.MetricCloses, with(maxAge, "grpc.side", side)) {
				return "no grpc.transport.closes{grpc.close.reason=max_connection_age, grpc.side=" + side + "}"
			}
		}
		if !c.hasPoint(semconv.MetricTransportFailures, with(maxAge, "rpc.method", "grpc.health.v1.Health/Watch")) {
			return "no grpc.rpc.transport_failures{grpc.close.reason=max_connection_age, rpc.method=grpc.health.v1.Health/Watch}"
		}
		return ""
	}
}

// TestOTLP runs the program against an in-process OTLP collector, over
// both OTLP protocols, as the README runs it against a Collector: the
// exporters are chosen and pointed at the collector by the environment
// alone. It checks the metrics, their scope version, and that the client
// and server spans of each RPC form one trace.
func TestOTLP(t *testing.T) {
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		t.Run(strings.ReplaceAll(protocol, "/", "-"), func(t *testing.T) {
			c := startCollector(t, protocol, false)
			out := runUntil(t, c, fastConfig(patience), maxAgeCut(c))

			for _, side := range []string{"server", "client"} {
				if !c.hasPoint(semconv.MetricConnections, map[string]string{"grpc.side": side}) {
					t.Errorf("no grpc.transport.connections{grpc.side=%s} exported\n%s", side, c.metricNames())
				}
			}
			if !c.hasResource("service.name", serviceName) {
				t.Errorf("exported metrics lack the resource service.name=%s", serviceName)
			}
			checkScopeVersion(t, c)
			checkConnectedTraces(t, c)
			for _, want := range []string{
				"metrics: OTLP (" + protocol + ") to http://127.0.0.1:",
				"traces:  OTLP (" + protocol + ") to http://127.0.0.1:",
				"grpcpulse's cause: max_connection_age", "telemetry flushed",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "telemetry:") {
				t.Errorf("an export error was reported:\n%s", out)
			}
		})
	}
}

// checkScopeVersion checks that grpcpulse's metrics and spans arrive with
// the instrumentation scope version semconv.Version.
func checkScopeVersion(t *testing.T, c *collector) {
	t.Helper()
	n := 0
	c.scopeMetrics(func(scope *commonpb.InstrumentationScope, m *metricpb.Metric) {
		if scope.GetName() != semconv.ScopeName {
			return
		}
		n++
		if scope.GetVersion() != semconv.Version {
			t.Errorf("metric %s: scope version %q, want %q", m.GetName(), scope.GetVersion(), semconv.Version)
		}
	})
	if n == 0 {
		t.Errorf("no metric of scope %s exported", semconv.ScopeName)
	}
	n = 0
	for _, s := range c.allSpans() {
		if s.scope != semconv.ScopeName {
			continue
		}
		n++
		if s.scopeVersion != semconv.Version {
			t.Errorf("span %s: scope version %q, want %q", s.GetName(), s.scopeVersion, semconv.Version)
		}
	}
	if n == 0 {
		t.Errorf("no span of scope %s (grpc.transport) exported", semconv.ScopeName)
	}
}

// checkConnectedTraces checks that every otelgrpc server span is the child
// of an otelgrpc client span in the same trace: the propagator carried the
// trace context across. It also checks that grpcpulse's annotation reached
// the backend: a Watch span carries grpc.close.reason=max_connection_age.
func checkConnectedTraces(t *testing.T, c *collector) {
	t.Helper()
	clients := map[string]span{} // by span id
	var servers []span
	annotated := false
	for _, s := range c.allSpans() {
		if s.scope != otelgrpcScope {
			continue
		}
		switch s.GetKind() {
		case tracepb.Span_SPAN_KIND_CLIENT:
			clients[s.id()] = s
		case tracepb.Span_SPAN_KIND_SERVER:
			servers = append(servers, s)
		}
		if s.GetName() == "grpc.health.v1.Health/Watch" && matches(s.GetAttributes(), map[string]string{"grpc.close.reason": "max_connection_age"}) {
			annotated = true
		}
	}
	if len(servers) == 0 || len(clients) == 0 {
		t.Fatalf("otelgrpc spans exported: %d client, %d server; want both", len(clients), len(servers))
	}
	orphans := 0
	for _, s := range servers {
		p, ok := clients[s.parentID()]
		if !ok || p.traceID() != s.traceID() {
			if orphans++; orphans <= 3 {
				t.Errorf("server span %s (trace %s, parent %q) has no client span as its parent", s.GetName(), s.traceID(), s.parentID())
			}
		}
	}
	if orphans > 0 {
		t.Errorf("%d of %d server spans are not children of a client span", orphans, len(servers))
	}
	if !annotated {
		t.Errorf("no grpc.health.v1.Health/Watch span carries grpc.close.reason=max_connection_age")
	}
}

// TestJaegerRefusesMetrics runs the program against a backend that takes
// traces only, as Jaeger does, with the default OTEL_METRICS_EXPORTER:
// the refusal is reported once, clearly, the traces still arrive, and the
// run succeeds.
func TestJaegerRefusesMetrics(t *testing.T) {
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		t.Run(strings.ReplaceAll(protocol, "/", "-"), func(t *testing.T) {
			c := startCollector(t, protocol, true)
			// Several periodic exports are refused before the traces are in.
			start := time.Now()
			out := runUntil(t, c, fastConfig(patience), func() string {
				if time.Since(start) < time.Second {
					return "running for a second at least (ten metric exports)"
				}
				for _, s := range c.allSpans() {
					if s.scope == otelgrpcScope {
						return ""
					}
				}
				return "no otelgrpc span exported"
			})
			t.Logf("program output:\n%s", out)
			const refusal = "telemetry: the backend does not accept metrics"
			if n := strings.Count(out, refusal); n != 1 {
				t.Errorf("the refusal is reported %d times, want once:\n%s", n, out)
			}
			for _, want := range []string{"Set OTEL_METRICS_EXPORTER=none", "more errors like those above were not printed", "telemetry flushed, except the metrics the backend refuses"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "does not accept traces") {
				t.Errorf("traces reported as refused:\n%s", out)
			}
		})
	}
}

// TestMetricsNone is the README's Jaeger line: OTEL_METRICS_EXPORTER=none
// sends no metrics and reports nothing.
func TestMetricsNone(t *testing.T) {
	c := startCollector(t, "http/protobuf", true)
	t.Setenv("OTEL_METRICS_EXPORTER", "none")
	out := runUntil(t, c, fastConfig(patience), func() string {
		for _, s := range c.allSpans() {
			if s.scope == otelgrpcScope {
				return ""
			}
		}
		return "no otelgrpc span exported"
	})
	if strings.Contains(out, "telemetry:") || !strings.Contains(out, "metrics: not exported (OTEL_METRICS_EXPORTER=none)") {
		t.Errorf("unexpected output:\n%s", out)
	}
}

// TestRunStopsAfterDuration checks -duration: run returns by itself and
// flushes what was recorded, although no periodic export had come due.
func TestRunStopsAfterDuration(t *testing.T) {
	c := startCollector(t, "grpc", false)
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "3600000") // only the final flush exports
	var out strings.Builder
	done := make(chan error, 1)
	go func() { done <- run(context.Background(), &out, fastConfig(300*time.Millisecond)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out.String())
		}
	case <-time.After(patience):
		t.Fatal("run did not stop after -duration")
	}
	for _, side := range []string{"server", "client"} {
		if !c.hasPoint(semconv.MetricConnections, map[string]string{"grpc.side": side}) {
			t.Errorf("final flush lacks grpc.transport.connections{grpc.side=%s}\n%s", side, c.metricNames())
		}
	}
}

// TestRunRejectsBadPolicy checks that flags grpc-go cannot run with fail at
// start instead of being replaced by the preset.
func TestRunRejectsBadPolicy(t *testing.T) {
	t.Setenv("OTEL_METRICS_EXPORTER", "none")
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	cfg := fastConfig(time.Second)
	cfg.MaxAge = -time.Second
	if err := run(context.Background(), &strings.Builder{}, cfg); err == nil || !strings.Contains(err.Error(), "MaxConnectionAge") {
		t.Fatalf("run with a negative max age: got %v, want an error naming MaxConnectionAge", err)
	}
}

// TestRunRejectsUnknownExporter checks that a misspelt exporter fails at
// start, naming the variable.
func TestRunRejectsUnknownExporter(t *testing.T) {
	t.Setenv("OTEL_METRICS_EXPORTER", "prometheos")
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	err := run(context.Background(), &strings.Builder{}, fastConfig(time.Second))
	if err == nil || !strings.Contains(err.Error(), "OTEL_METRICS_EXPORTER") {
		t.Fatalf("got %v, want an error naming OTEL_METRICS_EXPORTER", err)
	}
}

// TestErrorReporter checks the de-duplication and the classification of
// refusals on the errors the OTLP exporters return.
func TestErrorReporter(t *testing.T) {
	var out strings.Builder
	r := newErrorReporter(&out)
	grpcRefused := fmt.Errorf("failed to upload metrics: %w", status.Error(codes.Unimplemented, "unknown service opentelemetry.proto.collector.metrics.v1.MetricsService"))
	httpRefused := errors.New("failed to send metrics to http://127.0.0.1:4318/v1/metrics: 404 Not Found (body: 404 page not found)")
	down := fmt.Errorf("traces export: %w", status.Error(codes.Unavailable, "connection refused"))
	for range 3 {
		r.Handle(grpcRefused)
		r.Handle(httpRefused)
		r.Handle(down)
	}
	r.Handle(nil)
	r.summary()
	got := out.String()
	if n := strings.Count(got, "does not accept metrics"); n != 1 {
		t.Errorf("metrics refusal reported %d times, want 1:\n%s", n, got)
	}
	if n := strings.Count(got, "exporting traces"); n != 1 {
		t.Errorf("traces error reported %d times, want 1:\n%s", n, got)
	}
	if !strings.Contains(got, "7 more errors") {
		t.Errorf("summary does not count 7 repeats:\n%s", got)
	}
	for _, e := range []error{grpcRefused, httpRefused, errors.Join(errors.New("x"), grpcRefused)} {
		if !refused(e) {
			t.Errorf("refused(%v) = false", e)
		}
	}
	if refused(down) {
		t.Errorf("refused(%v) = true", down)
	}
}

// TestDescribeExporters checks the banner against the environment.
func TestDescribeExporters(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		{nil, []string{"metrics: OTLP (http/protobuf) to https://localhost:4318 (the default", "traces:  OTLP (http/protobuf)"}},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"},
			[]string{"metrics: OTLP (grpc) to http://c:4317", "traces:  OTLP (grpc) to http://c:4317"}},
		{map[string]string{"OTEL_METRICS_EXPORTER": "prometheus", "OTEL_TRACES_EXPORTER": "none"},
			[]string{"metrics: served for Prometheus on http://localhost:9464/metrics", "traces:  not exported (OTEL_TRACES_EXPORTER=none)"}},
		{map[string]string{"OTEL_METRICS_EXPORTER": "console", "OTEL_TRACES_EXPORTER": "console"},
			[]string{"metrics: printed to standard output", "traces:  printed to standard output"}},
	} {
		got := describeExporters(func(k string) string { return tc.env[k] })
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("env %v: %q lacks %q", tc.env, got, w)
			}
		}
	}
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for k, v := range m {
		out[k] = v
	}
	return out
}
