package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// collector is an in-process OTLP collector that keeps everything it is
// sent, over OTLP/gRPC and OTLP/HTTP (protobuf) alike. With tracesOnly it
// answers metrics as Jaeger does: gRPC Unimplemented (the service is not
// registered) and HTTP 404.
type collector struct {
	tracesOnly bool

	mu      sync.Mutex
	metrics []*metricpb.ResourceMetrics
	spans   []*tracepb.ResourceSpans
	changed chan struct{} // signalled after each export; capacity 1
}

// startCollector serves OTLP on 127.0.0.1 and points the exporters at it
// through the environment, as a user would: OTLP over protocol ("grpc" or
// "http/protobuf"), exports every 100 ms.
func startCollector(t *testing.T, protocol string, tracesOnly bool) *collector {
	t.Helper()
	c := &collector{tracesOnly: tracesOnly, changed: make(chan struct{}, 1)}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	switch protocol {
	case "grpc":
		srv := grpc.NewServer()
		if !tracesOnly {
			colmetricpb.RegisterMetricsServiceServer(srv, metricsService{c: c})
		}
		coltracepb.RegisterTraceServiceServer(srv, traceService{c: c})
		go func() {
			defer close(served)
			_ = srv.Serve(lis)
		}()
		t.Cleanup(func() {
			srv.Stop()
			<-served
		})
	case "http/protobuf":
		mux := http.NewServeMux()
		if !tracesOnly {
			mux.HandleFunc("POST /v1/metrics", func(w http.ResponseWriter, r *http.Request) {
				req := &colmetricpb.ExportMetricsServiceRequest{}
				if readProto(w, r, req) {
					c.addMetrics(req.GetResourceMetrics())
					writeProto(w, &colmetricpb.ExportMetricsServiceResponse{})
				}
			})
		}
		mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
			req := &coltracepb.ExportTraceServiceRequest{}
			if readProto(w, r, req) {
				c.addSpans(req.GetResourceSpans())
				writeProto(w, &coltracepb.ExportTraceServiceResponse{})
			}
		})
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			defer close(served)
			_ = hs.Serve(lis)
		}()
		t.Cleanup(func() {
			_ = hs.Close()
			<-served
		})
	default:
		t.Fatalf("protocol %q", protocol)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+lis.Addr().String())
	t.Setenv("OTEL_METRICS_EXPORTER", "otlp")
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "100")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
	return c
}

func readProto(w http.ResponseWriter, r *http.Request, m proto.Message) bool {
	b, err := io.ReadAll(r.Body)
	if err == nil {
		err = proto.Unmarshal(b, m)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func writeProto(w http.ResponseWriter, m proto.Message) {
	b, _ := proto.Marshal(m)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(b)
}

type metricsService struct {
	colmetricpb.UnimplementedMetricsServiceServer
	c *collector
}

func (s metricsService) Export(_ context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	s.c.addMetrics(req.GetResourceMetrics())
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

type traceService struct {
	coltracepb.UnimplementedTraceServiceServer
	c *collector
}

func (s traceService) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	s.c.addSpans(req.GetResourceSpans())
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (c *collector) addMetrics(rms []*metricpb.ResourceMetrics) {
	c.mu.Lock()
	c.metrics = append(c.metrics, rms...)
	c.mu.Unlock()
	c.notify()
}

func (c *collector) addSpans(rss []*tracepb.ResourceSpans) {
	c.mu.Lock()
	c.spans = append(c.spans, rss...)
	c.mu.Unlock()
	c.notify()
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

// scopeMetrics calls f for every exported metric with its scope.
func (c *collector) scopeMetrics(f func(scope *commonpb.InstrumentationScope, m *metricpb.Metric)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rm := range c.metrics {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				f(sm.GetScope(), m)
			}
		}
	}
}

// hasPoint reports whether a data point of the Sum or Gauge name carries
// every attribute in attrs. A counter's point must be positive; an up-down
// counter's (grpc.transport.connections) may be back at zero.
func (c *collector) hasPoint(name string, attrs map[string]string) bool {
	found := false
	c.scopeMetrics(func(_ *commonpb.InstrumentationScope, m *metricpb.Metric) {
		if m.GetName() != name {
			return
		}
		monotonic := m.GetSum().GetIsMonotonic()
		for _, p := range append(m.GetSum().GetDataPoints(), m.GetGauge().GetDataPoints()...) {
			if matches(p.GetAttributes(), attrs) && (!monotonic || p.GetAsInt() > 0 || p.GetAsDouble() > 0) {
				found = true
			}
		}
	})
	return found
}

// matches reports whether kvs holds every key of want with its value.
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

// span is an exported span with its scope, flattened for the checks.
type span struct {
	scope, scopeVersion string
	*tracepb.Span
}

func (s span) id() string       { return hex.EncodeToString(s.GetSpanId()) }
func (s span) parentID() string { return hex.EncodeToString(s.GetParentSpanId()) }
func (s span) traceID() string  { return hex.EncodeToString(s.GetTraceId()) }

func (c *collector) allSpans() []span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []span
	for _, rs := range c.spans {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				out = append(out, span{ss.GetScope().GetName(), ss.GetScope().GetVersion(), s})
			}
		}
	}
	return out
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
	seen := map[string]bool{}
	var names []string
	c.scopeMetrics(func(_ *commonpb.InstrumentationScope, m *metricpb.Metric) {
		if !seen[m.GetName()] {
			seen[m.GetName()] = true
			names = append(names, m.GetName())
		}
	})
	return fmt.Sprint(names)
}
