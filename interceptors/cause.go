package interceptors

import (
	"context"
	"errors"

	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/internal/rpclink"
	"github.com/grpcpulse/grpcpulse/stats"
)

// Cause reports why an RPC failed, when it failed because its transport
// ended or drained, and false otherwise (the RPC succeeded, the peer
// returned the error, the call was cancelled...).
//
// On a client, pass the error the call returned: the client interceptors
// return transport-caused errors wrapped with their cause, and the wrapper
// is invisible to status.FromError, status.Code and errors.Is. On a server,
// pass the handler's context too: its transport is found there. An error
// whose transport cannot be found is classified from grpc-go's error text,
// which names fewer causes (stats.ReasonUnknown when it says only that the
// transport closed).
//
// The reason is the one the transport's grpc.close.reason records, so a
// log line and a dashboard agree; compare it with the constants of package
// stats or print it with String.
func Cause(ctx context.Context, err error) (stats.Reason, bool) {
	if err == nil {
		return stats.ReasonUnknown, false
	}
	var te *transportError
	if errors.As(err, &te) {
		return te.reason, true
	}
	if ctx != nil {
		// Asked by the handler itself, perhaps before its end: decide
		// afresh rather than fix the attempt's verdict early.
		if c := rpclink.ConnFrom(ctx); c != nil && c.Journal != nil {
			return rpclink.ServerCause(ctx, c, err)
		}
	}
	return rpclink.TextCause(err)
}

// transportError is a client RPC error with the cause the interceptor found.
// It is the original error to every caller that does not ask for the cause:
// same text, same status, and Unwrap for errors.Is and errors.As.
type transportError struct {
	err    error
	reason stats.Reason
}

func (e *transportError) Error() string { return e.err.Error() }

func (e *transportError) Unwrap() error { return e.err }

// GRPCStatus returns the original error's status unchanged, so that
// status.FromError does not rewrite the message as it does for errors that
// merely wrap a status.
func (e *transportError) GRPCStatus() *status.Status {
	s, _ := status.FromError(e.err)
	return s
}
