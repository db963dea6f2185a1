package interceptors

import (
	"context"
	"errors"
	"io"

	mw "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"google.golang.org/grpc"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
	"github.com/grpcpulse/grpcpulse/internal/rpclink"
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
	inner := mw.UnaryClientInterceptor(newRecorder(conntrack.Client, opts))
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		call := &rpclink.Call{}
		err := inner(clientContext(ctx, call, opts), method, req, reply, cc, invoker, opts...)
		return withCause(call, err)
	}
}

// StreamClientInterceptor is UnaryClientInterceptor for streaming calls. A
// stream's outcome is known when RecvMsg returns its final error.
func StreamClientInterceptor(opts ...Option) grpc.StreamClientInterceptor {
	inner := mw.StreamClientInterceptor(newRecorder(conntrack.Client, opts))
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		call := &rpclink.Call{}
		s, err := inner(clientContext(ctx, call, opts), desc, cc, method, streamer, opts...)
		if err != nil {
			return nil, withCause(call, err)
		}
		return &clientStream{ClientStream: s, call: call}, nil
	}
}

// clientStream returns the stream's final error wrapped with its cause.
type clientStream struct {
	grpc.ClientStream
	call *rpclink.Call
}

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
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
func clientContext(ctx context.Context, call *rpclink.Call, opts []grpc.CallOption) context.Context {
	ctx = rpclink.WithCall(ctx, call)
	for _, o := range opts {
		if _, ok := o.(grpc.StaticMethodCallOption); ok {
			return ctx
		}
	}
	call.SetUnregistered()
	return withUnregistered(ctx)
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
