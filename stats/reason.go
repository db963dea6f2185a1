package stats

import (
	"github.com/grpcpulse/grpcpulse/internal/diagnose"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Diagnosis is what a Handler concludes about an abnormal, actionable
// transport end: the facts it observed (Facts), the keepalive policy in
// force, and Advice, which names the parameter to change and a value that
// would have prevented the end. Attrs returns it as log attributes. See
// options.WithLogger and options.WithDiagnosisHandler.
type Diagnosis = diagnose.Diagnosis

// Reason is why a transport ended: the value of the grpc.close.reason
// attribute on grpc.transport.closes, grpc.transport.lifetime,
// grpc.rpc.transport_failures and the spans, and what interceptors.Cause
// returns for an RPC that died with its transport. It is decided once per
// transport, from what the frame observer saw, and every output reads that
// one value. String returns the attribute value.
type Reason = pulse.Reason

// The reasons. A GOAWAY is read by the role of the side that sent it: only a
// server drains (max_age, max_idle, graceful_stop) or answers
// too_many_pings, so a client's GOAWAY never makes a server record those.
const (
	// ReasonKeepaliveTimeout ("keepalive_timeout"): this side's keepalive
	// PING went unanswered and this side closed the connection. Something
	// between the peers (a load balancer, a NAT, a dead host) dropped the
	// flow.
	ReasonKeepaliveTimeout = pulse.ReasonKeepaliveTimeout
	// ReasonTooManyPings ("too_many_pings"): the server sent GOAWAY
	// ENHANCE_YOUR_CALM "too_many_pings": the client's keepalive is faster
	// than the server's enforcement policy allows.
	ReasonTooManyPings = pulse.ReasonTooManyPings
	// ReasonMaxConnectionAge ("max_connection_age"): the server drained
	// the connection at its MaxConnectionAge and closed it after
	// MaxConnectionAgeGrace.
	ReasonMaxConnectionAge = pulse.ReasonMaxConnectionAge
	// ReasonMaxConnectionIdle ("max_connection_idle"): the server closed
	// the idle connection at its MaxConnectionIdle (GOAWAY "max_idle"; from
	// gRPC C-core, GOAWAY INTERNAL_ERROR "enter idle" or "connection idle").
	ReasonMaxConnectionIdle = pulse.ReasonMaxConnectionIdle
	// ReasonServerShutdown ("server_shutdown"): the server stopped
	// (GracefulStop or Stop).
	ReasonServerShutdown = pulse.ReasonServerShutdown
	// ReasonClientShutdown ("client_shutdown"): the client closed the
	// connection (its channel closed or went idle).
	ReasonClientShutdown = pulse.ReasonClientShutdown
	// ReasonProtocolError ("protocol_error"): the peer broke HTTP/2 and
	// this side closed the connection (initiator local), or this side
	// received a GOAWAY whose error code says this side broke it
	// (initiator peer). A scanner, a broken client or a proxy rewriting
	// frames; no keepalive setting is involved.
	ReasonProtocolError = pulse.ReasonProtocolError
	// ReasonGoAway ("goaway"): any other GOAWAY, among them a gRPC C-core
	// server's drain at max age or shutdown, whose GOAWAYs carry no debug
	// data to tell the two apart.
	ReasonGoAway = pulse.ReasonGoAway
	// ReasonPeerClosed ("peer_closed"): the peer closed the connection
	// without a GOAWAY.
	ReasonPeerClosed = pulse.ReasonPeerClosed
	// ReasonConnectionReset ("connection_reset"): the connection was reset
	// (ECONNRESET, EPIPE).
	ReasonConnectionReset = pulse.ReasonConnectionReset
	// ReasonIOError ("io_error"): any other read or write error.
	ReasonIOError = pulse.ReasonIOError
	// ReasonUnknown ("unknown"): the transport ended but why cannot be
	// told, typically because the credentials were not wrapped for the
	// frame observer.
	ReasonUnknown = pulse.ReasonUnknown
)
