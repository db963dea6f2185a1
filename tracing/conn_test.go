package tracing_test

import (
	"context"
	"net"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/grpcpulse/grpcpulse/tracing"
)

func attr(kvs []attribute.KeyValue, key string) (attribute.Value, bool) {
	for _, kv := range kvs {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// A transport that lives long and sees many GOAWAYs and pings keeps a small
// span: GOAWAY events stop at the cap, pings are counts.
func TestConnSpanStaysBounded(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1000}
	remote := &net.TCPAddr{IP: net.ParseIP("::ffff:10.0.0.2"), Port: 443}
	c := tracing.NewTracer(tp, "client").StartConn(context.Background(), local, remote)
	for range 1000 {
		c.GoAway(tracing.GoAway{Direction: "received", Code: "NO_ERROR", Reason: "other"})
	}
	// A day of one keepalive ping a minute.
	c.End(tracing.ConnEnd{Reason: "keepalive_timeout", Initiator: "local", PingsSent: 1440, PingsReceived: 3, RPCs: 7})

	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name() != tracing.ConnSpanName || s.Parent().IsValid() {
		t.Errorf("span %q with parent %v, want a root %q", s.Name(), s.Parent(), tracing.ConnSpanName)
	}
	if n := len(s.Events()); n != tracing.MaxGoAwayEvents+1 {
		t.Errorf("%d events, want %d GOAWAYs and the keepalive timeout", n, tracing.MaxGoAwayEvents)
	}
	if last := s.Events()[len(s.Events())-1]; last.Name != tracing.EventKeepaliveTimeout {
		t.Errorf("last event %q, want %q", last.Name, tracing.EventKeepaliveTimeout)
	}
	for key, want := range map[string]attribute.Value{
		"grpc.side":                     attribute.StringValue("client"),
		"grpc.close.reason":             attribute.StringValue("keepalive_timeout"),
		"grpc.close.initiator":          attribute.StringValue("local"),
		"grpc.keepalive.pings_sent":     attribute.Int64Value(1440),
		"grpc.keepalive.pings_received": attribute.Int64Value(3),
		"grpc.rpcs":                     attribute.Int64Value(7),
		"grpc.goaway.count":             attribute.IntValue(1000),
		"network.peer.address":          attribute.StringValue("10.0.0.2"),
		"network.peer.port":             attribute.IntValue(443),
		"network.local.address":         attribute.StringValue("127.0.0.1"),
		"network.local.port":            attribute.IntValue(1000),
	} {
		if got, ok := attr(s.Attributes(), key); !ok || got != want {
			t.Errorf("%s = %v, want %v", key, got.String(), want.String())
		}
	}
	if s.Status().Code != codes.Error {
		t.Errorf("status %v, want Error for a keepalive timeout", s.Status())
	}
}

// Only failures of the transport set the span's status to Error.
func TestConnSpanStatus(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	tr := tracing.NewTracer(tp, "server")
	want := map[string]codes.Code{
		"keepalive_timeout": codes.Error, "too_many_pings": codes.Error, "connection_reset": codes.Error, "io_error": codes.Error,
		"max_connection_age": codes.Unset, "max_connection_idle": codes.Unset, "server_shutdown": codes.Unset,
		"client_shutdown": codes.Unset, "goaway": codes.Unset, "peer_closed": codes.Unset, "unknown": codes.Unset,
	}
	for reason := range want {
		tr.StartConn(context.Background(), nil, nil).End(tracing.ConnEnd{Reason: reason, Initiator: "local"})
	}
	for _, s := range rec.Ended() {
		r, _ := attr(s.Attributes(), "grpc.close.reason")
		if s.Status().Code != want[r.AsString()] {
			t.Errorf("%s: status %v, want %v", r.AsString(), s.Status().Code, want[r.AsString()])
		}
	}
	if len(rec.Ended()) != len(want) {
		t.Errorf("%d spans, want %d", len(rec.Ended()), len(want))
	}
}
