package interceptors

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
	"github.com/grpcpulse/grpcpulse/tracing"
)

// The wrapped error is the original to everything that does not ask for
// the cause.
func TestTransportErrorIsTransparent(t *testing.T) {
	orig := status.Error(codes.Unavailable, "error reading from server: EOF")
	err := error(&transportError{err: orig, reason: conntrack.ReasonMaxConnectionAge})
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
	if r, ok := Cause(context.Background(), err); !ok || r != ReasonMaxConnectionAge {
		t.Errorf("Cause = %q, %v", r, ok)
	}
}

// Without a wrapped error or a server context, Cause falls back to grpc-go's
// error text, and only for Unavailable.
func TestCauseFallback(t *testing.T) {
	for _, tc := range []struct {
		err    error
		want   Reason
		wantOK bool
	}{
		{nil, "", false},
		{errors.New("not a status"), "", false},
		{status.Error(codes.Unavailable, `closing transport due to: EOF, received prior goaway: code: ENHANCE_YOUR_CALM, debug data: "too_many_pings"`), ReasonTooManyPings, true},
		{status.Error(codes.Unavailable, "keepalive ping failed to receive ACK within timeout"), ReasonKeepaliveTimeout, true},
		{status.Error(codes.Unavailable, "transport is closing"), ReasonUnknown, true},
		{status.Error(codes.Unavailable, "the service is overloaded"), "", false},
		{status.Error(codes.Internal, "keepalive ping failed to receive ACK within timeout"), "", false},
		{status.Error(codes.Canceled, "grpc: the client connection is closing"), "", false},
	} {
		got, ok := Cause(context.Background(), tc.err)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("Cause(%v) = %q, %v; want %q, %v", tc.err, got, ok, tc.want, tc.wantOK)
		}
	}
}

// Every reason the classifier can return is one of the exported constants.
func TestReasonsExported(t *testing.T) {
	exported := map[Reason]bool{
		ReasonKeepaliveTimeout: true, ReasonTooManyPings: true, ReasonMaxConnectionAge: true,
		ReasonMaxConnectionIdle: true, ReasonServerShutdown: true, ReasonClientShutdown: true,
		ReasonGoAway: true, ReasonPeerClosed: true, ReasonConnectionReset: true, ReasonIOError: true,
		ReasonProtocolError: true, ReasonUnknown: true,
	}
	for _, r := range conntrack.Reasons() {
		if !exported[reasonOf(r)] {
			t.Errorf("reason %q has no exported constant", r)
		}
	}
	if len(exported) != len(conntrack.Reasons()) {
		t.Errorf("%d exported reasons, classifier has %d", len(exported), len(conntrack.Reasons()))
	}
}

func TestCodeName(t *testing.T) {
	for c, want := range map[codes.Code]string{
		codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unavailable: "UNAVAILABLE",
		codes.Unauthenticated: "UNAUTHENTICATED", codes.Code(17): "UNKNOWN", codes.Code(1 << 30): "UNKNOWN",
	} {
		if got := tracing.CodeName(c); got != want {
			t.Errorf("CodeName(%d) = %q, want %q", c, got, want)
		}
	}
}
