package spans_test

import (
	"context"
	"net"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	grpccodes "google.golang.org/grpc/codes"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
	"github.com/grpcpulse/grpcpulse/internal/spans"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
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
	var c spans.ConnSpan
	spans.NewTracer(tp, pulse.SideClient).Prepare(&c, &spans.Origin{Local: local, Remote: remote, Begin: time.Now()})
	for range 1000 {
		c.GoAway(conntrack.GoAway{Dir: conntrack.Received, Reason: conntrack.GoAwayOther})
	}
	// A day of one keepalive ping a minute.
	c.End(spans.ConnEnd{Reason: pulse.ReasonKeepaliveTimeout, Initiator: pulse.InitiatorLocal, PingsSent: 1440, PingsReceived: 3, RPCs: 7})

	ended := rec.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans, want 1", len(ended))
	}
	s := ended[0]
	if s.Name() != pulse.SpanTransport || s.Parent().IsValid() {
		t.Errorf("span %q with parent %v, want a root %q", s.Name(), s.Parent(), pulse.SpanTransport)
	}
	if n := len(s.Events()); n != pulse.MaxGoAwayEvents+1 {
		t.Errorf("%d events, want %d GOAWAYs and the keepalive timeout", n, pulse.MaxGoAwayEvents)
	}
	if last := s.Events()[len(s.Events())-1]; last.Name != pulse.EventKeepaliveTimeout {
		t.Errorf("last event %q, want %q", last.Name, pulse.EventKeepaliveTimeout)
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
	tr := spans.NewTracer(tp, pulse.SideServer)
	want := map[string]codes.Code{
		"keepalive_timeout": codes.Error, "too_many_pings": codes.Error, "connection_reset": codes.Error, "io_error": codes.Error,
		"max_connection_age": codes.Unset, "max_connection_idle": codes.Unset, "server_shutdown": codes.Unset,
		"client_shutdown": codes.Unset, "goaway": codes.Unset, "peer_closed": codes.Unset, "unknown": codes.Unset,
		"protocol_error": codes.Error, "server_drain": codes.Unset,
	}
	for _, reason := range pulse.Reasons() {
		var c spans.ConnSpan
		tr.Prepare(&c, &spans.Origin{Begin: time.Now()})
		c.End(spans.ConnEnd{Reason: reason, Initiator: pulse.InitiatorLocal})
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

func TestCodeName(t *testing.T) {
	for c, want := range map[grpccodes.Code]string{
		grpccodes.OK: "OK", grpccodes.Canceled: "CANCELLED", grpccodes.Unavailable: "UNAVAILABLE",
		grpccodes.Unauthenticated: "UNAUTHENTICATED", grpccodes.Code(17): "UNKNOWN", grpccodes.Code(1 << 30): "UNKNOWN",
	} {
		if got := spans.CodeName(c); got != want {
			t.Errorf("CodeName(%d) = %q, want %q", c, got, want)
		}
	}
}

// A connection span starts only when first needed, with the transport's
// begin time, and is the one span a link made before the end points to.
func TestConnSpanStartsWhenNeeded(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	tr := spans.NewTracer(tp, pulse.SideServer)
	begin := time.Now().Add(-time.Hour)

	var idle spans.ConnSpan
	tr.Prepare(&idle, &spans.Origin{Begin: begin})
	if n := len(rec.Started()); n != 0 {
		t.Fatalf("%d spans started by Prepare, want none", n)
	}
	idle.End(spans.ConnEnd{Reason: pulse.ReasonClientShutdown, Initiator: pulse.InitiatorPeer})

	var linked spans.ConnSpan
	tr.Prepare(&linked, &spans.Origin{Begin: begin})
	sc := linked.SpanContext()
	if !sc.IsValid() || len(rec.Started()) != 2 {
		t.Fatalf("SpanContext = %v with %d spans started, want a valid context of a started span", sc, len(rec.Started()))
	}
	if again := linked.SpanContext(); !again.Equal(sc) {
		t.Errorf("second SpanContext %v, want the same span %v", again, sc)
	}
	linked.End(spans.ConnEnd{Reason: pulse.ReasonKeepaliveTimeout, Initiator: pulse.InitiatorLocal})

	ended := rec.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans ended, want 2", len(ended))
	}
	for _, s := range ended {
		if !s.StartTime().Equal(begin) {
			t.Errorf("span starts at %v, want the transport's begin %v", s.StartTime(), begin)
		}
	}
	if got := ended[1].SpanContext(); got.SpanID() != sc.SpanID() {
		t.Errorf("ended span %v, want the linked span %v", got.SpanID(), sc.SpanID())
	}

	var off spans.ConnSpan
	if off.On() || off.SpanContext().IsValid() {
		t.Error("a ConnSpan never prepared is on")
	}
	off.End(spans.ConnEnd{})
	off.Event("x", nil)
	if n := len(rec.Ended()); n != 2 {
		t.Errorf("an off ConnSpan ended a span: %d spans, want 2", n)
	}
}

// GOAWAY events that come before the span starts wait for it and keep their
// own times; the span then has every start and end attribute, set once.
func TestConnSpanKeepsEarlyGoAways(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	tr := spans.NewTracer(tp, pulse.SideClient)
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1000}
	remote := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 443}

	for _, n := range []int{1, 2, 3, pulse.MaxGoAwayEvents + 2} {
		var c spans.ConnSpan
		tr.Prepare(&c, &spans.Origin{Local: local, Remote: remote, Begin: time.Now()})
		var sent []time.Time
		for i := range n {
			sent = append(sent, time.Now())
			c.GoAway(conntrack.GoAway{Dir: conntrack.Sent, Reason: conntrack.GoAwayClientShutdown, LastStreamID: uint32(i)})
		}
		started := len(rec.Started())
		c.End(spans.ConnEnd{Reason: pulse.ReasonClientShutdown, Initiator: pulse.InitiatorLocal})
		s := rec.Ended()[len(rec.Ended())-1]

		want := min(n, pulse.MaxGoAwayEvents)
		if len(s.Events()) != want {
			t.Fatalf("%d GOAWAYs: %d events, want %d", n, len(s.Events()), want)
		}
		for i, ev := range s.Events() {
			if ev.Time.Before(sent[i]) || (i+1 < len(sent) && ev.Time.After(sent[i+1])) {
				t.Errorf("%d GOAWAYs: event %d at %v, want its own time (sent at %v)", n, i, ev.Time, sent[i])
			}
			if id, _ := attr(ev.Attributes, "grpc.goaway.last_stream_id"); id.AsInt64() != int64(i) {
				t.Errorf("%d GOAWAYs: event %d has last_stream_id %d", n, i, id.AsInt64())
			}
		}
		for _, key := range []string{"grpc.side", "network.peer.address", "network.local.port", "grpc.close.reason", "grpc.goaway.count"} {
			if _, ok := attr(s.Attributes(), key); !ok {
				t.Errorf("%d GOAWAYs: no %s", n, key)
			}
		}
		if got, _ := attr(s.Attributes(), "grpc.goaway.count"); got.AsInt64() != int64(n) {
			t.Errorf("%d GOAWAYs: grpc.goaway.count %d", n, got.AsInt64())
		}
		if n <= 2 && started != len(rec.Started())-1 {
			t.Errorf("%d GOAWAYs started the span before its end", n)
		}
	}
}
