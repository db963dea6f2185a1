package intercept

import (
	"context"
	"errors"
	"io"

	mw "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"google.golang.org/grpc"

	"github.com/grpcpulse/grpcpulse/internal/rpclink"
)

// UnaryClient is interceptors.UnaryClientInterceptor with rec.
func UnaryClient(rec *Recorder) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, call := clientContext(ctx, opts)
		// What go-grpc-middleware's UnaryClientInterceptor does with the
		// Reporter, but for the calls that do nothing (PostMsgSend and
		// PostMsgReceive, and the clock readings for durations the
		// Reporter ignores), with the reporter on the stack: it allocates
		// nothing.
		p := rec.clientReport(ctx, mw.NewClientCallMeta(method, nil, req))
		err := invoker(ctx, method, req, reply, cc, opts...)
		p.PostCall(err, 0)
		return withCause(call, err)
	}
}

// StreamClient is interceptors.StreamClientInterceptor with rec. It reports
// with go-grpc-middleware's stream semantics (PostCall when the stream cannot
// be created, at RecvMsg's final error for a server stream, at the first
// RecvMsg otherwise) but wraps the stream itself, where go-grpc-middleware's
// monitored stream reads the clock twice per message: a message costs
// grpcpulse one branch.
func StreamClient(rec *Recorder) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		ctx, call := clientContext(ctx, opts)
		reporter, ctx := rec.ClientReporter(ctx, mw.NewClientCallMeta(method, desc, nil))
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			reporter.PostCall(err, 0)
			return nil, withCause(call, err)
		}
		return &clientStream{ClientStream: s, call: call, reporter: reporter, serverStreams: desc.ServerStreams}, nil
	}
}

// clientStream reports the call's end and returns the stream's final error
// wrapped with its cause.
type clientStream struct {
	grpc.ClientStream
	call          *rpclink.Call
	reporter      mw.Reporter
	serverStreams bool
	reported      bool // a RecvMsg after the final one reports nothing more
}

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err == nil && s.serverStreams {
		return nil
	}
	if !s.reported {
		s.reported = true
		postErr := err
		if s.serverStreams && errors.Is(err, io.EOF) {
			postErr = nil
		}
		// The Reporter ignores durations: the clock is not read for them.
		s.reporter.PostCall(postErr, 0)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		err = withCause(s.call, err)
	}
	return err
}

// clientContext carries the call's state to the stats handler and the
// reporter. A method that is not from generated code (no grpc.StaticMethod
// call option, as with a proxy forwarding whatever its own clients ask for)
// is recorded as _OTHER: grpc-go's own OpenTelemetry plugin applies the same
// rule (and writes "other"); _OTHER is the OpenTelemetry conventions' value.
func clientContext(ctx context.Context, opts []grpc.CallOption) (context.Context, *rpclink.Call) {
	ctx, call := rpclink.WithCall(ctx)
	for _, o := range opts {
		if _, ok := o.(grpc.StaticMethodCallOption); ok {
			return ctx, call
		}
	}
	call.SetUnregistered()
	return ctx, call
}

func withCause(call *rpclink.Call, err error) error {
	if err == nil {
		return nil
	}
	if r, ok := call.Cause(); ok {
		return &transportError{err: err, reason: r}
	}
	return err
}
