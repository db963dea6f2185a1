package tracing_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// connSpan waits for the side's ended transport span with reason and
// returns it.
func connSpan(t *testing.T, e *testenv.End, reason string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found sdktrace.ReadOnlySpan
	testenv.Eventually(t, func() string {
		var seen []string
		for _, s := range e.EndedSpans(pulse.SpanTransport) {
			r, _ := attr(s.Attributes(), "grpc.close.reason")
			if r.AsString() == reason {
				found = s
				return ""
			}
			seen = append(seen, r.AsString())
		}
		return fmt.Sprintf("%s: no %s span with reason %s; reasons seen: %v", e.Name, pulse.SpanTransport, reason, seen)
	})
	return found
}

// describe renders a span for the test log: the record the closing note of
// a failure scenario quotes.
func describe(s sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s span=%s status=%s", s.Name(), s.SpanContext().SpanID(), s.Status().Code)
	for _, kv := range s.Attributes() {
		fmt.Fprintf(&b, "\n    %s=%s", kv.Key, kv.Value.String())
	}
	for _, ev := range s.Events() {
		fmt.Fprintf(&b, "\n    event %s", ev.Name)
		for _, kv := range ev.Attributes {
			fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value.String())
		}
	}
	for _, l := range s.Links() {
		fmt.Fprintf(&b, "\n    link span=%s", l.SpanContext.SpanID())
	}
	return b.String()
}

func hasEvent(s sdktrace.ReadOnlySpan, name string, match ...attribute.KeyValue) bool {
	for _, ev := range s.Events() {
		if ev.Name != name {
			continue
		}
		ok := true
		for _, m := range match {
			if v, found := attr(ev.Attributes, string(m.Key)); !found || v != m.Value {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// checkFailedRPCSpan asserts that the application's span around a failed
// call says why and links to the connection span.
func checkFailedRPCSpan(t *testing.T, rpc, conn sdktrace.ReadOnlySpan, reason string) {
	t.Helper()
	if r, _ := attr(rpc.Attributes(), "grpc.close.reason"); r.AsString() != reason {
		t.Errorf("RPC span grpc.close.reason = %q, want %q:\n%s", r.AsString(), reason, describe(rpc))
	}
	linked := false
	for _, l := range rpc.Links() {
		linked = linked || l.SpanContext.SpanID() == conn.SpanContext().SpanID()
	}
	if !linked {
		t.Errorf("RPC span has no link to the connection span %s:\n%s", conn.SpanContext().SpanID(), describe(rpc))
	}
}

// appCall runs f inside an application span of the client and returns the
// span once ended.
func appCall(t *testing.T, s *testenv.Scenario, f func(ctx context.Context)) sdktrace.ReadOnlySpan {
	t.Helper()
	ctx, span := s.Client.TP.Tracer("app").Start(context.Background(), "app.call")
	f(ctx)
	span.End()
	spans := s.Client.EndedSpans("app.call")
	if len(spans) != 1 {
		t.Fatalf("%d app spans", len(spans))
	}
	return spans[0]
}

// A stream cut by MaxConnectionAge: the client's RPC span gets the GOAWAY
// event, the close reason and a link to the connection span; both
// connection spans record the GOAWAY and the reason.
func TestMaxAgeSpans(t *testing.T) {
	t.Parallel()
	s := testenv.Start(t, testenv.Setup{ServerOpts: []grpc.ServerOption{grpc.KeepaliveParams(keepalive.ServerParameters{
		MaxConnectionAge: 500 * time.Millisecond, MaxConnectionAgeGrace: 500 * time.Millisecond,
	})}})
	cc := s.Dial(t, nil, true)
	rpc := appCall(t, s, func(ctx context.Context) { _ = testenv.StreamUntilCut(t, ctx, cc) })
	client := connSpan(t, s.Client, "max_connection_age")
	server := connSpan(t, s.Server, "max_connection_age")
	t.Logf("client RPC span: %s", describe(rpc))
	t.Logf("client connection span: %s", describe(client))
	t.Logf("server connection span: %s", describe(server))

	checkFailedRPCSpan(t, rpc, client, "max_connection_age")
	maxAge := attribute.String("grpc.goaway.reason", "max_age")
	if !hasEvent(rpc, pulse.EventGoAway, maxAge, attribute.String("grpc.goaway.direction", "received")) {
		t.Errorf("RPC span lacks the max_age GOAWAY event:\n%s", describe(rpc))
	}
	if !hasEvent(client, pulse.EventGoAway, maxAge, attribute.String("grpc.goaway.direction", "received"), attribute.String("grpc.goaway.code", "NO_ERROR")) {
		t.Errorf("client connection span lacks the GOAWAY event:\n%s", describe(client))
	}
	if !hasEvent(server, pulse.EventGoAway, maxAge, attribute.String("grpc.goaway.direction", "sent")) {
		t.Errorf("server connection span lacks the GOAWAY event:\n%s", describe(server))
	}
	for _, c := range []sdktrace.ReadOnlySpan{client, server} {
		if c.Status().Code == codes.Error || c.Parent().IsValid() {
			t.Errorf("connection span: status %v, parent %v; want Unset and a root span", c.Status(), c.Parent())
		}
		if n, _ := attr(c.Attributes(), "grpc.rpcs"); n.AsInt64() < 1 {
			t.Errorf("connection span carried %d RPCs:\n%s", n.AsInt64(), describe(c))
		}
	}
}

// A unary RPC in flight when the flow is blackholed: the server's and then
// the client's keepalive time out; both connection spans are errors with a
// grpc.keepalive.timeout event, and the client's RPC span links to its
// connection.
func TestKeepaliveTimeoutSpans(t *testing.T) {
	t.Parallel()
	s := testenv.Start(t, testenv.Setup{Proxy: true, ServerOpts: []grpc.ServerOption{
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Second, Timeout: time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
	}})
	s.Svc.Started = make(chan string, 1)
	cc := s.Dial(t, nil, true, grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: time.Second}))
	rpc := appCall(t, s, func(ctx context.Context) {
		errc := make(chan error, 1)
		go func() {
			_, err := testgrpc.NewTestServiceClient(cc).UnaryCall(ctx, &testgrpc.SimpleRequest{
				ResponseSize: int32(10 * time.Minute / time.Microsecond),
			}, grpc.WaitForReady(true))
			errc <- err
		}()
		<-s.Svc.Started
		s.Proxy.Blackhole()
		if err := <-errc; err == nil {
			t.Error("RPC survived the blackhole")
		}
	})
	client := connSpan(t, s.Client, "keepalive_timeout")
	server := connSpan(t, s.Server, "keepalive_timeout")
	t.Logf("client RPC span: %s", describe(rpc))
	t.Logf("client connection span: %s", describe(client))
	t.Logf("server connection span: %s", describe(server))

	checkFailedRPCSpan(t, rpc, client, "keepalive_timeout")
	for _, c := range []sdktrace.ReadOnlySpan{client, server} {
		if c.Status().Code != codes.Error || !hasEvent(c, pulse.EventKeepaliveTimeout) {
			t.Errorf("connection span: want status Error and a %s event:\n%s", pulse.EventKeepaliveTimeout, describe(c))
		}
	}
	if n, _ := attr(server.Attributes(), "grpc.keepalive.pings_sent"); n.AsInt64() < 1 {
		t.Errorf("server connection span counts %d keepalive pings sent", n.AsInt64())
	}
}
