package intercept

import (
	"context"

	mw "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"google.golang.org/grpc"

	"github.com/grpcpulse/grpcpulse/internal/rpclink"
	"github.com/grpcpulse/grpcpulse/internal/spans"
)

// UnaryServer is interceptors.UnaryServerInterceptor with rec.
func UnaryServer(rec *Recorder) grpc.UnaryServerInterceptor {
	// Unary interceptors only run for registered methods: grpc-go sends
	// unknown methods to the UnknownServiceHandler, a stream handler.
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		// What go-grpc-middleware's UnaryServerInterceptor does with the
		// Reporter, but for the calls that do nothing (PostMsgReceive and
		// PostMsgSend, and the clock readings for durations the Reporter
		// ignores), with the reporter on the stack: it allocates nothing.
		p := rec.serverReport(ctx, mw.NewServerCallMeta(info.FullMethod, nil, req))
		resp, err := handler(ctx, req)
		p.PostCall(err, 0)
		return resp, err
	}
}

// StreamServer is interceptors.StreamServerInterceptor with rec. It reports
// with go-grpc-middleware's semantics (PostCall when the handler returns)
// but hands the handler its stream unwrapped, where go-grpc-middleware's
// monitored stream reads the clock twice per message: grpcpulse reports
// only the call's end, so a message costs it nothing.
func StreamServer(rec *Recorder) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		// The recorder's reporters keep the context they are given, so
		// the stream needs no wrapper to carry a new one.
		p := rec.serverReport(ss.Context(), mw.NewServerCallMeta(info.FullMethod, info, nil))
		if srv == nil {
			// grpc-go passes the service implementation, and nil for
			// the UnknownServiceHandler: the method was chosen by the
			// peer.
			spans.MarkUnregistered(ss.Context())
			if a := rpclink.AttemptFrom(ss.Context()); a != nil {
				a.SetUnregistered()
			}
			p.unregistered = true
		}
		err := handler(srv, ss)
		// The Reporter ignores durations: the clock is not read for them.
		p.PostCall(err, 0)
		return err
	}
}
