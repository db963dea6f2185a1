package pulse

// Reason is why a transport ended: the value of grpc.close.reason on
// grpc.transport.closes, grpc.transport.lifetime,
// grpc.rpc.transport_failures and the spans, and what interceptors.Cause
// returns for an RPC that died with its transport. It is decided once per
// transport end, from what the frame observer saw, and every output reads
// that one value.
//
// A GOAWAY is read by the role of the side that sent it: only a server
// drains or answers too_many_pings, so a client's GOAWAY never makes a
// server record those reasons, whatever its debug data says.
type Reason uint8

// The reasons. The zero value is ReasonUnknown.
const (
	// ReasonUnknown ("unknown"): the transport ended but nothing observed
	// explains why, typically because the credentials were not wrapped for
	// the frame observer.
	ReasonUnknown Reason = iota
	// ReasonKeepaliveTimeout ("keepalive_timeout"): this side's keepalive
	// PING went unanswered and this side closed the connection (or the
	// kernel's TCP_USER_TIMEOUT failed the socket first). Something between
	// the peers dropped the flow, or the peer's host died.
	ReasonKeepaliveTimeout
	// ReasonTooManyPings ("too_many_pings"): the server sent GOAWAY
	// ENHANCE_YOUR_CALM "too_many_pings": the client pinged more often than
	// the server's enforcement policy allows.
	ReasonTooManyPings
	// ReasonMaxConnectionAge ("max_connection_age"): the server drained
	// the connection at its maximum connection age (GOAWAY "max_age") and
	// closed it after the grace period.
	ReasonMaxConnectionAge
	// ReasonMaxConnectionIdle ("max_connection_idle"): the server closed
	// the connection after its maximum idle time (GOAWAY "max_idle"; from
	// gRPC C-core, GOAWAY INTERNAL_ERROR "enter idle" or "connection idle").
	ReasonMaxConnectionIdle
	// ReasonServerShutdown ("server_shutdown"): the server stopped
	// (GOAWAY "graceful_stop", or the server closing without a GOAWAY while
	// its reader was still reading).
	ReasonServerShutdown
	// ReasonClientShutdown ("client_shutdown"): the client closed the
	// connection: its channel closed or went idle.
	ReasonClientShutdown
	// ReasonGoAway ("goaway"): a GOAWAY that none of the other reasons
	// describes.
	ReasonGoAway
	// ReasonPeerClosed ("peer_closed"): the peer, or something on the path,
	// closed the connection without a GOAWAY.
	ReasonPeerClosed
	// ReasonConnectionReset ("connection_reset"): the connection was reset
	// (ECONNRESET, EPIPE).
	ReasonConnectionReset
	// ReasonIOError ("io_error"): any other read or write error.
	ReasonIOError
	// ReasonProtocolError ("protocol_error"): the peer broke HTTP/2 and
	// this side closed the connection (initiator local), or a GOAWAY's
	// error code says this side broke it (initiator peer). A scanner, a
	// broken client or a proxy rewriting frames; no keepalive setting is
	// involved.
	ReasonProtocolError
	// ReasonServerDrain ("server_drain"): the server drained the
	// connection with GOAWAY NO_ERROR and no debug data, as gRPC C-core and
	// grpc-js do alike for their maximum connection age, their idle limit
	// and their shutdown: the wire does not say which.
	ReasonServerDrain
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
	ReasonServerDrain:       "server_drain",
}

// String returns the attribute value of the reason ("max_connection_age").
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
	case ReasonKeepaliveTimeout, ReasonTooManyPings, ReasonConnectionReset, ReasonIOError, ReasonProtocolError:
		return true
	}
	return false
}

// Reasons returns every reason, in the order of their values: for tests,
// documentation and dashboards that enumerate them.
func Reasons() []Reason {
	rs := make([]Reason, len(reasonNames))
	for i := range rs {
		rs[i] = Reason(i)
	}
	return rs
}
