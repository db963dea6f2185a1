package rpclink

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
)

// ClientCause decides whether a client attempt failed because of its
// transport, and why. If the server's status arrived, the server decided
// the outcome; if the attempt's transport shows a GOAWAY or a close, that
// is the cause. Without a journal for the attempt, grpc-go's error text is
// the fallback.
func ClientCause(a *Attempt, err error) (conntrack.Reason, bool) {
	if status.Code(err) != codes.Unavailable {
		// A transport that ends fails its RPCs with Unavailable; the
		// application's own Close fails them with Canceled.
		return conntrack.ReasonUnknown, false
	}
	if a != nil {
		if a.Trailers() {
			return conntrack.ReasonUnknown, false
		}
		if c := a.Conn(); c != nil && c.Journal != nil {
			snap := c.Journal.Snapshot()
			if !snap.Ending() {
				return conntrack.ReasonUnknown, false
			}
			r, _ := conntrack.Classify(snap)
			return r, true
		}
	}
	return TextCause(err)
}

// ServerCause decides whether a server handler failed because of its
// transport: it failed after its context was cancelled and the transport is
// closing. A drain alone (GOAWAY sent) does not fail RPCs; the close that
// ends it does.
func ServerCause(ctx context.Context, c *Conn, err error) (conntrack.Reason, bool) {
	if err == nil || ctx.Err() == nil || c == nil {
		return conntrack.ReasonUnknown, false
	}
	snap := c.Snapshot()
	if !snap.Closing.Valid {
		return conntrack.ReasonUnknown, false
	}
	r, _ := conntrack.Classify(snap)
	return r, true
}

// TextCause classifies an Unavailable error from grpc-go's text alone.
func TextCause(err error) (conntrack.Reason, bool) {
	s, _ := status.FromError(err)
	if s.Code() != codes.Unavailable {
		return conntrack.ReasonUnknown, false
	}
	return conntrack.ClassifyErrorText(s.Message())
}
