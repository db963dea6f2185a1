package interceptors

import (
	"context"
	"errors"

	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
	"github.com/grpcpulse/grpcpulse/internal/rpclink"
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
// which names fewer causes (ReasonUnknown when it says only that the
// transport closed).
func Cause(ctx context.Context, err error) (Reason, bool) {
	if err == nil {
		return "", false
	}
	var te *transportError
	if errors.As(err, &te) {
		return reasonOf(te.reason), true
	}
	if ctx != nil {
		if c := rpclink.ConnFrom(ctx); c != nil && c.Journal != nil {
			r, ok := rpclink.ServerCause(ctx, c, err)
			return reasonOf(r), ok
		}
	}
	r, ok := rpclink.TextCause(err)
	if !ok {
		return "", false
	}
	return reasonOf(r), true
}

// transportError is a client RPC error with the cause the interceptor found.
// It is the original error to every caller that does not ask for the cause:
// same text, same status, and Unwrap for errors.Is and errors.As.
type transportError struct {
	err    error
	reason conntrack.Reason
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
