package spans

import (
	"context"
	"net"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
)

// Attribute keys set at a transport span's end.
const (
	attrPingsSent     = attribute.Key("grpc.keepalive.pings_sent")
	attrPingsReceived = attribute.Key("grpc.keepalive.pings_received")
	attrRPCs          = attribute.Key("grpc.rpcs")
	attrGoAways       = attribute.Key("grpc.goaway.count")
)

// Tracer starts the transport spans of one side.
type Tracer struct {
	tracer trace.Tracer
	side   attribute.KeyValue
}

// NewTracer returns a Tracer for one side.
func NewTracer(tp trace.TracerProvider, side conntrack.Side) *Tracer {
	return &Tracer{tracer: tp.Tracer(semconv.ScopeName, trace.WithInstrumentationVersion(semconv.Version)), side: semconv.Side.String(side.String())}
}

// ConnSpan is the span of one transport. Its zero value is off: every method
// does nothing. Its methods are safe for concurrent use.
//
// The SDK span is started only when it is first needed: at the transport's
// end, at its first event, or when an RPC links to it. It starts then with
// the transport's begin time, so what an exporter receives is the same span
// it would have received from a start at TagConn. What this saves is the
// memory of a recording span and its start attributes (about 0.9 KiB, more
// than the rest of what an idle connection costs grpcpulse) for the whole
// life of every idle connection. What it changes is only what a span
// processor's OnStart sees while the connection is live: nothing yet.
type ConnSpan struct {
	t      *Tracer // nil: connection spans are off
	origin *Origin

	mu      sync.Mutex
	span    trace.Span // nil until first needed
	goAways int
}

// Origin is what a transport span says of the transport at its start.
type Origin struct {
	Local, Remote net.Addr
	Begin         time.Time // when the transport was tagged
}

// Prepare readies c to be the span of the transport o describes, which must
// stay unchanged while c is used. The span is a root span: a transport
// outlives, and is shared by, the traces of the RPCs it carries, which link
// to it instead.
func (t *Tracer) Prepare(c *ConnSpan, o *Origin) {
	c.t, c.origin = t, o
}

// On reports whether c records a span.
func (c *ConnSpan) On() bool { return c.t != nil }

// started returns the span, starting it if it has not started. Call it
// with c.mu held.
func (c *ConnSpan) started() trace.Span {
	if c.span == nil {
		attrs := make([]attribute.KeyValue, 0, 5)
		attrs = append(attrs, c.t.side)
		attrs = appendAddr(attrs, attrPeerAddress, attrPeerPort, c.origin.Remote)
		attrs = appendAddr(attrs, attrLocalAddress, attrLocalPort, c.origin.Local)
		_, c.span = c.t.tracer.Start(context.Background(), semconv.ConnSpanName,
			trace.WithNewRoot(),
			trace.WithTimestamp(c.origin.Begin),
			trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(attrs...))
	}
	return c.span
}

// The address attributes of a transport span.
const (
	attrPeerAddress  = attribute.Key("network.peer.address")
	attrPeerPort     = attribute.Key("network.peer.port")
	attrLocalAddress = attribute.Key("network.local.address")
	attrLocalPort    = attribute.Key("network.local.port")
)

// appendAddr adds the address and port of a TCP address under the keys
// given.
func appendAddr(attrs []attribute.KeyValue, addrKey, portKey attribute.Key, a net.Addr) []attribute.KeyValue {
	addr, port, ok := tcpAddr(a)
	if !ok {
		return attrs
	}
	return append(attrs, addrKey.String(addr), portKey.Int(port))
}

// tcpAddr returns the address and port of a TCP address, an IPv4 address
// written as IPv4 even when it arrives IPv4-mapped.
func tcpAddr(a net.Addr) (addr string, port int, ok bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return "", 0, false
	}
	ap := ta.AddrPort()
	return ap.Addr().Unmap().String(), int(ap.Port()), true
}

// SpanContext returns the span's context, for links from RPC spans, starting
// the span if it has not started. It is the zero SpanContext when c is off.
func (c *ConnSpan) SpanContext() trace.SpanContext {
	if !c.On() {
		return trace.SpanContext{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.started().SpanContext()
}

// GoAway records a GOAWAY event, up to semconv.MaxGoAwayEvents.
func (c *ConnSpan) GoAway(attrs []attribute.KeyValue) {
	if !c.On() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.goAways++
	if c.goAways <= semconv.MaxGoAwayEvents {
		c.started().AddEvent(semconv.EventGoAway, trace.WithAttributes(attrs...))
	}
}

// Event records an event on the span.
func (c *ConnSpan) Event(name string, attrs []attribute.KeyValue) {
	if !c.On() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.started().AddEvent(name, trace.WithAttributes(attrs...))
}

// GoAwayAttributes returns the attributes of a GOAWAY, for its span events;
// the metric takes the same ones but the last-stream-id.
func GoAwayAttributes(g conntrack.GoAway) []attribute.KeyValue {
	return []attribute.KeyValue{
		semconv.GoAwayDirection.String(g.Dir.String()),
		semconv.GoAwayCode.String(conntrack.GoAwayCodeName(g.Code)),
		semconv.GoAwayReason.String(g.Reason.String()),
		semconv.GoAwayLastID.Int64(int64(g.LastStreamID)),
	}
}

// ConnEnd describes how a transport ended.
type ConnEnd struct {
	Reason        conntrack.Reason
	Initiator     conntrack.Initiator
	PingsSent     int64 // keepalive PINGs sent
	PingsReceived int64 // keepalive PINGs received
	RPCs          int64 // RPC attempts the transport carried
}

// End ends the span with how the transport ended. Its status is Error when
// the transport failed rather than being closed by design.
func (c *ConnSpan) End(e ConnEnd) {
	if !c.On() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	span := c.started()
	if e.Reason == conntrack.ReasonKeepaliveTimeout {
		span.AddEvent(semconv.EventKeepaliveTimeout)
	}
	span.SetAttributes(
		semconv.CloseReason.String(e.Reason.String()),
		semconv.CloseInitiator.String(e.Initiator.String()),
		attrPingsSent.Int64(e.PingsSent),
		attrPingsReceived.Int64(e.PingsReceived),
		attrRPCs.Int64(e.RPCs),
		attrGoAways.Int(c.goAways),
	)
	if e.Reason.Failure() {
		span.SetStatus(codes.Error, e.Reason.String())
	}
	span.End()
}
