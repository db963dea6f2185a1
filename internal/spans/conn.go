package spans

import (
	"context"
	"net"
	"sync"

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

// ConnSpan is the span of one transport. Its methods are safe for
// concurrent use.
type ConnSpan struct {
	span trace.Span

	mu      sync.Mutex
	goAways int
}

// StartConn starts the span of a transport between local and remote. It is
// a root span: a transport outlives, and is shared by, the traces of the
// RPCs it carries, which link to it instead.
func (t *Tracer) StartConn(ctx context.Context, local, remote net.Addr) *ConnSpan {
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, t.side)
	attrs = appendAddr(attrs, attrPeerAddress, attrPeerPort, remote)
	attrs = appendAddr(attrs, attrLocalAddress, attrLocalPort, local)
	_, span := t.tracer.Start(ctx, semconv.ConnSpanName,
		trace.WithNewRoot(),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attrs...))
	return &ConnSpan{span: span}
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

// SpanContext returns the span's context, for links from RPC spans. It is
// the zero SpanContext for a nil ConnSpan.
func (c *ConnSpan) SpanContext() trace.SpanContext {
	if c == nil {
		return trace.SpanContext{}
	}
	return c.span.SpanContext()
}

// GoAway records a GOAWAY event, up to semconv.MaxGoAwayEvents.
func (c *ConnSpan) GoAway(attrs []attribute.KeyValue) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.goAways++
	record := c.goAways <= semconv.MaxGoAwayEvents
	c.mu.Unlock()
	if record {
		c.span.AddEvent(semconv.EventGoAway, trace.WithAttributes(attrs...))
	}
}

// Event records an event on the span.
func (c *ConnSpan) Event(name string, attrs []attribute.KeyValue) {
	if c != nil {
		c.span.AddEvent(name, trace.WithAttributes(attrs...))
	}
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
	if c == nil {
		return
	}
	c.mu.Lock()
	goAways := c.goAways
	c.mu.Unlock()
	if e.Reason == conntrack.ReasonKeepaliveTimeout {
		c.span.AddEvent(semconv.EventKeepaliveTimeout)
	}
	c.span.SetAttributes(
		semconv.CloseReason.String(e.Reason.String()),
		semconv.CloseInitiator.String(e.Initiator.String()),
		attrPingsSent.Int64(e.PingsSent),
		attrPingsReceived.Int64(e.PingsReceived),
		attrRPCs.Int64(e.RPCs),
		attrGoAways.Int(goAways),
	)
	if e.Reason.Failure() {
		c.span.SetStatus(codes.Error, e.Reason.String())
	}
	c.span.End()
}
