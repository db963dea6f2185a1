package rpclink

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
	"github.com/grpcpulse/grpcpulse/internal/spans"
)

// Conn is one transport as the RPC layer sees it. A stats handler creates it
// at TagConn and stores it in the transport's context; on a server every RPC
// context derives from that context, so a handler finds its transport there.
type Conn struct {
	// Journal is the frame observer's record of the connection, nil when
	// the credentials were not wrapped.
	Journal *conntrack.Journal
	// Begin is when the transport was tagged.
	Begin time.Time
	// Span is the transport's span, nil when connection spans are off.
	Span *spans.ConnSpan

	rpcs atomic.Int64 // RPC attempts carried in all

	mu    sync.Mutex
	spans map[*Attempt]trace.Span // recording spans of the attempts in flight

	active        atomic.Int64 // RPC attempts in flight
	activeAtClose atomic.Int64 // active when the transport began to end, plus one; 0: not yet
}

// RPCs returns the number of attempts the transport carried.
func (c *Conn) RPCs() int64 { return c.rpcs.Load() }

// TrackSpan records the span of an attempt in flight on the transport, so
// that transport events can be added to it.
func (c *Conn) TrackSpan(a *Attempt, span trace.Span) {
	c.mu.Lock()
	if c.spans == nil {
		c.spans = make(map[*Attempt]trace.Span)
	}
	c.spans[a] = span
	c.mu.Unlock()
}

// UntrackSpan forgets the span of an attempt that ended.
func (c *Conn) UntrackSpan(a *Attempt) {
	c.mu.Lock()
	delete(c.spans, a)
	c.mu.Unlock()
}

// EachSpan calls f with the span of every attempt in flight. f runs without
// the lock held, so it may take its time.
func (c *Conn) EachSpan(f func(trace.Span)) {
	c.mu.Lock()
	spans := make([]trace.Span, 0, len(c.spans))
	for _, s := range c.spans {
		spans = append(spans, s)
	}
	c.mu.Unlock()
	for _, s := range spans {
		f(s)
	}
}

// MarkClosing records the number of attempts in flight at the first sign
// that the transport is ending: those are the attempts the teardown cuts
// (an attempt finishes when it no longer needs the transport; see
// Attempt.Finish). grpc-go fails them afterwards, and a server's handlers
// may return before the transport's ConnEnd, so the count at ConnEnd would
// miss them.
func (c *Conn) MarkClosing() {
	c.activeAtClose.CompareAndSwap(0, c.active.Load()+1)
}

// ActiveAtEnd reports whether the teardown cut attempts: whether any were
// in flight when the transport began to end (MarkClosing), or, if that
// moment was not observed, now.
func (c *Conn) ActiveAtEnd() bool {
	if n := c.activeAtClose.Load(); n > 0 {
		return n > 1
	}
	return c.active.Load() > 0
}

// Snapshot returns the journal's state, or a zero Snapshot (Observed false)
// without a journal.
func (c *Conn) Snapshot() conntrack.Snapshot {
	if c == nil || c.Journal == nil {
		return conntrack.Snapshot{}
	}
	return c.Journal.Snapshot()
}

type connKey struct{}

// WithConn returns ctx carrying c.
func WithConn(ctx context.Context, c *Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// ConnFrom returns the Conn stored in ctx, or nil.
func ConnFrom(ctx context.Context) *Conn {
	c, _ := ctx.Value(connKey{}).(*Conn)
	return c
}
