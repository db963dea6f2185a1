package handler

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	grpcstats "google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
	"github.com/grpcpulse/grpcpulse/internal/rpclink"
	"github.com/grpcpulse/grpcpulse/internal/spans"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// TagRPC joins the attempt to its call. When a grpcpulse interceptor made
// the call, the attempt is recorded in the call's state, so that the
// interceptor can tell, when the call ends, which transport its last attempt
// ran on.
//
// The Handler counts no RPC failures itself: an attempt that fails may be
// retried transparently and succeed, which only the call's end can tell.
// grpc.rpc.transport_failures is counted once per call, by the interceptors.
func (h *Handler) TagRPC(ctx context.Context, info *grpcstats.RPCTagInfo) context.Context {
	if h.rpcs != nil {
		ctx = h.rpcs.Start(ctx, info.FullMethodName)
	}
	ctx, a := rpclink.WithAttempt(ctx, info.FullMethodName)
	if call := rpclink.CallFrom(ctx); call != nil {
		call.SetAttempt(a)
		if call.Unregistered() {
			a.SetUnregistered()
		}
	}
	return ctx
}

// HandleRPC joins each attempt to its transport: on a server at Begin, from
// the transport state its context derives from; on a client at OutHeader,
// the first event after the transport is chosen, by the identity of the
// address values grpc-go reports (those of the observer's conn). It keeps
// each transport's count of attempts in flight (grpc.close.active_rpcs) and
// notes whether the peer's status arrived.
func (h *Handler) HandleRPC(ctx context.Context, s grpcstats.RPCStats) {
	// Payload events, one per message, and the headers it does not need
	// return at once: the attempt is looked up only for the events used.
	var a *rpclink.Attempt
	switch ev := s.(type) {
	case *grpcstats.Begin, *grpcstats.OutHeader, *grpcstats.InTrailer, *grpcstats.OutTrailer, *grpcstats.End:
		if a = rpclink.AttemptFrom(ctx); a == nil {
			return
		}
	case *grpcstats.InHeader:
		if !ev.Client {
			readUserAgent(ctx, ev)
		}
		return
	default:
		return
	}
	switch ev := s.(type) {
	case *grpcstats.Begin:
		a.SetBegun(ev.BeginTime)
		if h.side == pulse.SideServer {
			h.attach(ctx, a, rpclink.ConnFrom(ctx))
			if p, ok := peer.FromContext(ctx); ok && h.rpcs != nil {
				h.rpcs.SetPeer(ctx, p.Addr)
			}
		}
	case *grpcstats.OutHeader:
		if ev.Client && h.rpcs != nil {
			h.rpcs.SetPeer(ctx, ev.RemoteAddr)
		}
		if ev.Client && a.Conn() == nil {
			if j := h.reg.Lookup(ev.LocalAddr, ev.RemoteAddr); j != nil {
				c, _ := j.Tag().(*rpclink.Conn)
				h.attach(ctx, a, c)
			}
		}
	case *grpcstats.InTrailer:
		a.SetTrailers()
		a.Finish()
	case *grpcstats.OutTrailer:
		// The server interceptor finished the attempt already, before the
		// status was written; without it, this is the earliest moment.
		a.Finish()
		if !ev.Client && !a.Begun() && h.rpcs != nil {
			// A method the server does not register: grpc-go writes
			// Unimplemented and sends neither Begin nor End.
			h.rpcs.End(ctx, status.Error(codes.Unimplemented, "unknown method"))
		}
	case *grpcstats.End:
		a.Finish()
		if c := a.Conn(); c != nil {
			if ev.Error != nil {
				h.annotateFailure(ctx, a, c, ev.Error)
			}
		}
		if h.rpcs != nil {
			h.rpcs.End(ctx, ev.Error)
		}
	}
}

// readUserAgent records, at a server transport's first RPC, the client
// implementation its user-agent names: a map lookup in metadata grpc-go has
// already parsed, and nothing at all for the RPCs after it.
func readUserAgent(ctx context.Context, ev *grpcstats.InHeader) {
	c := rpclink.ConnFrom(ctx)
	if c == nil || c.PeerDecided() {
		return
	}
	var ua string
	if v := ev.Header["user-agent"]; len(v) > 0 {
		ua = v[0]
	}
	impl := conntrack.ImplementationFromUserAgent(ua)
	c.SetPeer(impl)
	if c.Journal != nil {
		c.Journal.SetPeer(impl)
	}
}

func (h *Handler) attach(ctx context.Context, a *rpclink.Attempt, c *rpclink.Conn) {
	var recording trace.Span
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		recording = span
	}
	a.Attach(c, recording)
}

// annotateFailure decides, once for the attempt, whether it failed because
// its transport ended (the interceptors read the same decision), and marks
// the span in its context (otelgrpc's or the application's) if so. It runs
// at the attempt's End, which grpc-go delivers to grpcpulse's handler before
// a stats handler installed after it (otelgrpc) ends its span.
func (h *Handler) annotateFailure(ctx context.Context, a *rpclink.Attempt, c *rpclink.Conn, err error) {
	reason, ok := a.Cause(func() (pulse.Reason, bool) {
		if h.side == pulse.SideClient {
			return rpclink.ClientCause(a, err)
		}
		return rpclink.ServerCause(ctx, c, err)
	})
	if ok {
		spans.AnnotateFailure(trace.SpanFromContext(ctx), reason, c.Span.SpanContext())
	}
}
