package rpclink

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
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

	active        atomic.Int64 // RPC attempts in flight
	activeAtClose atomic.Int64 // active when the transport began to end, plus one; 0: not yet
}

// AddActive adds d to the number of attempts in flight on the transport.
func (c *Conn) AddActive(d int64) { c.active.Add(d) }

// MarkClosing records the number of attempts in flight at the first sign
// that the transport is ending. grpc-go fails those attempts afterwards,
// and a server's handlers may return before the transport's ConnEnd, so
// the count at ConnEnd would miss them.
func (c *Conn) MarkClosing() {
	c.activeAtClose.CompareAndSwap(0, c.active.Load()+1)
}

// ActiveAtEnd reports whether attempts were in flight when the transport
// began to end (MarkClosing), or, if that moment was not observed, now.
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
