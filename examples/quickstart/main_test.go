package main

import (
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/grpcpulse/grpcpulse/internal/semconv"
)

// TestQuickstart runs the demo end to end and checks that it explains each
// of the three failures it provokes, on the side that detected it.
func TestQuickstart(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	spans, err := runDemo(&out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	checkConnectedTraces(t, spans)
	for _, want := range []string{
		"grpc.close.reason=max_connection_age",
		"grpc.close.reason=too_many_pings",
		"grpc.close.reason=keepalive_timeout",
		"code = Unavailable",
		"interceptors.Cause:  max_connection_age",
		"interceptors.Cause:  too_many_pings",
		"grpc.rpc.transport_failures",
		"grpc.transport  span=",
		"event grpc.keepalive.timeout",
		"app: watch health",
		"link to span=",
		"diagnosis: level=WARN msg=\"grpc transport closed\" grpc.side=server grpc.close.reason=max_connection_age",
		"diagnosis: level=WARN msg=\"grpc transport closed\" grpc.side=server grpc.close.reason=too_many_pings",
		"diagnosis: level=WARN msg=\"grpc transport closed\" grpc.side=server grpc.close.reason=keepalive_timeout",
		"MaxConnectionAgeGrace above the longest RPC",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// checkConnectedTraces checks that every server RPC span grpcpulse
// recorded is the child of a client RPC span in the same trace: the
// propagator carried the trace context in the metadata.
func checkConnectedTraces(t *testing.T, spans []sdktrace.ReadOnlySpan) {
	t.Helper()
	clients := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	var servers []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.InstrumentationScope().Name != semconv.ScopeName {
			continue
		}
		switch s.SpanKind() {
		case trace.SpanKindClient:
			clients[s.SpanContext().SpanID()] = s
		case trace.SpanKindServer:
			servers = append(servers, s)
		}
	}
	if len(servers) == 0 || len(clients) == 0 {
		t.Fatalf("RPC spans recorded: %d client, %d server; want both", len(clients), len(servers))
	}
	for _, s := range servers {
		p, ok := clients[s.Parent().SpanID()]
		if !ok || p.SpanContext().TraceID() != s.SpanContext().TraceID() {
			t.Errorf("server span %s (trace %s, parent %s) is not the child of a client span", s.Name(), s.SpanContext().TraceID(), s.Parent().SpanID())
		}
	}
}
