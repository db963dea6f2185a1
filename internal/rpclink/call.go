package rpclink

import (
	"context"
	"sync/atomic"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
)

// Attempt is one attempt of a call on one transport. Its fields are set by
// the stats handler from events that can arrive on the sending and the
// receiving goroutine at once, hence the atomics.
type Attempt struct {
	conn     atomic.Pointer[Conn]
	trailers atomic.Bool
	begun    atomic.Bool
}

// SetBegun records the attempt's stats.Begin. A server sends none for a
// method it does not register and answers Unimplemented at once.
func (a *Attempt) SetBegun() { a.begun.Store(true) }

// Begun reports whether SetBegun was called.
func (a *Attempt) Begun() bool { return a.begun.Load() }

// Attach records the transport the attempt runs on. It reports whether this
// call attached it (the first one wins).
func (a *Attempt) Attach(c *Conn) bool {
	return c != nil && a.conn.CompareAndSwap(nil, c)
}

// Conn returns the transport the attempt ran on, or nil if it never reached
// one.
func (a *Attempt) Conn() *Conn { return a.conn.Load() }

// SetTrailers records that the peer's status (HTTP/2 trailers) arrived: the
// attempt's outcome was decided by the peer, not by its transport.
func (a *Attempt) SetTrailers() { a.trailers.Store(true) }

// Trailers reports whether the peer's status arrived.
func (a *Attempt) Trailers() bool { return a.trailers.Load() }

// Call is one call as an interceptor sees it: on a client it outlives each
// attempt (grpc-go retries transparently after some GOAWAYs), so the stats
// handler records every attempt here and the interceptor reads the last one
// when the call ends.
//
// Only client interceptors store a Call: a server handler's context, which
// may flow into calls the handler makes, carries none.
type Call struct {
	last atomic.Pointer[Attempt]

	// Set by the interceptor's reporter when the call ends and read by
	// the interceptor to wrap the error it returns, on the same goroutine.
	failed bool
	reason conntrack.Reason
}

// SetCause records that the call failed because its transport ended, and
// why.
func (c *Call) SetCause(r conntrack.Reason) { c.failed, c.reason = true, r }

// Cause returns what SetCause recorded.
func (c *Call) Cause() (conntrack.Reason, bool) { return c.reason, c.failed }

// SetAttempt records a new attempt as the call's latest.
func (c *Call) SetAttempt(a *Attempt) { c.last.Store(a) }

// LastAttempt returns the call's latest attempt, or nil if no grpcpulse
// stats handler saw one.
func (c *Call) LastAttempt() *Attempt { return c.last.Load() }

type callKey struct{}

// WithCall returns ctx carrying c.
func WithCall(ctx context.Context, c *Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

// CallFrom returns the Call stored in ctx, or nil.
func CallFrom(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}
