package conntrack

import (
	"time"

	"github.com/grpcpulse/grpcpulse/internal/wire"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Snapshot is everything the classifier needs, as plain data, so that
// classification is a pure function that table tests can drive directly.
type Snapshot struct {
	// Record is what the journal had recorded when the snapshot was taken.
	Record

	// Observed is false when no journal exists for the connection (the
	// credentials were not wrapped): every answer is then unknown.
	Observed bool
	Side     pulse.Side

	// ReaderQuit: this side closed the conn after its reader had stopped
	// reading (wire.Conn.ReaderQuit). grpc-go's reader stops only when
	// what it read made it close the transport, so a local close with a
	// quit reader was not the application shutting down.
	ReaderQuit bool

	// PeerPingIntervals[:NPeerPingIntervals] are the intervals between
	// the peer's last keepalive PINGs, oldest first.
	PeerPingIntervals  [3]time.Duration
	NPeerPingIntervals int
}

// Record is what a journal keeps current for the life of its connection.
// It is apart from Snapshot, which adds what is derived only when a snapshot
// is taken, and its fields are ordered to pack: every live connection holds
// one.
type Record struct {
	GoAwaySent     GoAwayRecord // first GOAWAY this side sent
	GoAwayReceived GoAwayRecord // first GOAWAY this side received
	GoAways        int          // GOAWAY events, both directions

	// Closing is the first sign of the end: a local close, a failed read or
	// write, or grpc-go's client-shutdown GOAWAY.
	Closing Closing

	// Violation is the first HTTP/2 violation the observer saw in what
	// the peer sent, one grpc-go closes the transport for.
	Violation ViolationRecord

	PingsSent     int64 // keepalive PINGs sent
	PingsReceived int64 // keepalive PINGs received

	// LastRTT is the round trip of the last keepalive PING this side sent
	// that was acked.
	LastRTT time.Duration

	Ended   bool
	EndKind wire.EndKind
	// Peer is the implementation the wire showed the peer to run, or
	// ImplementationUnknown (see peer.go).
	Peer pulse.Implementation
}

// GoAwayRecord is a GOAWAY as the classifier sees it.
type GoAwayRecord struct {
	Seq          uint64 // order among the journal's events
	Code         uint32
	LastStreamID uint32
	Valid        bool
	Reason       GoAwayReason
}

// ViolationRecord is a protocol violation as the classifier sees it.
type ViolationRecord struct {
	Seq   uint64
	Valid bool
	Kind  wire.Violation
}

// Closing is the first sign that the connection is ending.
type Closing struct {
	Seq             uint64
	Valid           bool
	Kind            wire.EndKind
	PingOutstanding bool // a keepalive PING of this side was unanswered
	// WriteFailed: the first sign was a Write that failed (EPIPE,
	// ECONNRESET, ...), not a Read. A write can fail because the peer
	// has already closed while frames it sent before closing, its
	// GOAWAY among them, still wait to be read.
	WriteFailed bool

	At       time.Time // when
	LastRead time.Time // when the conn last read bytes before it; zero if unknown
	// PingSentAt is when the unanswered keepalive PING was sent, if
	// PingOutstanding: of several unanswered, the first one sent after
	// the last read, since every read restarts the keepalive timer.
	PingSentAt time.Time
}

// keepaliveKind reports whether an end of this kind, with a keepalive PING
// outstanding, is a keepalive timeout: either grpc-go's keepalive timer
// closed the conn (a local close), or the kernel's TCP_USER_TIMEOUT, which
// grpc-go sets to the keepalive Timeout, failed the socket first.
func keepaliveKind(k wire.EndKind) bool {
	switch k {
	case wire.EndLocalClose, wire.EndDeadline, wire.EndTimedOut:
		return true
	}
	return false
}

// Classify returns why the connection ended and who ended it. The first
// cause wins: the earliest of the first GOAWAY sent, the first GOAWAY
// received, the first protocol violation received and the first sign of
// closing decides. A GOAWAY is read by the role of the side that sent it
// (GoAwayCloseReason). Where the journal cannot tell, the answer is
// unknown, never a guess.
func Classify(s Snapshot) (pulse.Reason, pulse.Initiator) {
	if !s.Observed {
		return pulse.ReasonUnknown, pulse.InitiatorUnknown
	}
	switch g, which := cause(s); which {
	case causeGoAwaySent:
		return GoAwayCloseReason(s.Side, g.Code, g.Reason), pulse.InitiatorLocal
	case causeGoAwayReceived:
		return GoAwayCloseReason(peerOf(s.Side), g.Code, g.Reason), pulse.InitiatorPeer
	case causeViolation:
		// The peer broke HTTP/2; grpc-go closes the transport.
		return pulse.ReasonProtocolError, pulse.InitiatorLocal
	case causeClosing:
		return classifyClosing(s)
	}
	return pulse.ReasonUnknown, pulse.InitiatorUnknown
}

// Ending reports whether the connection has shown a cause to end: a GOAWAY
// (other than the client's own shutdown notice, which only marks a local
// close) or a first sign of closing. An RPC that failed on a connection in
// this state failed with it.
func (s Snapshot) Ending() bool {
	_, which := cause(s)
	return which != causeNone
}

type causeKind uint8

const (
	causeNone causeKind = iota
	causeGoAwaySent
	causeGoAwayReceived
	causeViolation
	causeClosing
)

// cause picks the earliest event among the first GOAWAY sent, the first
// GOAWAY received, the first violation received and the first sign of
// closing. A client-shutdown GOAWAY
// this side sent is not a cause: it is recorded as Closing.
func cause(s Snapshot) (GoAwayRecord, causeKind) {
	var (
		best    = causeNone
		bestSeq uint64
		rec     GoAwayRecord
	)
	consider := func(valid bool, seq uint64, k causeKind, g GoAwayRecord) {
		if valid && (best == causeNone || seq < bestSeq) {
			best, bestSeq, rec = k, seq, g
		}
	}
	sent := s.GoAwaySent
	consider(sent.Valid && sent.Reason != GoAwayClientShutdown, sent.Seq, causeGoAwaySent, sent)
	consider(s.GoAwayReceived.Valid, s.GoAwayReceived.Seq, causeGoAwayReceived, s.GoAwayReceived)
	consider(s.Violation.Valid, s.Violation.Seq, causeViolation, GoAwayRecord{})
	// A GOAWAY the peer sent came before the peer closed, and so before
	// any write of this side failed for it, however late it is read.
	// (A Read, in contrast, sees the peer's frames and its close in order.)
	writeFailedFirst := s.Closing.WriteFailed && s.GoAwayReceived.Valid
	consider(s.Closing.Valid && !writeFailedFirst, s.Closing.Seq, causeClosing, GoAwayRecord{})
	return rec, best
}

func classifyClosing(s Snapshot) (pulse.Reason, pulse.Initiator) {
	c := s.Closing
	if c.PingOutstanding && keepaliveKind(c.Kind) {
		return pulse.ReasonKeepaliveTimeout, pulse.InitiatorLocal
	}
	switch c.Kind {
	case wire.EndLocalClose, wire.EndDeadline:
		if s.ReaderQuit {
			// grpc-go's reader closed the transport over something it
			// read that the observer could not judge (an HPACK error,
			// say): this side closed, but not because it was shutting
			// down, and why is not known.
			return pulse.ReasonUnknown, pulse.InitiatorLocal
		}
		// With no GOAWAY, no violation, no unanswered PING and the
		// reader still reading, a local close is the application
		// shutting this side down: grpc-go's server Stop closes
		// without a GOAWAY, and a client that closes always sends one
		// (recorded as Closing too).
		if s.Side == pulse.SideServer {
			return pulse.ReasonServerShutdown, pulse.InitiatorLocal
		}
		return pulse.ReasonClientShutdown, pulse.InitiatorLocal
	case wire.EndEOF:
		return pulse.ReasonPeerClosed, pulse.InitiatorPeer
	case wire.EndReset:
		return pulse.ReasonConnectionReset, pulse.InitiatorPeer
	}
	return pulse.ReasonIOError, pulse.InitiatorUnknown
}

// DisconnectError returns the gRFC A94 grpc.disconnect_error value for the
// connection, with the labels grpc-go's own implementation uses so that
// dashboards can put the two side by side. Unlike grpc-go, a keepalive
// timeout is "connection timed out", which is what it is.
func DisconnectError(s Snapshot) string {
	if !s.Observed {
		return "unknown"
	}
	g, which := cause(s)
	switch which {
	case causeGoAwaySent, causeGoAwayReceived:
		return goAwayDisconnectError(g.Code)
	case causeViolation:
		// A94 has no label for a violation closed without a GOAWAY
		// (grpc-go sends none when its framer rejects a frame), and it
		// is no socket error.
		return "unknown"
	case causeClosing:
		c := s.Closing
		if c.PingOutstanding && keepaliveKind(c.Kind) {
			return "connection timed out"
		}
		if s.ReaderQuit && (c.Kind == wire.EndLocalClose || c.Kind == wire.EndDeadline) {
			return "unknown"
		}
		switch c.Kind {
		case wire.EndLocalClose:
			return "subchannel shutdown"
		case wire.EndReset:
			return "connection reset"
		case wire.EndTimedOut, wire.EndDeadline:
			return "connection timed out"
		case wire.EndAborted:
			return "connection aborted"
		case wire.EndError:
			return "socket error"
		}
	}
	return "unknown"
}
