package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpcpulse/grpcpulse/examples/internal/healthload"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
)

// TestMain fails the package if run leaves a goroutine behind: the
// workload, the gRPC server and client, the exporters and their
// connections must all be gone when it returns.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// patience bounds every wait. It is generous because -race on two busy
// cores is slow; a condition that holds is seen at the next export anyway.
const patience = 20 * time.Second

// fastConfig makes a max-age cut happen within about a second and exports
// it a tenth of a second later.
func fastConfig(d time.Duration) config {
	return config{
		Config: healthload.Config{
			Duration:      d,
			CheckInterval: 50 * time.Millisecond,
			MaxAge:        300 * time.Millisecond,
			Grace:         300 * time.Millisecond,
		},
		exportInterval: 100 * time.Millisecond,
	}
}

// TestRunExportsCloseReasons runs the program against an in-process OTLP
// collector until the collector has received the max-age cut, then
// interrupts it the way SIGINT does (cancelling ctx) and checks the flush.
func TestRunExportsCloseReasons(t *testing.T) {
	c := startCollector(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out strings.Builder
	done := make(chan error, 1)
	go func() { done <- run(ctx, &out, fastConfig(patience)) }()

	maxAge := map[string]string{"grpc.close.reason": "max_connection_age"}
	c.waitFor(t, func() string {
		for _, side := range []string{"server", "client"} {
			if !c.hasPoint("grpc.transport.closes", with(maxAge, "grpc.side", side)) {
				return "no grpc.transport.closes{grpc.close.reason=max_connection_age, grpc.side=" + side + "}"
			}
		}
		if !c.hasPoint("grpc.rpc.transport_failures", with(maxAge, "rpc.method", "grpc.health.v1.Health/Watch")) {
			return "no grpc.rpc.transport_failures{grpc.close.reason=max_connection_age, rpc.method=grpc.health.v1.Health/Watch}"
		}
		return ""
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out.String())
		}
	case <-time.After(patience):
		t.Fatal("run did not return after its context was cancelled")
	}

	for _, side := range []string{"server", "client"} {
		if !c.hasPoint("grpc.transport.connections", map[string]string{"grpc.side": side}) {
			t.Errorf("no grpc.transport.connections{grpc.side=%s} exported\n%s", side, c.metricNames())
		}
	}
	// The trace pipeline: otelgrpc's RPC spans, flushed at the end.
	if !c.hasSpan("grpc.health.v1.Health/Check") {
		t.Errorf("no grpc.health.v1.Health/Check span exported")
	}
	if !c.hasResource("service.name", serviceName) {
		t.Errorf("exported metrics lack the resource service.name=%s", serviceName)
	}
	for _, want := range []string{"exporting metrics every", "grpcpulse's cause: max_connection_age", "telemetry flushed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRunStopsAfterDuration checks -duration: run returns by itself and
// flushes what was recorded, although no periodic export had come due.
func TestRunStopsAfterDuration(t *testing.T) {
	c := startCollector(t)
	cfg := fastConfig(300 * time.Millisecond)
	cfg.exportInterval = time.Hour // only the final flush exports
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
	for _, side := range []string{"server", "client"} {
		if !c.hasPoint("grpc.transport.connections", map[string]string{"grpc.side": side}) {
			t.Errorf("final flush lacks grpc.transport.connections{grpc.side=%s}\n%s", side, c.metricNames())
		}
	}
}

// TestRunRejectsBadPolicy checks that flags grpc-go cannot run with fail at
// start instead of being replaced by the preset.
func TestRunRejectsBadPolicy(t *testing.T) {
	cfg := fastConfig(time.Second)
	cfg.MaxAge = -time.Second
	if err := run(context.Background(), &strings.Builder{}, cfg); err == nil || !strings.Contains(err.Error(), "MaxConnectionAge") {
		t.Fatalf("run with a negative max age: got %v, want an error naming MaxConnectionAge", err)
	}
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// collector is a fake OTLP/gRPC collector that keeps everything it is sent.
type collector struct {
	mu      sync.Mutex
	metrics []*metricpb.ResourceMetrics
	spans   []*tracepb.ResourceSpans
	changed chan struct{} // signalled after each export; capacity 1
}

// startCollector serves the OTLP metrics and trace services on
// 127.0.0.1:0 and points the exporters at it through the environment, as a
// user would.
func startCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{changed: make(chan struct{}, 1)}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	colmetricpb.RegisterMetricsServiceServer(srv, metricsService{c: c})
	coltracepb.RegisterTraceServiceServer(srv, traceService{c: c})
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+lis.Addr().String())
	t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
	return c
}

type metricsService struct {
	colmetricpb.UnimplementedMetricsServiceServer
	c *collector
}

func (s metricsService) Export(_ context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	s.c.mu.Lock()
	s.c.metrics = append(s.c.metrics, req.GetResourceMetrics()...)
	s.c.mu.Unlock()
	s.c.notify()
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

type traceService struct {
	coltracepb.UnimplementedTraceServiceServer
	c *collector
}

func (s traceService) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	s.c.mu.Lock()
	s.c.spans = append(s.c.spans, req.GetResourceSpans()...)
	s.c.mu.Unlock()
	s.c.notify()
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (c *collector) notify() {
	select {
	case c.changed <- struct{}{}:
	default: // a signal is pending already
	}
}

// waitFor re-evaluates cond after each export until it returns "", and
// fails the test with cond's last message after patience.
func (c *collector) waitFor(t *testing.T, cond func() string) {
	t.Helper()
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	for {
		msg := cond()
		if msg == "" {
			return
		}
		select {
		case <-c.changed:
		case <-deadline.C:
			t.Fatalf("after %v: %s\nexported: %s", patience, msg, c.metricNames())
		}
	}
}

// hasPoint reports whether a data point of the Sum or Gauge name carries
// every attribute in attrs. A counter's point must be positive; an up-down
// counter's (grpc.transport.connections) may be back at zero.
func (c *collector) hasPoint(name string, attrs map[string]string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rm := range c.metrics {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				if m.GetName() != name {
					continue
				}
				var points []*metricpb.NumberDataPoint
				points = append(points, m.GetSum().GetDataPoints()...)
				points = append(points, m.GetGauge().GetDataPoints()...)
				for _, p := range points {
					if m.GetSum().GetIsMonotonic() && p.GetAsInt() <= 0 {
						continue
					}
					if matches(p.GetAttributes(), attrs) {
						return true
					}
				}
			}
		}
	}
	return false
}

func matches(kvs []*commonpb.KeyValue, want map[string]string) bool {
	n := 0
	for _, kv := range kvs {
		if v, ok := want[kv.GetKey()]; ok {
			if kv.GetValue().GetStringValue() != v {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

func (c *collector) hasSpan(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range c.spans {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				if s.GetName() == name {
					return true
				}
			}
		}
	}
	return false
}

func (c *collector) hasResource(key, value string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rm := range c.metrics {
		if matches(rm.GetResource().GetAttributes(), map[string]string{key: value}) {
			return true
		}
	}
	return false
}

// metricNames lists what was exported, for failure messages.
func (c *collector) metricNames() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	var names []string
	for _, rm := range c.metrics {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				if !seen[m.GetName()] {
					seen[m.GetName()] = true
					names = append(names, m.GetName())
				}
			}
		}
	}
	return fmt.Sprint(names)
}
