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

// sender returns the role of the side that sent a frame this side saw going
// in direction dir.
func (s Side) sender(dir wire.Direction) Side {
	if dir == wire.Sent {
		return s
	}
	return s.peer()
}

// peer returns the other role.
func (s Side) peer() Side {
	if s == Server {
		return Client
	}
	return Server
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
	ReasonProtocolError
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
	ReasonProtocolError:     "protocol_error",
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
// the same strings for max age and idle) sends to a GoAwayReason, whoever
// sent it. gRPC C-core's idle close puts its reason in the debug data of a
// GOAWAY INTERNAL_ERROR ("enter idle" up to 1.51, "connection idle" later):
// max_idle. On a server that GOAWAY opens the end only for max idle (a
// max-age close is preceded by its drain, whose first GOAWAY decides). Use ClassifyGoAway for a GOAWAY seen on a connection: a peer must
// not choose the verdict by choosing the debug data.
func ClassifyGoAwayDebug(debug []byte) GoAwayReason {
	switch string(debug) {
	case "":
		return GoAwayNone
	case "too_many_pings":
		return GoAwayTooManyPings
	case "max_age":
		return GoAwayMaxAge
	case "max_idle", "enter idle", "connection idle":
		return GoAwayMaxIdle
	case "graceful_stop":
		return GoAwayGracefulStop
	case "client transport shutdown":
		return GoAwayClientShutdown
	}
	return GoAwayOther
}

// ClassifyGoAway returns the grpc.goaway.reason of a GOAWAY sent by a peer
// of role sender. Only a server drains (max_age, max_idle, graceful_stop)
// or enforces its ping policy (too_many_pings, with ENHANCE_YOUR_CALM); only
// a client shuts its transport down with "client transport shutdown". Debug
// data that names the other role's reasons is "other".
func ClassifyGoAway(sender Side, code uint32, debug []byte) GoAwayReason {
	r := ClassifyGoAwayDebug(debug)
	switch r {
	case GoAwayNone:
		return r
	case GoAwayTooManyPings:
		if sender == Server && code == uint32(http2.ErrCodeEnhanceYourCalm) {
			return r
		}
	case GoAwayMaxAge, GoAwayMaxIdle, GoAwayGracefulStop:
		if sender == Server {
			return r
		}
	case GoAwayClientShutdown:
		if sender == Client {
			return r
		}
	}
	return GoAwayOther
}

// IsProtocolErrorCode reports whether a GOAWAY error code says that its
// receiver broke HTTP/2: PROTOCOL_ERROR, FLOW_CONTROL_ERROR,
// SETTINGS_TIMEOUT, STREAM_CLOSED, FRAME_SIZE_ERROR, COMPRESSION_ERROR.
// INTERNAL_ERROR (the sender's own failure), REFUSED_STREAM, CANCEL,
// CONNECT_ERROR, ENHANCE_YOUR_CALM, INADEQUATE_SECURITY and
// HTTP_1_1_REQUIRED do not.
func IsProtocolErrorCode(code uint32) bool {
	switch http2.ErrCode(code) {
	case http2.ErrCodeProtocol, http2.ErrCodeFlowControl, http2.ErrCodeSettingsTimeout,
		http2.ErrCodeStreamClosed, http2.ErrCodeFrameSize, http2.ErrCodeCompression:
		return true
	}
	return false
}

// GoAwayCloseReason is the connection-level reason a GOAWAY stands for,
// read by the role of the side that sent it:
//   - an error code that says the receiver broke HTTP/2 is protocol_error,
//     whoever sent it;
//   - a server's GOAWAY is too_many_pings, max_connection_age,
//     max_connection_idle or server_shutdown by its class (r, from
//     ClassifyGoAway), any other is goaway;
//   - a client's GOAWAY means the client is going away: client_shutdown
//     with NO_ERROR, goaway with any other code, whatever its debug data.
func GoAwayCloseReason(sender Side, code uint32, r GoAwayReason) Reason {
	if IsProtocolErrorCode(code) {
		return ReasonProtocolError
	}
	if sender == Client {
		if code == uint32(http2.ErrCodeNo) {
			return ReasonClientShutdown
		}
		return ReasonGoAway
	}
	switch r {
	case GoAwayTooManyPings:
		return ReasonTooManyPings
	case GoAwayMaxAge:
		return ReasonMaxConnectionAge
	case GoAwayMaxIdle:
		return ReasonMaxConnectionIdle
	case GoAwayGracefulStop:
		return ReasonServerShutdown
	}
	return ReasonGoAway
}

// goAwayCodeByName is the inverse of GoAwayCodeName for the RFC 9113 codes.
func goAwayCodeByName(name string) (uint32, bool) {
	for c := uint32(0); c <= uint32(http2.ErrCodeHTTP11Required); c++ {
		if http2.ErrCode(c).String() == name {
			return c, true
		}
	}
	return 0, false
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

// goAwayDisconnectErrors holds DisconnectError's values for a GOAWAY,
// "GOAWAY " and the code's name, by code and with "UNKNOWN" last: built once,
// so that recording a close concatenates no string.
var goAwayDisconnectErrors = func() []string {
	var s []string
	for c := uint32(0); c <= uint32(http2.ErrCodeHTTP11Required)+1; c++ {
		s = append(s, "GOAWAY "+GoAwayCodeName(c))
	}
	return s
}()

// goAwayDisconnectError returns "GOAWAY " and the name of code.
func goAwayDisconnectError(code uint32) string {
	return goAwayDisconnectErrors[min(code, uint32(len(goAwayDisconnectErrors)-1))]
}
