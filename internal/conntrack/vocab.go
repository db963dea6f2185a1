package conntrack

import (
	"golang.org/x/net/http2"

	"github.com/grpcpulse/grpcpulse/internal/wire"
)

// Direction says whether a frame was sent or received; the journal's hooks
// report it, and it is the observer's own type so that no conversion sits
// between the wire and the metrics.
type Direction = wire.Direction

// The directions.
const (
	Received = wire.Received
	Sent     = wire.Sent
)

// Side is the role of this end of a connection.
type Side uint8

const (
	// Client is the side that dialed.
	Client Side = iota
	// Server is the side that accepted.
	Server
)

// String returns "client" or "server", the values of grpc.side.
func (s Side) String() string {
	if s == Server {
		return "server"
	}
	return "client"
}

// Reason is why a connection ended: the value of grpc.close.reason.
type Reason uint8

// The reasons, documented where users read them: package stats, which
// exports them. The zero value is ReasonUnknown so that a journal-less
// connection needs no special case.
const (
	ReasonUnknown Reason = iota
	ReasonKeepaliveTimeout
	ReasonTooManyPings
	ReasonMaxConnectionAge
	ReasonMaxConnectionIdle
	ReasonServerShutdown
	ReasonClientShutdown
	ReasonGoAway
	ReasonPeerClosed
	ReasonConnectionReset
	ReasonIOError
)

var reasonNames = [...]string{
	ReasonUnknown:           "unknown",
	ReasonKeepaliveTimeout:  "keepalive_timeout",
	ReasonTooManyPings:      "too_many_pings",
	ReasonMaxConnectionAge:  "max_connection_age",
	ReasonMaxConnectionIdle: "max_connection_idle",
	ReasonServerShutdown:    "server_shutdown",
	ReasonClientShutdown:    "client_shutdown",
	ReasonGoAway:            "goaway",
	ReasonPeerClosed:        "peer_closed",
	ReasonConnectionReset:   "connection_reset",
	ReasonIOError:           "io_error",
}

// String returns the attribute value of the reason.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Failure reports whether a transport that ended for this reason failed,
// rather than being closed by design: its span's status is Error.
func (r Reason) Failure() bool {
	switch r {
	case ReasonKeepaliveTimeout, ReasonTooManyPings, ReasonConnectionReset, ReasonIOError:
		return true
	}
	return false
}

// Reasons lists every reason, for tests and documentation.
func Reasons() []Reason {
	rs := make([]Reason, len(reasonNames))
	for i := range rs {
		rs[i] = Reason(i)
	}
	return rs
}

// Initiator is who ended a connection: the value of grpc.close.initiator.
type Initiator uint8

const (
	// InitiatorUnknown: the journal cannot tell.
	InitiatorUnknown Initiator = iota
	// InitiatorLocal: this side ended it.
	InitiatorLocal
	// InitiatorPeer: the other side (or a middlebox on its behalf) ended it.
	InitiatorPeer
)

// String returns "local", "peer" or "unknown".
func (i Initiator) String() string {
	switch i {
	case InitiatorLocal:
		return "local"
	case InitiatorPeer:
		return "peer"
	}
	return "unknown"
}

// GoAwayReason classifies a GOAWAY's debug data into a bounded set, because
// the debug data is chosen by the peer and must never become a label.
type GoAwayReason uint8

const (
	GoAwayNone GoAwayReason = iota // empty debug data
	GoAwayTooManyPings
	GoAwayMaxAge
	GoAwayMaxIdle
	GoAwayGracefulStop
	GoAwayClientShutdown
	GoAwayOther
)

var goAwayReasonNames = [...]string{
	GoAwayNone:           "none",
	GoAwayTooManyPings:   "too_many_pings",
	GoAwayMaxAge:         "max_age",
	GoAwayMaxIdle:        "max_idle",
	GoAwayGracefulStop:   "graceful_stop",
	GoAwayClientShutdown: "client_shutdown",
	GoAwayOther:          "other",
}

// String returns the value of grpc.goaway.reason.
func (g GoAwayReason) String() string {
	if int(g) < len(goAwayReasonNames) {
		return goAwayReasonNames[g]
	}
	return "other"
}

// ClassifyGoAwayDebug maps the debug data grpc-go (and grpc-java, which uses
// the same strings for max age and idle) sends to a GoAwayReason.
func ClassifyGoAwayDebug(debug []byte) GoAwayReason {
	switch string(debug) {
	case "":
		return GoAwayNone
	case "too_many_pings":
		return GoAwayTooManyPings
	case "max_age":
		return GoAwayMaxAge
	case "max_idle":
		return GoAwayMaxIdle
	case "graceful_stop":
		return GoAwayGracefulStop
	case "client transport shutdown":
		return GoAwayClientShutdown
	}
	return GoAwayOther
}

// CloseReason is the connection-level reason a GOAWAY of this class stands
// for.
func (g GoAwayReason) CloseReason() Reason {
	switch g {
	case GoAwayTooManyPings:
		return ReasonTooManyPings
	case GoAwayMaxAge:
		return ReasonMaxConnectionAge
	case GoAwayMaxIdle:
		return ReasonMaxConnectionIdle
	case GoAwayGracefulStop:
		return ReasonServerShutdown
	case GoAwayClientShutdown:
		return ReasonClientShutdown
	}
	return ReasonGoAway
}

// GoAwayCodeName returns the HTTP/2 error code name of a GOAWAY (the value of
// grpc.goaway.code), or "UNKNOWN" for codes outside RFC 9113, which a peer
// could otherwise use to mint label values.
func GoAwayCodeName(code uint32) string {
	if code > uint32(http2.ErrCodeHTTP11Required) {
		return "UNKNOWN"
	}
	return http2.ErrCode(code).String()
}
