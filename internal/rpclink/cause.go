package rpclink

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// ClientCause decides whether a client attempt failed because of its
// transport, and why. If the attempt's transport shows a GOAWAY or a close
// and the server's status did not arrive, the transport is the cause. If
// the server's status arrived, the server decided the outcome, with one
// exception: the status a server's transport writes on the streams it cuts
// as it goes down (see teardownStatus). A stream the server reset without
// a status is the transport's only when the server's transport reset it as
// it went down (see teardownReset). Without a journal for the attempt,
// grpc-go's error text is the fallback.
func ClientCause(a *Attempt, err error) (pulse.Reason, bool) {
	reset := false
	if code := status.Code(err); code != codes.Unavailable {
		// A transport that ends fails its RPCs with Unavailable; the
		// application's own Close fails them with Canceled. A server's
		// transport that resets them as it goes down fails them with
		// Internal or Canceled, in texts of grpc-go's own.
		if reset = serverReset(err); !reset {
			return pulse.ReasonUnknown, false
		}
	}
	if a != nil {
		if c := a.Conn(); c != nil && c.Journal != nil {
			snap := c.Journal.Snapshot()
			if !snap.Ending() {
				return pulse.ReasonUnknown, false
			}
			if reset && (a.Trailers() || !teardownReset(snap)) {
				return pulse.ReasonUnknown, false
			}
			if a.Trailers() && !teardownStatus(snap, err) {
				return pulse.ReasonUnknown, false
			}
			r, _ := conntrack.Classify(snap)
			return r, true
		}
		if a.Trailers() {
			return pulse.ReasonUnknown, false
		}
	}
	return TextCause(err)
}

// resetTexts are the messages of the errors grpc-go's client gives a
// stream the server reset (http2Client.handleRSTStream) with NO_ERROR (code
// Internal) or CANCEL (code Canceled; DeadlineExceeded instead once the
// stream's own deadline has passed).
var resetTexts = map[codes.Code]string{
	codes.Internal: "stream terminated by RST_STREAM with error code: NO_ERROR",
	codes.Canceled: "stream terminated by RST_STREAM with error code: CANCEL",
}

// serverReset reports whether err is a stream the server reset with
// NO_ERROR or CANCEL.
func serverReset(err error) bool {
	s, _ := status.FromError(err)
	text, ok := resetTexts[s.Code()]
	return ok && s.Message() == text
}

// teardownReset reports whether a stream the server reset with NO_ERROR or
// CANCEL, without its status, was reset by the server's transport as it
// went down: the transport had already received a GOAWAY from the server.
// grpc-js and grpc-java end the streams still open when they end a
// draining connection that way: Node's http2 module destroys them with
// NO_ERROR at the end of grpc-js's max-age grace and with CANCEL at its
// forced shutdown, and grpc-java's shutdownNow cancels them; only some of
// those RST_STREAMs reach the client before the connection's end cuts the
// rest. A server application that ends a call sends its status first, and
// a server's own deadline, which passes after the client's, reaches a
// grpc-go client as DeadlineExceeded: a reset like these is never the
// application's answer.
func teardownReset(snap conntrack.Snapshot) bool {
	return snap.GoAwayReceived.Valid
}

// teardownStatus reports whether an UNAVAILABLE status that arrived in the
// server's trailers was written by the server's transport tearing the stream
// down rather than by its application: the transport had already received a
// GOAWAY from the server (it was draining or closing when the status was
// written), and the message is one gRPC C-core writes on every stream it
// cuts at the end of a drain, a shutdown or a ping-policy close
// (conntrack.IsTeardownStatus: a bounded set of exact texts, never a label).
//
// C-core, unlike grpc-go and grpc-js, ends the streams it cuts with
// trailers (grpc_chttp2_cancel_stream -> close_from_api) instead of
// closing the connection under them, so "no trailers" does not hold for
// them. Nothing else on the wire separates those trailers from an
// application's own UNAVAILABLE on a draining connection in time to
// decide: the RST_STREAM NO_ERROR and the close that follow them come after
// the status, and both grpc-go and C-core close a drained connection as
// soon as its last stream ends, so "the transport ended right after" is
// just as true of an application's status on the last stream.
func teardownStatus(snap conntrack.Snapshot, err error) bool {
	if !snap.GoAwayReceived.Valid {
		return false
	}
	s, _ := status.FromError(err)
	return conntrack.IsTeardownStatus(s.Message())
}

// ServerCause decides whether a server handler failed because of its
// transport: it failed after its context was cancelled, and its stream was
// one the transport's end cut (Conn.MarkClosing), not one its client had
// cancelled before. A drain alone (GOAWAY sent) does not fail RPCs; the
// close that ends it does.
func ServerCause(ctx context.Context, c *Conn, err error) (pulse.Reason, bool) {
	if err == nil || ctx.Err() == nil || c == nil {
		return pulse.ReasonUnknown, false
	}
	snap := c.Snapshot()
	if !snap.Closing.Valid {
		return pulse.ReasonUnknown, false
	}
	if a := AttemptFrom(ctx); a != nil && a.Conn() == c {
		// The journal records the close before the hook that marks the
		// cut attempts runs, but grpc-go cancels the streams it cuts only
		// after both: a context cancelled while the close is not yet
		// marked was cancelled by its client.
		if _, cut := c.WasCut(a); !cut {
			return pulse.ReasonUnknown, false
		}
	}
	r, _ := conntrack.Classify(snap)
	return r, true
}

// TextCause classifies an Unavailable error from grpc-go's text alone.
func TextCause(err error) (pulse.Reason, bool) {
	s, _ := status.FromError(err)
	if s.Code() != codes.Unavailable {
		return pulse.ReasonUnknown, false
	}
	return conntrack.ClassifyErrorText(s.Message())
}
