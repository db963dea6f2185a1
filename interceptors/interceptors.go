package interceptors

import (
	"context"

	mw "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"google.golang.org/grpc"

	"github.com/grpcpulse/grpcpulse/internal/config"
	"github.com/grpcpulse/grpcpulse/internal/intercept"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// UnaryServerInterceptor returns an interceptor that counts the handlers
// that fail because their transport ended (the client vanished behind a
// blackhole, the connection was reset, the server cut it at its maximum
// connection age), by the transport's close reason.
//
// Install it with grpcpulse's server stats handler and its wrapped
// credentials (options.Server installs all three): the handler's context
// leads to the transport and the credentials let it see why the transport
// ended. Without them nothing is counted: a cancelled handler context alone
// does not say whether the transport ended.
func UnaryServerInterceptor(opts ...options.Option) grpc.UnaryServerInterceptor {
	return intercept.UnaryServer(recorder(pulse.SideServer, opts))
}

// StreamServerInterceptor is UnaryServerInterceptor for streaming handlers,
// including a grpc.UnknownServiceHandler, whose calls are counted with
// rpc.method "_OTHER". A message costs it nothing: it reports only the
// call's end and hands the handler its stream unwrapped.
func StreamServerInterceptor(opts ...options.Option) grpc.StreamServerInterceptor {
	return intercept.StreamServer(recorder(pulse.SideServer, opts))
}

// UnaryClientInterceptor returns an interceptor that counts the calls that
// fail because their transport ended or drained, by the transport's close
// reason, and returns their errors wrapped with that cause (see Cause).
//
// Install it with grpcpulse's client stats handler and its wrapped
// credentials (options.Client installs all three): the handler tells which
// transport each attempt ran on and the credentials let it see why that
// transport ended. Without them the cause is read from grpc-go's error
// text.
//
// A method not called through generated code (no grpc.StaticMethod call
// option, as with a proxy forwarding what its own clients ask for) is
// counted with rpc.method "_OTHER", as grpc-go's own OpenTelemetry plugin
// does.
func UnaryClientInterceptor(opts ...options.Option) grpc.UnaryClientInterceptor {
	return intercept.UnaryClient(recorder(pulse.SideClient, opts))
}

// StreamClientInterceptor is UnaryClientInterceptor for streaming calls. A
// stream's outcome is known when RecvMsg returns its final error; a message
// costs it one branch.
func StreamClientInterceptor(opts ...options.Option) grpc.StreamClientInterceptor {
	return intercept.StreamClient(recorder(pulse.SideClient, opts))
}

// ServerReportable returns grpcpulse's server reporting as a
// go-grpc-middleware ServerReportable, for services that chain
// go-grpc-middleware's own interceptors:
//
//	grpc.ChainUnaryInterceptor(mw.UnaryServerInterceptor(interceptors.ServerReportable()))
//	grpc.ChainStreamInterceptor(mw.StreamServerInterceptor(interceptors.ServerReportable()))
//
// (mw being github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors).
// It counts what UnaryServerInterceptor and StreamServerInterceptor count.
// go-grpc-middleware's stream interceptor does not pass the service
// implementation, by which grpc-go tells a method the server does not
// register, so streams reported through it are counted with rpc.method
// "_OTHER"; StreamServerInterceptor keeps their method names.
func ServerReportable(opts ...options.Option) mw.ServerReportable {
	return recorder(pulse.SideServer, opts)
}

// ClientReportable returns grpcpulse's client reporting as a
// go-grpc-middleware ClientReportable:
//
//	grpc.WithChainUnaryInterceptor(mw.UnaryClientInterceptor(interceptors.ClientReportable()))
//	grpc.WithChainStreamInterceptor(mw.StreamClientInterceptor(interceptors.ClientReportable()))
//
// It counts what UnaryClientInterceptor and StreamClientInterceptor count,
// with two differences that go-grpc-middleware's interceptors impose: they
// return the call's error as they got it, so Cause reads a client error's
// cause from grpc-go's error text; and they do not pass the call options,
// where grpc.StaticMethod says a method came from generated code, so calls
// are counted with rpc.method "_OTHER". UnaryClientInterceptor and
// StreamClientInterceptor have neither limit.
func ClientReportable(opts ...options.Option) mw.ClientReportable {
	return recorder(pulse.SideClient, opts)
}

// Cause reports why an RPC failed, when it failed because its transport
// ended or drained, and false otherwise (the RPC succeeded, the peer
// returned the error, the call was cancelled...).
//
// On a client, pass the error the call returned: the client interceptors
// return transport-caused errors wrapped with their cause, and the wrapper
// is invisible to status.FromError, status.Code and errors.Is. On a server,
// pass the handler's context too: its transport is found there. An error
// whose transport cannot be found is classified from grpc-go's error text,
// which names fewer causes (pulse.ReasonUnknown when it says only that the
// transport closed).
//
// The reason is the one the transport's grpc.close.reason records, so a log
// line and a dashboard agree.
func Cause(ctx context.Context, err error) (pulse.Reason, bool) {
	return intercept.Cause(ctx, err)
}

func recorder(side pulse.Side, opts []options.Option) *intercept.Recorder {
	return intercept.NewRecorder(side, config.Build(opts))
}
