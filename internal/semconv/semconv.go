// Package semconv holds grpcpulse's attribute keys and instrument names, the
// contract that dashboards and alerts are written against. Keeping them in
// one place makes a rename impossible to do halfway.
package semconv

import "go.opentelemetry.io/otel/attribute"

// ScopeName is the instrumentation scope of every meter and tracer.
const ScopeName = "github.com/grpcpulse/grpcpulse"

// Version is the module's release version, the instrumentation scope version
// of every meter and tracer (as otelgrpc's Version is its own). It is bumped
// in the commit that prepares a release, to the version the release is then
// tagged with (v0.1.0 → "0.1.0"); between releases it names the last one.
// Dashboards can tell library versions apart by it (otel_scope_version in
// Prometheus).
const Version = "0.1.0"

// Attribute keys.
const (
	Side            = attribute.Key("grpc.side")
	CloseReason     = attribute.Key("grpc.close.reason")
	CloseInitiator  = attribute.Key("grpc.close.initiator")
	CloseActiveRPCs = attribute.Key("grpc.close.active_rpcs")
	DisconnectError = attribute.Key("grpc.disconnect_error")
	GoAwayDirection = attribute.Key("grpc.goaway.direction")
	GoAwayCode      = attribute.Key("grpc.goaway.code")
	GoAwayReason    = attribute.Key("grpc.goaway.reason")
	GoAwayLastID    = attribute.Key("grpc.goaway.last_stream_id")
	PingDirection   = attribute.Key("grpc.ping.direction")
	RPCMethod       = attribute.Key("rpc.method")
	RPCStatusCode   = attribute.Key("rpc.response.status_code")
)

// OtherMethod is the rpc.method (and own span name) of a method whose name a
// peer chose: one the server does not register, or one a client did not
// call through generated code. As in the OpenTelemetry RPC conventions, a
// peer must not be able to mint label values.
const OtherMethod = "_OTHER"

// Instrument names.
const (
	MetricConnections       = "grpc.transport.connections"
	MetricCloses            = "grpc.transport.closes"
	MetricLifetime          = "grpc.transport.lifetime"
	MetricGoAways           = "grpc.transport.goaways"
	MetricPings             = "grpc.keepalive.pings"
	MetricRTT               = "grpc.keepalive.rtt"
	MetricTransportFailures = "grpc.rpc.transport_failures"
)

// Span and event names.
const (
	// ConnSpanName is the name of a transport's span.
	ConnSpanName = "grpc.transport"
	// EventGoAway is recorded for each GOAWAY sent or received.
	EventGoAway = "grpc.goaway"
	// EventKeepaliveTimeout is recorded when this side's keepalive PING
	// went unanswered and this side closed the transport.
	EventKeepaliveTimeout = "grpc.keepalive.timeout"
	// EventDiagnosis is recorded on a transport's span at an abnormal,
	// actionable end: what was observed and the advice.
	EventDiagnosis = "grpc.diagnosis"
	// MaxGoAwayEvents caps the grpc.goaway events of one transport span.
	// grpc-go sends at most a handful per connection; the cap holds against
	// a peer that sends GOAWAY after GOAWAY. Events beyond it are counted in
	// the grpc.goaway.count attribute.
	MaxGoAwayEvents = 8
)
