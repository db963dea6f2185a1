package conntrack

import (
	"golang.org/x/net/http2"

	"github.com/grpcpulse/grpcpulse/stats/pulse"

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

// sender returns the role of the side that sent a frame that side s saw
// going in direction dir.
func sender(s pulse.Side, dir wire.Direction) pulse.Side {
	if dir == wire.Sent {
		return s
	}
	return peerOf(s)
}

// peerOf returns the other role.
func peerOf(s pulse.Side) pulse.Side {
	if s == pulse.SideServer {
		return pulse.SideClient
	}
	return pulse.SideServer
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
// the same strings for max age and idle, and "app_requested" for its
// graceful shutdown) sends to a GoAwayReason, whoever
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
	case "graceful_stop", "app_requested":
		// grpc-java's server shutdown (NettyServerHandler's graceful
		// shutdown) says "app_requested".
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
func ClassifyGoAway(sender pulse.Side, code uint32, debug []byte) GoAwayReason {
	r := ClassifyGoAwayDebug(debug)
	switch r {
	case GoAwayNone:
		return r
	case GoAwayTooManyPings:
		if sender == pulse.SideServer && code == uint32(http2.ErrCodeEnhanceYourCalm) {
			return r
		}
	case GoAwayMaxAge, GoAwayMaxIdle, GoAwayGracefulStop:
		if sender == pulse.SideServer {
			return r
		}
	case GoAwayClientShutdown:
		if sender == pulse.SideClient {
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
//     ClassifyGoAway); NO_ERROR without debug data is server_drain, how
//     gRPC C-core and grpc-js drain for their age and idle limits and their
//     shutdown alike; any other is goaway;
//   - a client's GOAWAY means the client is going away: client_shutdown
//     with NO_ERROR, goaway with any other code, whatever its debug data.
func GoAwayCloseReason(sender pulse.Side, code uint32, r GoAwayReason) pulse.Reason {
	if IsProtocolErrorCode(code) {
		return pulse.ReasonProtocolError
	}
	if sender == pulse.SideClient {
		if code == uint32(http2.ErrCodeNo) {
			return pulse.ReasonClientShutdown
		}
		return pulse.ReasonGoAway
	}
	switch r {
	case GoAwayTooManyPings:
		return pulse.ReasonTooManyPings
	case GoAwayMaxAge:
		return pulse.ReasonMaxConnectionAge
	case GoAwayMaxIdle:
		return pulse.ReasonMaxConnectionIdle
	case GoAwayGracefulStop:
		return pulse.ReasonServerShutdown
	case GoAwayNone:
		if code == uint32(http2.ErrCodeNo) {
			return pulse.ReasonServerDrain
		}
	}
	return pulse.ReasonGoAway
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
