package wire

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// EndKind says how a connection ended, as far as the socket can tell.
type EndKind uint8

const (
	// EndLocalClose: this side called Close.
	EndLocalClose EndKind = iota
	// EndDeadline: an I/O deadline this side set expired. grpc-go sets one
	// while it closes a transport, so this is a local decision too.
	EndDeadline
	// EndEOF: the peer closed its side cleanly (FIN).
	EndEOF
	// EndReset: ECONNRESET or EPIPE, the peer (or a middlebox) reset the
	// connection.
	EndReset
	// EndTimedOut: ETIMEDOUT, the kernel gave up (TCP_USER_TIMEOUT, which
	// grpc-go sets to the keepalive Timeout, or retransmission timeout).
	EndTimedOut
	// EndAborted: ECONNABORTED.
	EndAborted
	// EndError: any other read or write error.
	EndError
)

var endKindNames = [...]string{"local_close", "deadline", "eof", "reset", "timed_out", "aborted", "error"}

// String returns a short, fixed name for the kind.
func (k EndKind) String() string {
	if int(k) < len(endKindNames) {
		return endKindNames[k]
	}
	return "error"
}

// End describes the end of a connection.
type End struct {
	Kind EndKind
	// Dir is the operation that saw the end: Received for a Read, Sent for
	// a Write. Meaningless for EndLocalClose.
	Dir Direction
	// Err is the error the Read or Write returned; nil for EndLocalClose.
	Err error
}

// classifyError maps an I/O error to an EndKind. net.ErrClosed means this
// side closed the conn (grpc-go closes it from another goroutine while a Read
// is blocked), which is a local close however it is discovered.
func classifyError(err error) EndKind {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return EndEOF
	case errors.Is(err, net.ErrClosed):
		return EndLocalClose
	case errors.Is(err, os.ErrDeadlineExceeded):
		return EndDeadline
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return EndReset
	case errors.Is(err, syscall.ETIMEDOUT):
		return EndTimedOut
	case errors.Is(err, syscall.ECONNABORTED):
		return EndAborted
	}
	return EndError
}
