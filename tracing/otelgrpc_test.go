package tracing_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// otelgrpc's handlers installed beside grpcpulse through the bundles (which
// put otelgrpc after grpcpulse): the otelgrpc span of a stream cut by
// MaxConnectionAge carries the GOAWAY event, the close reason and a link to
// the connection span, on both sides.
func TestOtelgrpcSpansAnnotated(t *testing.T) {
	t.Parallel()
	type side struct {
		name string
		rec  *tracetest.SpanRecorder
		tp   *sdktrace.TracerProvider
		kind trace.SpanKind
	}
	newSide := func(name string, kind trace.SpanKind) *side {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		return &side{name: name, rec: rec, tp: tp, kind: kind}
	}
	server, client := newSide("server", trace.SpanKindServer), newSide("client", trace.SpanKindClient)

	svc := &testenv.Service{Started: make(chan string, 1)}
	_, addr := testenv.Serve(t, svc, options.Server(
		options.WithTracerProvider(server.tp),
		options.WithServerParameters(keepalive.ServerParameters{
			Time: time.Minute, MaxConnectionAge: 300 * time.Millisecond, MaxConnectionAgeGrace: 300 * time.Millisecond,
		}),
		options.WithStatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(server.tp))),
	)...)
	cc, err := grpc.NewClient(addr, options.Client(
		options.WithTracerProvider(client.tp),
		options.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(client.tp))),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_ = testenv.StreamUntilCut(t, context.Background(), cc)

	const method = "grpc.testing.TestService/StreamingOutputCall"
	for _, sd := range []*side{client, server} {
		var rpc, conn sdktrace.ReadOnlySpan
		testenv.Eventually(t, func() string {
			rpc, conn = nil, nil
			for _, s := range sd.rec.Ended() {
				switch {
				case s.Name() == method && s.SpanKind() == sd.kind:
					rpc = s
				case s.Name() == pulse.SpanTransport:
					if r, _ := attr(s.Attributes(), "grpc.close.reason"); r.AsString() == "max_connection_age" {
						conn = s
					}
				}
			}
			if rpc == nil || conn == nil {
				return sd.name + ": otelgrpc span or max_connection_age connection span not ended yet"
			}
			return ""
		})
		t.Logf("%s otelgrpc span: %s", sd.name, describe(rpc))
		if scope := rpc.InstrumentationScope().Name; scope == "github.com/grpcpulse/grpcpulse" {
			t.Fatalf("%s: the RPC span is grpcpulse's, not otelgrpc's", sd.name)
		}
		checkFailedRPCSpan(t, rpc, conn, "max_connection_age")
		if !hasEvent(rpc, pulse.EventGoAway, attribute.String("grpc.goaway.reason", "max_age")) {
			t.Errorf("%s otelgrpc span lacks the max_age GOAWAY event:\n%s", sd.name, describe(rpc))
		}
	}
}
