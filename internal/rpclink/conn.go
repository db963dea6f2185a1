package rpclink

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
	"github.com/grpcpulse/grpcpulse/internal/spans"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Conn is one transport as the RPC layer sees it. A stats handler creates it
// at TagConn and stores it in the transport's context; on a server every RPC
// context derives from that context, so a handler finds its transport there.
type Conn struct {
	// Journal is the frame observer's record of the connection, nil when
	// the credentials were not wrapped.
	Journal *conntrack.Journal
	// Origin holds the transport's addresses, as grpc-go reported them,
	// and when it was tagged.
	spans.Origin
	// Span is the transport's span, off when connection spans are off.
	Span spans.ConnSpan

	rpcs atomic.Int64 // RPC attempts carried in all
	// peer is the client's implementation as its first RPC's user-agent
	// names it, plus one; zero until a server's first RPC decided it.
	peer atomic.Uint32

	// The attempts in flight, as an intrusive list (no allocation per
	// RPC): their spans get the transport's GOAWAY events, and those still
	// in flight, their contexts live, when the transport begins to end are
	// the ones its teardown cuts. The counts are int32 and packed, as
	// every live connection holds them: HTTP/2 streams in flight on one
	// transport fit with room to spare.
	mu       sync.Mutex
	inflight *Attempt
	cutRPCs  *[4]Cut // some of the attempts cut, for the diagnosis; allocated only if there are any
	active   int32
	cut      int32 // attempts the transport's end cut (MarkClosing)
	nCutRPCs uint8
	closing  bool
}

// Cut is an RPC attempt the transport's teardown cut.
type Cut struct {
	Method string    // the full method, or OtherMethod for a peer-chosen one
	Began  time.Time // when the attempt began
}

// PeerDecided reports whether the peer's implementation was decided from
// an RPC's user-agent (SetPeer).
func (c *Conn) PeerDecided() bool { return c.peer.Load() != 0 }

// SetPeer records the implementation the user-agent of the transport's
// first RPC names (possibly ImplementationUnknown: a first RPC without
// one); later calls change nothing.
func (c *Conn) SetPeer(impl pulse.Implementation) { c.peer.CompareAndSwap(0, uint32(impl)+1) }

// Peer returns the implementation SetPeer recorded, or
// ImplementationUnknown.
func (c *Conn) Peer() pulse.Implementation {
	if p := c.peer.Load(); p != 0 {
		return pulse.Implementation(p - 1)
	}
	return pulse.ImplementationUnknown
}

// RPCs returns the number of attempts the transport carried.
func (c *Conn) RPCs() int64 { return c.rpcs.Load() }

func (c *Conn) add(a *Attempt) {
	c.rpcs.Add(1)
	c.mu.Lock()
	if a.done.Load() {
		// Finished before it was listed.
		c.mu.Unlock()
		return
	}
	a.listed = true
	a.next = c.inflight
	if a.next != nil {
		a.next.prev = a
	}
	c.inflight = a
	c.active++
	if c.closing && a.ctx.Err() == nil {
		// Attached to a transport already ending (a server's handler
		// goroutine can begin after its stream's transport began to
		// close): the end cuts it too.
		c.markCutLocked(a)
	}
	c.mu.Unlock()
}

func (c *Conn) remove(a *Attempt) {
	c.mu.Lock()
	if !a.listed {
		c.mu.Unlock()
		return
	}
	a.listed = false
	if a.prev != nil {
		a.prev.next = a.next
	} else if c.inflight == a {
		c.inflight = a.next
	}
	if a.next != nil {
		a.next.prev = a.prev
	}
	a.prev, a.next = nil, nil
	c.active--
	c.mu.Unlock()
}

// EachSpan calls f with the recording span of every attempt in flight. f
// runs without the lock held, so it may take its time.
func (c *Conn) EachSpan(f func(trace.Span)) {
	var buf [8]trace.Span
	spans := buf[:0]
	c.mu.Lock()
	for a := c.inflight; a != nil; a = a.next {
		if a.span != nil {
			spans = append(spans, a.span)
		}
	}
	c.mu.Unlock()
	for _, s := range spans {
		f(s)
	}
}

// MarkClosing records the attempts the teardown cuts, at the first sign
// that the transport is ending: those in flight then (an attempt finishes
// when it no longer needs the transport; see Attempt.Finish) whose context
// is still live. grpc-go fails them afterwards, and a server's handlers may
// return before the transport's ConnEnd, so the count at ConnEnd would miss
// them.
//
// An attempt whose context already ended was not cut, whatever the
// transport does next: its client cancelled it or its deadline passed. On a
// server, the client's RST_STREAM cancels the stream's context before
// grpc-go forgets the stream, and only then, if that was the last stream of
// a draining transport, does grpc-go close the transport; the streams the
// close cuts have their contexts cancelled only after the conn's Close,
// which is what calls this. On a client, the application's cancel ends the
// attempt's context before grpc-go resets the stream and, on a draining
// transport, closes it, while an attempt its transport fails has a live
// context until grpc-go has reported its End.
func (c *Conn) MarkClosing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.closing = true
	for a := c.inflight; a != nil; a = a.next {
		if a.ctx.Err() == nil {
			c.markCutLocked(a)
		}
	}
}

// markCutLocked records a as cut by the transport's end.
func (c *Conn) markCutLocked(a *Attempt) {
	a.cut = true
	c.cut++
	if c.cutRPCs == nil {
		c.cutRPCs = new([4]Cut)
	}
	if int(c.nCutRPCs) < len(c.cutRPCs) {
		c.cutRPCs[c.nCutRPCs] = Cut{Method: a.method(), Began: a.began}
		c.nCutRPCs++
	}
}

// WasCut reports whether the transport has begun to end (MarkClosing) and,
// if so, whether its end cut a.
func (c *Conn) WasCut(a *Attempt) (closing, cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing, c.closing && a.cut
}

// CutRPCs returns how many attempts the teardown cut, and some of them:
// those in flight when the transport began to end (MarkClosing), or, if
// that moment was not observed, now.
func (c *Conn) CutRPCs() (int, []Cut) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing {
		return int(c.active), nil
	}
	if c.cutRPCs == nil {
		return int(c.cut), nil
	}
	return int(c.cut), append([]Cut(nil), c.cutRPCs[:c.nCutRPCs]...)
}

// ActiveAtEnd reports whether the teardown cut attempts.
func (c *Conn) ActiveAtEnd() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return c.cut > 0
	}
	return c.active > 0
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

// NewConn returns a new Conn and a context derived from parent that carries
// it, in one allocation.
func NewConn(parent context.Context) (context.Context, *Conn) {
	return carry[connKey, Conn](parent)
}

// ConnFrom returns the Conn stored in ctx, or nil.
func ConnFrom(ctx context.Context) *Conn {
	c, _ := ctx.Value(connKey{}).(*Conn)
	return c
}
