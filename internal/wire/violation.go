package wire

// Violation is the kind of HTTP/2 violation the observer saw in the frames a
// peer sent. It is a bounded set; the observer checks only what a frame
// header and at most the first payload byte tell, and only rules whose
// breach grpc-go's framer (golang.org/x/net/http2 with grpc-go's DATA
// reader) treats as a connection error, so that a reported violation is one
// grpc-go closes the transport for. Violations it cannot see (HPACK errors,
// a SETTINGS value out of range, a zero connection WINDOW_UPDATE) are left
// to the close itself; see Conn.ReaderQuit. Frame types that only some x/net
// releases parse (PRIORITY_UPDATE, RFC 9218) are not judged either: the
// verdict must not depend on which x/net a program is built with.
type Violation uint8

const (
	// ViolationPreface: the bytes where the client connection preface
	// belongs are something else.
	ViolationPreface Violation = iota
	// ViolationFrameSize: a frame longer than MaxFrameSize.
	ViolationFrameSize
	// ViolationFrameLength: a frame whose length its type forbids (PING
	// other than 8, RST_STREAM or WINDOW_UPDATE other than 4, PRIORITY
	// other than 5, SETTINGS not a multiple of 6 or an ACK with a payload,
	// GOAWAY under 8), or too short for the padding or priority fields its
	// flags announce.
	ViolationFrameLength
	// ViolationStreamID: a PING, SETTINGS or GOAWAY on a stream, or a
	// DATA, HEADERS, PRIORITY, RST_STREAM, PUSH_PROMISE or CONTINUATION on
	// stream 0.
	ViolationStreamID
	// ViolationContinuation: a CONTINUATION that does not continue the
	// header block of a HEADERS or CONTINUATION without END_HEADERS on the
	// same stream, or another frame inside such a header block.
	ViolationContinuation
	// ViolationPadding: a DATA or PUSH_PROMISE whose pad length exceeds
	// its payload.
	ViolationPadding
)

var violationNames = [...]string{"preface", "frame_size", "frame_length", "stream_id", "continuation", "padding"}

// String returns a short, fixed name for the violation.
func (v Violation) String() string {
	if int(v) < len(violationNames) {
		return violationNames[v]
	}
	return "unknown"
}

// MaxFrameSize is the largest frame payload grpc-go accepts. It is also
// what grpc-go advertises: it never raises SETTINGS_MAX_FRAME_SIZE above the
// HTTP/2 default, and its framer rejects a longer frame as a connection
// error.
const MaxFrameSize = 16384
