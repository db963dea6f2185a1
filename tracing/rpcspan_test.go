package tracing_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
)

func ownSpans(t *testing.T, cfg testenv.Setup) *testenv.Scenario {
	t.Helper()
	cfg.HandlerOpts = append(cfg.HandlerOpts, options.WithRPCSpans(true), options.WithPropagators(propagation.TraceContext{}))
	return testenv.Start(t, cfg)
}

// onlySpan waits for exactly one ended span named name on e.
func onlySpan(t *testing.T, e *testenv.End, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	testenv.Eventually(t, func() string {
		if len(e.EndedSpans(name)) == 1 {
			return ""
		}
		return e.Name + ": no single span " + name
	})
	return e.EndedSpans(name)[0]
}

func checkAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got, ok := attr(s.Attributes(), k); !ok || got.String() != v {
			t.Errorf("%s: %s = %q, want %q\n%s", s.Name(), k, got.String(), v, describe(s))
		}
	}
}

// grpcpulse's own RPC spans follow the RPC conventions and carry the trace
// from client to server through W3C trace context in metadata.
func TestOwnRPCSpansShareATrace(t *testing.T) {
	t.Parallel()
	s := ownSpans(t, testenv.Setup{})
	testenv.Call(t, s.Dial(t, nil, true))
	const name = "grpc.testing.TestService/EmptyCall"
	client, server := onlySpan(t, s.Client, name), onlySpan(t, s.Server, name)
	t.Logf("client: %s\nserver: %s", describe(client), describe(server))
	if client.SpanKind() != trace.SpanKindClient || server.SpanKind() != trace.SpanKindServer {
		t.Errorf("kinds %v, %v; want client, server", client.SpanKind(), server.SpanKind())
	}
	if server.Parent().SpanID() != client.SpanContext().SpanID() || server.SpanContext().TraceID() != client.SpanContext().TraceID() {
		t.Errorf("server span's parent %v, want the client span %v", server.Parent(), client.SpanContext())
	}
	common := map[string]string{"rpc.system.name": "grpc", "rpc.method": name, "rpc.response.status_code": "OK", "network.peer.address": "127.0.0.1"}
	checkAttrs(t, client, common)
	checkAttrs(t, server, common)
	checkAttrs(t, client, map[string]string{"server.address": "127.0.0.1"})
	if p, _ := attr(client.Attributes(), "server.port"); p.AsInt64() == 0 {
		t.Errorf("client span lacks server.port:\n%s", describe(client))
	}
}

// A stream cut by max age with own spans: both sides' RPC spans carry the
// close reason and link to their side's connection span.
func TestOwnRPCSpansAnnotatedOnBothSides(t *testing.T) {
	t.Parallel()
	s := ownSpans(t, testenv.Setup{ServerOpts: []grpc.ServerOption{grpc.KeepaliveParams(keepalive.ServerParameters{
		MaxConnectionAge: 300 * time.Millisecond, MaxConnectionAgeGrace: 300 * time.Millisecond,
	})}})
	err := testenv.StreamUntilCut(t, context.Background(), s.Dial(t, nil, true))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("stream ended with %v", err)
	}
	const name = "grpc.testing.TestService/StreamingOutputCall"
	for _, e := range []*testenv.End{s.Client, s.Server} {
		rpc := onlySpan(t, e, name)
		conn := connSpan(t, e, "max_connection_age")
		t.Logf("%s RPC span: %s", e.Name, describe(rpc))
		checkFailedRPCSpan(t, rpc, conn, "max_connection_age")
		if !hasEvent(rpc, "grpc.goaway", attribute.String("grpc.goaway.reason", "max_age")) {
			t.Errorf("%s RPC span lacks the max_age GOAWAY event:\n%s", e.Name, describe(rpc))
		}
	}
}

// A method the server does not register never names a span.
func TestOwnRPCSpanOfUnknownMethod(t *testing.T) {
	t.Parallel()
	s := ownSpans(t, testenv.Setup{})
	cc := s.Dial(t, nil, true)
	err := cc.Invoke(context.Background(), "/no.Such/Method", &testgrpc.Empty{}, &testgrpc.Empty{}, grpc.WaitForReady(true))
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("Invoke = %v", err)
	}
	server := onlySpan(t, s.Server, "_OTHER")
	checkAttrs(t, server, map[string]string{"rpc.method": "_OTHER", "rpc.response.status_code": "UNIMPLEMENTED"})
}

// grpcpulse's own client span and otelgrpc's server span share one trace:
// both speak W3C trace context.
func TestOwnClientSpanContinuesInOtelgrpcServer(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	_, addr := testenv.Serve(t, &testenv.Service{}, grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(propagation.TraceContext{}))))
	cc, err := grpc.NewClient(addr, options.Client(options.WithTracerProvider(tp), options.WithRPCSpans(true), options.WithPropagators(propagation.TraceContext{}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	testenv.Call(t, cc)
	var client, server sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		switch s.SpanKind() {
		case trace.SpanKindClient:
			client = s
		case trace.SpanKindServer:
			server = s
		}
	}
	if client == nil || server == nil {
		t.Fatalf("client span %v, server span %v", client, server)
	}
	if server.Parent().SpanID() != client.SpanContext().SpanID() || server.Parent().TraceID() != client.SpanContext().TraceID() {
		t.Errorf("otelgrpc server span's parent %v, want grpcpulse's client span %v", server.Parent(), client.SpanContext())
	}
}

// WithConnectionSpans(false) records no connection span; RPCs still work
// and are still measured.
func TestConnectionSpansOff(t *testing.T) {
	t.Parallel()
	s := testenv.Start(t, testenv.Setup{HandlerOpts: []options.HandlerOption{options.WithConnectionSpans(false)}})
	cc := s.Dial(t, nil, true)
	testenv.Call(t, cc)
	_ = cc.Close()
	s.Client.WaitClose(t, "client_shutdown", "local")
	s.Server.WaitClose(t, "client_shutdown", "peer")
	for _, e := range []*testenv.End{s.Client, s.Server} {
		if n := len(e.EndedSpans("grpc.transport")); n != 0 {
			t.Errorf("%s recorded %d connection spans with them turned off", e.Name, n)
		}
	}
}
