package rpclink

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Attempt is one attempt of a call on one transport. Its fields are set by
// the stats handler and the interceptors from events that can arrive on the
// sending and the receiving goroutine at once, hence the atomics.
type Attempt struct {
	conn         atomic.Pointer[Conn]
	trailers     atomic.Bool
	begun        atomic.Bool
	done         atomic.Bool
	unregistered atomic.Bool

	// Set before the attempt is attached, read under the Conn's lock.
	fullMethod string
	began      time.Time
	// ctx is the attempt's context, whose end says that the attempt ended
	// on its own: its client cancelled it or its deadline passed (see
	// Conn.MarkClosing).
	ctx        context.Context
	span       trace.Span // the recording span in the attempt's context, or nil
	prev, next *Attempt   // the Conn's list of attempts in flight
	listed     bool
	// cut: the attempt was in flight, and its context live, when its
	// transport began to end (Conn.MarkClosing). Written and read under
	// the Conn's lock.
	cut bool

	causeOnce sync.Once
	reason    pulse.Reason
	failed    bool
}

// SetUnregistered records that the attempt's method was chosen by a peer (a
// server's UnknownServiceHandler, or a client call not from generated
// code): it is named OtherMethod wherever it is reported.
func (a *Attempt) SetUnregistered() { a.unregistered.Store(true) }

func (a *Attempt) method() string {
	if a.unregistered.Load() {
		return semconv.OtherMethod
	}
	return strings.TrimPrefix(a.fullMethod, "/")
}

// SetBegun records the attempt's stats.Begin and its time. A server sends
// none for a method it does not register and answers Unimplemented at once.
func (a *Attempt) SetBegun(at time.Time) {
	a.began = at
	a.begun.Store(true)
}

// Begun reports whether SetBegun was called.
func (a *Attempt) Begun() bool { return a.begun.Load() }

// Attach records the transport the attempt runs on, with the recording span
// in its context (or nil), and counts the attempt in flight there. It
// reports whether this call attached it (the first one wins).
func (a *Attempt) Attach(c *Conn, span trace.Span) bool {
	if c == nil || a.done.Load() || !a.conn.CompareAndSwap(nil, c) {
		return false
	}
	a.span = span
	c.add(a)
	return true
}

// Finish records that the attempt no longer needs its transport, at the
// earliest moment each side knows it: on a server when the handler returns
// (before grpc-go writes the status, so before the client can react to it),
// on a client when the server's status arrives. An attempt still in flight
// when its transport begins to end is one the teardown cut
// (grpc.close.active_rpcs). Only the first call counts.
func (a *Attempt) Finish() {
	if !a.done.CompareAndSwap(false, true) {
		return
	}
	if c := a.conn.Load(); c != nil {
		c.remove(a)
	}
}

// Cause returns whether the attempt failed because its transport ended,
// and why, deciding it with decide the first time it is asked: the
// interceptor and the stats handler both need it, and whichever sees the
// attempt's end first decides for both.
func (a *Attempt) Cause(decide func() (pulse.Reason, bool)) (pulse.Reason, bool) {
	a.causeOnce.Do(func() { a.reason, a.failed = decide() })
	return a.reason, a.failed
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
	last         atomic.Pointer[Attempt]
	unregistered bool // set before any attempt starts

	// Set by the interceptor's reporter when the call ends and read by
	// the interceptor to wrap the error it returns, on the same goroutine.
	failed bool
	reason pulse.Reason
}

// SetCause records that the call failed because its transport ended, and
// why.
func (c *Call) SetCause(r pulse.Reason) { c.failed, c.reason = true, r }

// Cause returns what SetCause recorded.
func (c *Call) Cause() (pulse.Reason, bool) { return c.reason, c.failed }

type attemptKey struct{}

// WithAttempt returns ctx carrying a new attempt of fullMethod
// ("/pkg.Service/Method"), and the attempt. On a server the handler's
// context derives from it, so the interceptor finds the attempt there. The
// attempt keeps the returned context: it ends when the attempt's client
// cancels it or its deadline passes (on a server, when the client's
// RST_STREAM arrives), which tells an attempt that ended on its own from
// one its transport cut.
func WithAttempt(ctx context.Context, fullMethod string) (context.Context, *Attempt) {
	ctx, a := carry[attemptKey, Attempt](ctx)
	a.fullMethod = fullMethod
	a.ctx = ctx
	return ctx, a
}

// AttemptFrom returns the Attempt stored in ctx, or nil.
func AttemptFrom(ctx context.Context) *Attempt {
	a, _ := ctx.Value(attemptKey{}).(*Attempt)
	return a
}

// SetUnregistered records that the call's method is not from generated
// code: its attempts are reported as OtherMethod.
func (c *Call) SetUnregistered() { c.unregistered = true }

// Unregistered reports whether SetUnregistered was called.
func (c *Call) Unregistered() bool { return c.unregistered }

// SetAttempt records a new attempt as the call's latest.
func (c *Call) SetAttempt(a *Attempt) { c.last.Store(a) }

// LastAttempt returns the call's latest attempt, or nil if no grpcpulse
// stats handler saw one.
func (c *Call) LastAttempt() *Attempt { return c.last.Load() }

type callKey struct{}

// WithCall returns ctx carrying a new Call, and the Call.
func WithCall(ctx context.Context) (context.Context, *Call) {
	return carry[callKey, Call](ctx)
}

// CallFrom returns the Call stored in ctx, or nil.
func CallFrom(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}
