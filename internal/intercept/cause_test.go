package intercept

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// The wrapped error is the original to everything that does not ask for
// the cause.
func TestTransportErrorIsTransparent(t *testing.T) {
	orig := status.Error(codes.Unavailable, "error reading from server: EOF")
	err := error(&transportError{err: orig, reason: pulse.ReasonMaxConnectionAge})
	if err.Error() != orig.Error() {
		t.Errorf("Error() = %q, want %q", err.Error(), orig.Error())
	}
	s, ok := status.FromError(err)
	if !ok || s.Code() != codes.Unavailable || s.Message() != "error reading from server: EOF" {
		t.Errorf("status.FromError = %v, %v; want the original status", s, ok)
	}
	if status.Code(err) != codes.Unavailable {
		t.Errorf("status.Code = %v", status.Code(err))
	}
	if !errors.Is(err, orig) {
		t.Error("errors.Is(wrapped, original) = false")
	}
	if r, ok := Cause(context.Background(), err); !ok || r != pulse.ReasonMaxConnectionAge {
		t.Errorf("Cause = %q, %v", r, ok)
	}
}

// Without a wrapped error or a server context, Cause falls back to grpc-go's
// error text, and only for Unavailable.
func TestCauseFallback(t *testing.T) {
	for _, tc := range []struct {
		err    error
		want   pulse.Reason
		wantOK bool
	}{
		{nil, pulse.ReasonUnknown, false},
		{errors.New("not a status"), pulse.ReasonUnknown, false},
		{status.Error(codes.Unavailable, `closing transport due to: EOF, received prior goaway: code: ENHANCE_YOUR_CALM, debug data: "too_many_pings"`), pulse.ReasonTooManyPings, true},
		{status.Error(codes.Unavailable, "keepalive ping failed to receive ACK within timeout"), pulse.ReasonKeepaliveTimeout, true},
		{status.Error(codes.Unavailable, "transport is closing"), pulse.ReasonUnknown, true},
		{status.Error(codes.Unavailable, "the service is overloaded"), pulse.ReasonUnknown, false},
		{status.Error(codes.Internal, "keepalive ping failed to receive ACK within timeout"), pulse.ReasonUnknown, false},
		{status.Error(codes.Canceled, "grpc: the client connection is closing"), pulse.ReasonUnknown, false},
	} {
		got, ok := Cause(context.Background(), tc.err)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("Cause(%v) = %q, %v; want %q, %v", tc.err, got, ok, tc.want, tc.wantOK)
		}
	}
}
