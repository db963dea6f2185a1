// Package wire is a passive HTTP/2 frame observer for a net.Conn.
//
// It reads the 9-byte frame headers of the bytes that pass through Read and
// Write, looks inside PING, GOAWAY and RST_STREAM payloads only (and, in what
// it receives, at the pad length byte of padded DATA and PUSH_PROMISE), and
// reports them, together with the HTTP/2 violations the peer committed that
// grpc-go closes a transport for (see Violation), the peer's SETTINGS (which
// complete its connection preface), how the connection ended and every
// local Close, to a Sink. It exists because
// grpc-go tells a stats.Handler that a transport ended but never why: the
// frames that explain it (a keepalive PING left unanswered, a GOAWAY with
// "max_age" or "too_many_pings") are only visible on the wire.
//
// The observer is invisible by construction: it never copies, delays,
// reorders or changes a byte, never changes an error the caller sees, never
// blocks and never panics. Input it cannot parse makes it inert for the rest
// of that direction rather than guessing. It allocates nothing per frame.
package wire
