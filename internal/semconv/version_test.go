package semconv_test

import (
	"context"
	"net"
	"regexp"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/options"
)

// TestVersionIsSemver keeps Version in the form a release tag takes without
// its "v", as otelgrpc's Version is.
func TestVersionIsSemver(t *testing.T) {
	if !regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`).MatchString(semconv.Version) {
		t.Fatalf("Version %q is not MAJOR.MINOR.PATCH[-pre]", semconv.Version)
	}
}

// TestScopeVersionExported runs one RPC between a server and a client set
// up by the bundles and checks that every metric and span grpcpulse
// records carries the instrumentation scope (ScopeName, Version).
func TestScopeVersionExported(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer mp.Shutdown(context.Background())
	defer tp.Shutdown(context.Background())

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(options.Server(options.WithMeterProvider(mp), options.WithTracerProvider(tp), options.WithRPCSpans(true))...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	cc, err := grpc.NewClient(lis.Addr().String(), options.Client(options.WithMeterProvider(mp), options.WithTracerProvider(tp), options.WithRPCSpans(true))...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	// Closing both ends records the closes and ends the connection spans.
	_ = cc.Close()
	srv.Stop()

	var rm metricdata.ResourceMetrics
	names := map[string]bool{}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if err := reader.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
		clear(names)
		for _, sm := range rm.ScopeMetrics {
			if sm.Scope.Name != semconv.ScopeName {
				continue
			}
			if sm.Scope.Version != semconv.Version {
				t.Fatalf("metrics of scope %s have version %q, want %q", sm.Scope.Name, sm.Scope.Version, semconv.Version)
			}
			for _, m := range sm.Metrics {
				names[m.Name] = true
			}
		}
		if names[semconv.MetricCloses] && names[semconv.MetricConnections] || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range []string{semconv.MetricConnections, semconv.MetricCloses} {
		if !names[want] {
			t.Errorf("no %s recorded in scope %s version %s; got %v", want, semconv.ScopeName, semconv.Version, names)
		}
	}

	n := 0
	for _, s := range spans.Ended() {
		if s.InstrumentationScope().Name != semconv.ScopeName {
			continue
		}
		n++
		if v := s.InstrumentationScope().Version; v != semconv.Version {
			t.Errorf("span %s has scope version %q, want %q", s.Name(), v, semconv.Version)
		}
	}
	if n == 0 {
		t.Errorf("no span of scope %s ended", semconv.ScopeName)
	}
}
