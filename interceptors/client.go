package interceptors

import (
	"context"
	"errors"
	"io"

	mw "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"google.golang.org/grpc"

	"github.com/grpcpulse/grpcpulse/internal/rpclink"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// UnaryClientInterceptor returns an interceptor that counts the calls that
// fail because their transport ended or drained, by the transport's close
// reason, and returns their errors wrapped with that cause (see Cause).
//
// Install it with the grpcpulse client stats handler and its wrapped
// credentials (options.Client does all three): the handler tells which
// transport each attempt ran on and the credentials let it see why that
// transport ended. Without them the cause is read from grpc-go's error text.
func UnaryClientInterceptor(opts ...Option) grpc.UnaryClientInterceptor {
	rec := newRecorder(pulse.SideClient, opts)
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

// StreamClientInterceptor is UnaryClientInterceptor for streaming calls. A
// stream's outcome is known when RecvMsg returns its final error.
//
// It reports to the same go-grpc-middleware Reporter as the unary
// interceptor, with go-grpc-middleware's stream semantics (PostCall when the
// stream cannot be created, at RecvMsg's final error for a server stream, at
// the first RecvMsg otherwise), but wraps the stream itself instead of using
// go-grpc-middleware's monitored stream, which reads the clock twice per
// message for PostMsgSend and PostMsgReceive: grpcpulse reports only the
// call's end, and a message costs it one branch.
func StreamClientInterceptor(opts ...Option) grpc.StreamClientInterceptor {
	rec := newRecorder(pulse.SideClient, opts)
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
