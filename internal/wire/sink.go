package wire

// Sink receives what the observer sees. Its methods are called synchronously
// from the Read, Write or Close call that carried the frame, so they must be
// quick and must not block; the observer holds no lock of the other direction
// while calling, so Received and Sent events may arrive concurrently.
type Sink interface {
	// Ping reports a PING frame.
	Ping(dir Direction, ack bool, data [8]byte)
	// GoAway reports a GOAWAY frame. debug holds at most MaxDebugData bytes
	// of its debug data and is only valid during the call.
	GoAway(dir Direction, lastStreamID, code uint32, debug []byte)
	// RSTStream reports an RST_STREAM frame.
	RSTStream(dir Direction, streamID, code uint32)
	// Settings reports a SETTINGS frame received that is not an
	// acknowledgement, once it has been read in full. The first completes
	// the peer's connection preface, which grpc-go reads before it makes
	// the connection a transport.
	Settings()
	// Violation reports that the frames of one direction broke HTTP/2 in a
	// way grpc-go's framer rejects as a connection error (see Violation).
	// It is called at most once per direction, and the observer stops
	// parsing that direction: it reports nothing more from it. Only the
	// Received direction is validated.
	Violation(dir Direction, v Violation)
	// End reports how the connection ended: the first of a local Close or
	// a failed Read or Write. It is called once more, at most, when a
	// Read's EOF was reported first but stood for a failure (a reset, a
	// timeout) that a concurrent Write saw (see hiddenByEOF): the second
	// End, that Write's, replaces the first. Call Conn.Settle before
	// reading what End recorded at a transport's end.
	End(e End)
	// Closed reports every local Close, once the wrapped conn is closed:
	// nothing more is read from it.
	Closed()
}
