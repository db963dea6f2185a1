package intercept

import (
	"context"
	"errors"

	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/internal/rpclink"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Cause is interceptors.Cause: the cause the client interceptors wrapped err
// with, the verdict of the server call whose context ctx is, or what
// grpc-go's error text says.
func Cause(ctx context.Context, err error) (pulse.Reason, bool) {
	if err == nil {
		return pulse.ReasonUnknown, false
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
	reason pulse.Reason
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
