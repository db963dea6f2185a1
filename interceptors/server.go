package interceptors

import (
	"context"

	mw "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"google.golang.org/grpc"

	"github.com/grpcpulse/grpcpulse/internal/rpclink"
	"github.com/grpcpulse/grpcpulse/internal/spans"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// UnaryServerInterceptor returns an interceptor that counts the handlers
// that fail because their transport ended (the client vanished behind a
// blackhole, the connection was reset, the server cut it at
// MaxConnectionAge + grace...), by the transport's close reason.
//
// Install it with the grpcpulse server stats handler and its wrapped
// credentials (options.Server does all three): the handler's context leads
// to the transport and the credentials let it see why the transport ended.
// Without them nothing is counted: a cancelled handler context alone does
// not say whether the transport ended.
func UnaryServerInterceptor(opts ...Option) grpc.UnaryServerInterceptor {
	// Unary interceptors only run for registered methods: grpc-go sends
	// unknown methods to the UnknownServiceHandler, a stream handler.
	rec := newRecorder(pulse.SideServer, opts)
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

// StreamServerInterceptor is UnaryServerInterceptor for streaming handlers,
// including a grpc.UnknownServiceHandler, whose calls are counted with
// rpc.method "_OTHER".
//
// It reports to the same go-grpc-middleware Reporter as the unary
// interceptor, with go-grpc-middleware's semantics (PostCall when the
// handler returns), but hands the handler its stream unwrapped instead of
// go-grpc-middleware's monitored stream, which reads the clock twice per
// message for PostMsgSend and PostMsgReceive: grpcpulse reports only the
// call's end, so a message costs it nothing.
func StreamServerInterceptor(opts ...Option) grpc.StreamServerInterceptor {
	rec := newRecorder(pulse.SideServer, opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if srv == nil {
			// grpc-go passes the service implementation, and nil for
			// the UnknownServiceHandler: the method was chosen by the
			// peer.
			spans.MarkUnregistered(ss.Context())
			if a := rpclink.AttemptFrom(ss.Context()); a != nil {
				a.SetUnregistered()
			}
			ss = &serverStream{ServerStream: ss, ctx: withUnregistered(ss.Context())}
		}
		// The recorder's reporters keep the context they are given, so
		// the stream needs no wrapper to carry a new one.
		reporter, _ := rec.ServerReporter(ss.Context(), mw.NewServerCallMeta(info.FullMethod, info, nil))
		err := handler(srv, ss)
		// The Reporter ignores durations: the clock is not read for them.
		reporter.PostCall(err, 0)
		return err
	}
}

type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }
