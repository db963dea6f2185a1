package tracing

import (
	"context"
	"net"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/grpcpulse/grpcpulse/internal/semconv"
)

// Span and event names.
const (
	// ConnSpanName is the name of a transport's span.
	ConnSpanName = "grpc.transport"
	// EventGoAway is recorded for each GOAWAY sent or received.
	EventGoAway = "grpc.goaway"
	// EventKeepaliveTimeout is recorded when this side's keepalive PING
	// went unanswered and this side closed the transport.
	EventKeepaliveTimeout = "grpc.keepalive.timeout"
)

// MaxGoAwayEvents caps the grpc.goaway events of one transport span. grpc-go
// sends at most a handful per connection; the cap holds against a peer
// that sends GOAWAY after GOAWAY. Events beyond it are counted in the
// grpc.goaway.count attribute.
const MaxGoAwayEvents = 8

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

// NewTracer returns a Tracer for side ("client" or "server").
func NewTracer(tp trace.TracerProvider, side string) *Tracer {
	return &Tracer{tracer: tp.Tracer(semconv.ScopeName), side: semconv.Side.String(side)}
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
	attrs = appendAddr(attrs, "network.peer", remote)
	attrs = appendAddr(attrs, "network.local", local)
	_, span := t.tracer.Start(ctx, ConnSpanName,
		trace.WithNewRoot(),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attrs...))
	return &ConnSpan{span: span}
}

// appendAddr adds prefix.address and prefix.port for a TCP address.
func appendAddr(attrs []attribute.KeyValue, prefix string, a net.Addr) []attribute.KeyValue {
	addr, port, ok := tcpAddr(a)
	if !ok {
		return attrs
	}
	return append(attrs, attribute.String(prefix+".address", addr), attribute.Int(prefix+".port", port))
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

// GoAway records a GOAWAY event, up to MaxGoAwayEvents.
func (c *ConnSpan) GoAway(g GoAway) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.goAways++
	record := c.goAways <= MaxGoAwayEvents
	c.mu.Unlock()
	if record {
		c.span.AddEvent(EventGoAway, trace.WithAttributes(g.attributes()...))
	}
}

// GoAway describes a GOAWAY. Every field comes from a bounded set.
type GoAway struct {
	Direction    string // "sent" or "received"
	Code         string // HTTP/2 error code name
	Reason       string // grpc.goaway.reason
	LastStreamID uint32
}

func (g GoAway) attributes() []attribute.KeyValue {
	return []attribute.KeyValue{
		semconv.GoAwayDirection.String(g.Direction),
		semconv.GoAwayCode.String(g.Code),
		semconv.GoAwayReason.String(g.Reason),
		semconv.GoAwayLastID.Int64(int64(g.LastStreamID)),
	}
}

// ConnEnd describes how a transport ended.
type ConnEnd struct {
	Reason        string // grpc.close.reason
	Initiator     string // grpc.close.initiator
	PingsSent     int64  // keepalive PINGs sent
	PingsReceived int64  // keepalive PINGs received
	RPCs          int64  // RPC attempts the transport carried
}

// failureReasons are the close reasons that set the span's status to Error:
// the transport failed, rather than being closed by design.
var failureReasons = map[string]bool{
	"keepalive_timeout": true,
	"too_many_pings":    true,
	"connection_reset":  true,
	"io_error":          true,
}

// End ends the span with how the transport ended.
func (c *ConnSpan) End(e ConnEnd) {
	if c == nil {
		return
	}
	c.mu.Lock()
	goAways := c.goAways
	c.mu.Unlock()
	if e.Reason == "keepalive_timeout" {
		c.span.AddEvent(EventKeepaliveTimeout)
	}
	c.span.SetAttributes(
		semconv.CloseReason.String(e.Reason),
		semconv.CloseInitiator.String(e.Initiator),
		attrPingsSent.Int64(e.PingsSent),
		attrPingsReceived.Int64(e.PingsReceived),
		attrRPCs.Int64(e.RPCs),
		attrGoAways.Int(goAways),
	)
	if failureReasons[e.Reason] {
		c.span.SetStatus(codes.Error, e.Reason)
	}
	c.span.End()
}
