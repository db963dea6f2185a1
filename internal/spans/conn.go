package spans

import (
	"context"
	"net"
	"reflect"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Attribute keys set at a transport span's end.
const (
	attrPingsSent     = semconv.PingsSent
	attrPingsReceived = semconv.PingsReceived
	attrRPCs          = semconv.RPCs
	attrGoAways       = semconv.GoAwayCount
)

// Tracer starts the transport spans of one side.
type Tracer struct {
	tracer trace.Tracer
	side   attribute.KeyValue
	kind   trace.SpanStartOption // made once: each conversion allocates
	// scratch holds attribute lists for reuse, or is nil. A transport
	// span's attributes and events are handed to the SDK once each and
	// copied by it (SetAttributes appends them to the span's own list,
	// AddEvent's options copy them), so one list can serve one call after
	// another: a short connection would otherwise leave its eleven
	// attributes and each GOAWAY's four, about 1 KiB, as garbage. Another
	// implementation of the trace API may keep the slice it is given, so
	// lists are reused only with the SDK's provider.
	scratch *sync.Pool
}

// attrList is the longest attribute list a transport span is given at once.
type attrList [12]attribute.KeyValue

// NewTracer returns a Tracer for one side.
func NewTracer(tp trace.TracerProvider, side pulse.Side) *Tracer {
	t := &Tracer{
		tracer: tp.Tracer(semconv.ScopeName, trace.WithInstrumentationVersion(semconv.Version)),
		side:   semconv.Side.String(side.String()),
		kind:   trace.WithSpanKind(trace.SpanKindInternal),
	}
	if copiesAttributes(tp) {
		t.scratch = &sync.Pool{New: func() any { return new(attrList) }}
	}
	return t
}

// sdkProvider is the OpenTelemetry SDK's TracerProvider, named rather than
// imported: an instrumentation library depends on the API only.
const sdkProvider = "go.opentelemetry.io/otel/sdk/trace.TracerProvider"

// copiesAttributes reports whether tp is the SDK's provider, whose spans
// copy the attribute lists SetAttributes and AddEvent are given, so that
// one list may serve one call after another.
func copiesAttributes(tp trace.TracerProvider) bool {
	t := reflect.TypeOf(tp)
	if t == nil || t.Kind() != reflect.Pointer {
		return false
	}
	return t.Elem().PkgPath()+"."+t.Elem().Name() == sdkProvider
}

// list returns an empty attribute list to build on. Give it back with
// release once the span has taken it.
func (t *Tracer) list() []attribute.KeyValue {
	if t.scratch == nil {
		return make([]attribute.KeyValue, 0, len(attrList{}))
	}
	return t.scratch.Get().(*attrList)[:0]
}

// release puts a list from list back for reuse, cleared so that it holds no
// strings alive, when lists are reused.
func (t *Tracer) release(kv []attribute.KeyValue) {
	if t.scratch == nil || cap(kv) != len(attrList{}) {
		return
	}
	l := (*attrList)(kv[:len(attrList{})])
	*l = attrList{}
	t.scratch.Put(l)
}

// ConnSpan is the span of one transport. Its zero value is off: every method
// does nothing. Its methods are safe for concurrent use.
//
// The SDK span is started only when it is first needed: at the transport's
// end, or earlier when an RPC links to it or a diagnosis is recorded on it.
// It starts with the transport's begin time, and the GOAWAY events that came
// before it are added with their own times, so what an exporter receives is
// the span a start at TagConn would have given. What this saves is the
// memory of a recording span (about 0.9 KiB with its attributes, more than
// the rest of what an idle connection costs grpcpulse) for the whole life of
// every idle connection.
//
// Its attributes are set once, at the end, start and end attributes
// together: the SDK copies start attributes twice and grows its list again
// for every later SetAttributes, which a short connection pays in garbage.
// What changes is only what a span processor's OnStart and a sampler see:
// a span without attributes, and while the connection is live, no span.
type ConnSpan struct {
	t      *Tracer // nil: connection spans are off
	origin *Origin

	mu      sync.Mutex
	span    trace.Span // nil until first needed
	goAways int
	pending *pendingGoAways // GOAWAY events before the span started
}

// pendingGoAways holds the first GOAWAY events of a transport whose span has
// not started. A transport sees one or two (a drain is one event); a third
// starts the span.
type pendingGoAways struct {
	n  int
	ev [2]pendingGoAway
}

type pendingGoAway struct {
	at time.Time
	g  conntrack.GoAway
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

// appendStartAttrs appends the attributes that describe the transport
// itself.
func (c *ConnSpan) appendStartAttrs(attrs []attribute.KeyValue) []attribute.KeyValue {
	attrs = append(attrs, c.t.side)
	attrs = appendAddr(attrs, attrPeerAddress, attrPeerPort, c.origin.Remote)
	return appendAddr(attrs, attrLocalAddress, attrLocalPort, c.origin.Local)
}

// started returns the span, starting it if it has not started. A span
// started before the end gets its start attributes at once (they say which
// transport a link points to). Call it with c.mu held.
func (c *ConnSpan) started() trace.Span {
	if c.span == nil {
		c.start()
		attrs := c.appendStartAttrs(c.t.list())
		c.span.SetAttributes(attrs...)
		c.t.release(attrs)
	}
	return c.span
}

// start starts the span, without attributes, and adds the GOAWAY events
// that waited for it. Call it with c.mu held.
//
// It starts from context.Background, which holds no span to be a parent, so
// the span is a root without WithNewRoot (which costs the SDK a context and
// a span of its own).
func (c *ConnSpan) start() {
	_, c.span = c.t.tracer.Start(context.Background(), semconv.ConnSpanName,
		trace.WithTimestamp(c.origin.Begin), c.t.kind)
	if p := c.pending; p != nil {
		for _, ev := range p.ev[:p.n] {
			c.addGoAway(ev.g, ev.at)
		}
		c.pending = nil
	}
}

// addGoAway adds a GOAWAY event to the started span, at time at, or now
// when at is zero. Call it with c.mu held.
func (c *ConnSpan) addGoAway(g conntrack.GoAway, at time.Time) {
	attrs := AppendGoAwayAttributes(c.t.list(), g)
	if at.IsZero() {
		c.span.AddEvent(semconv.EventGoAway, trace.WithAttributes(attrs...))
	} else {
		c.span.AddEvent(semconv.EventGoAway, trace.WithTimestamp(at), trace.WithAttributes(attrs...))
	}
	c.t.release(attrs)
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
func (c *ConnSpan) GoAway(g conntrack.GoAway) {
	if !c.On() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.goAways++
	if c.goAways > semconv.MaxGoAwayEvents {
		return
	}
	if c.span == nil {
		// Most transports see their only GOAWAY as they end: keep it
		// for the span that the end starts.
		if c.pending == nil {
			c.pending = new(pendingGoAways)
		}
		if p := c.pending; p.n < len(p.ev) {
			p.ev[p.n] = pendingGoAway{at: time.Now(), g: g}
			p.n++
			return
		}
	}
	c.started()
	c.addGoAway(g, time.Time{})
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
	return AppendGoAwayAttributes(make([]attribute.KeyValue, 0, 4), g)
}

// AppendGoAwayAttributes appends the attributes of GoAwayAttributes to
// attrs.
func AppendGoAwayAttributes(attrs []attribute.KeyValue, g conntrack.GoAway) []attribute.KeyValue {
	return append(attrs,
		semconv.GoAwayDirection.String(g.Dir.String()),
		semconv.GoAwayCode.String(conntrack.GoAwayCodeName(g.Code)),
		semconv.GoAwayReason.String(g.Reason.String()),
		semconv.GoAwayLastID.Int64(int64(g.LastStreamID)),
	)
}

// appendEndAttrs appends the attributes that say how the transport ended.
//
// It is kept out of line: the attribute values it builds take 400 bytes of
// stack, which End would otherwise hold through the SDK calls that follow,
// on the goroutine that ends the transport, whose stack is small (a
// kilobyte more on the way down can make the runtime copy the whole stack).
//
//go:noinline
func appendEndAttrs(attrs []attribute.KeyValue, e *ConnEnd, goAways int) []attribute.KeyValue {
	if e.Peer != pulse.ImplementationUnknown {
		attrs = append(attrs, semconv.PeerImpl.String(e.Peer.String()))
	}
	return append(attrs,
		semconv.CloseReason.String(e.Reason.String()),
		semconv.CloseInitiator.String(e.Initiator.String()),
		attrPingsSent.Int64(e.PingsSent),
		attrPingsReceived.Int64(e.PingsReceived),
		attrRPCs.Int64(e.RPCs),
		attrGoAways.Int(goAways),
	)
}

// ConnEnd describes how a transport ended.
type ConnEnd struct {
	Reason        pulse.Reason
	Initiator     pulse.Initiator
	Peer          pulse.Implementation // the peer's implementation, when known
	PingsSent     int64                // keepalive PINGs sent
	PingsReceived int64                // keepalive PINGs received
	RPCs          int64                // RPC attempts the transport carried
}

// End ends the span with how the transport ended. Its status is Error when
// the transport failed rather than being closed by design.
func (c *ConnSpan) End(e ConnEnd) {
	if !c.On() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	attrs := c.t.list()
	if c.span == nil {
		c.start()
		attrs = c.appendStartAttrs(attrs)
	}
	span := c.span
	if e.Reason == pulse.ReasonKeepaliveTimeout {
		span.AddEvent(semconv.EventKeepaliveTimeout)
	}
	attrs = appendEndAttrs(attrs, &e, c.goAways)
	span.SetAttributes(attrs...)
	c.t.release(attrs)
	if e.Reason.Failure() {
		span.SetStatus(codes.Error, e.Reason.String())
	}
	span.End()
}
