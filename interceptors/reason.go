package interceptors

import "github.com/grpcpulse/grpcpulse/internal/conntrack"

// Reason is why a transport ended and so why an RPC that ran on it failed.
// Its values are those of the grpc.close.reason attribute.
type Reason string

// The reasons, as recorded in grpc.close.reason.
const (
	// ReasonKeepaliveTimeout: this side's keepalive PING went unanswered
	// and this side closed the connection. Something between the peers
	// (a load balancer, a NAT, a dead host) dropped the flow.
	ReasonKeepaliveTimeout Reason = "keepalive_timeout"
	// ReasonTooManyPings: the server sent GOAWAY ENHANCE_YOUR_CALM
	// "too_many_pings": the client's keepalive is faster than the server's
	// enforcement policy allows.
	ReasonTooManyPings Reason = "too_many_pings"
	// ReasonMaxConnectionAge: the server drained the connection at its
	// MaxConnectionAge and closed it after MaxConnectionAgeGrace.
	ReasonMaxConnectionAge Reason = "max_connection_age"
	// ReasonMaxConnectionIdle: the server closed the idle connection at
	// its MaxConnectionIdle.
	ReasonMaxConnectionIdle Reason = "max_connection_idle"
	// ReasonServerShutdown: the server stopped (GracefulStop or Stop).
	ReasonServerShutdown Reason = "server_shutdown"
	// ReasonClientShutdown: the client closed the connection.
	ReasonClientShutdown Reason = "client_shutdown"
	// ReasonGoAway: any other GOAWAY.
	ReasonGoAway Reason = "goaway"
	// ReasonPeerClosed: the peer closed the connection without a GOAWAY.
	ReasonPeerClosed Reason = "peer_closed"
	// ReasonConnectionReset: the connection was reset (ECONNRESET, EPIPE).
	ReasonConnectionReset Reason = "connection_reset"
	// ReasonIOError: any other read or write error.
	ReasonIOError Reason = "io_error"
	// ReasonProtocolError: the peer broke HTTP/2 and this side closed the
	// connection, or this side received a GOAWAY whose error code
	// (PROTOCOL_ERROR, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, ...) says
	// this side broke it.
	ReasonProtocolError Reason = "protocol_error"
	// ReasonUnknown: the transport ended but why cannot be told, typically
	// because the credentials were not wrapped for the frame observer.
	ReasonUnknown Reason = "unknown"
)

func reasonOf(r conntrack.Reason) Reason { return Reason(r.String()) }
