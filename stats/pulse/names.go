package pulse

// ScopeName is the instrumentation scope of every meter and tracer
// grpcpulse uses.
const ScopeName = "github.com/grpcpulse/grpcpulse"

// Version is the release of grpcpulse, the instrumentation scope version of
// every meter and tracer (otel_scope_version in Prometheus), so that
// dashboards can tell library versions apart. It is the version the release
// is tagged with, without its "v"; between releases it names the last one.
const Version = "0.1.0"

// Metric names.
const (
	// MetricConnections (Int64UpDownCounter, {connection}): open transports,
	// by grpc.side.
	MetricConnections = "grpc.transport.connections"
	// MetricCloses (Int64Counter, {connection}): ended transports, by
	// grpc.side, grpc.close.reason, grpc.close.initiator,
	// grpc.close.active_rpcs and grpc.disconnect_error. Every transport
	// that began ends in exactly one count.
	MetricCloses = "grpc.transport.closes"
	// MetricLifetime (Float64Histogram, s): how long transports lived, by
	// grpc.side and grpc.close.reason.
	MetricLifetime = "grpc.transport.lifetime"
	// MetricGoAways (Int64Counter, {goaway}): GOAWAY events sent and
	// received, by grpc.side, grpc.goaway.direction, grpc.goaway.code and
	// grpc.goaway.reason; a two-phase drain counts once.
	MetricGoAways = "grpc.transport.goaways"
	// MetricPings (Int64Counter, {ping}): keepalive PINGs sent and
	// received, by grpc.side and grpc.ping.direction; acknowledgements,
	// flow-control and drain PINGs are not counted.
	MetricPings = "grpc.keepalive.pings"
	// MetricRTT (Float64Histogram, s): the round trip of the keepalive
	// PINGs this side sent, by grpc.side.
	MetricRTT = "grpc.keepalive.rtt"
	// MetricTransportFailures (Int64Counter, {call}): calls that failed
	// because their transport ended or drained, by grpc.side,
	// grpc.close.reason, rpc.method and rpc.response.status_code.
	MetricTransportFailures = "grpc.rpc.transport_failures"
)

// Attribute keys of the metrics and spans. Every value comes from a fixed
// set; nothing a peer sends becomes a value.
const (
	AttrSide               = "grpc.side"                  // "client", "server"
	AttrCloseReason        = "grpc.close.reason"          // Reason.String
	AttrCloseInitiator     = "grpc.close.initiator"       // Initiator.String
	AttrCloseActiveRPCs    = "grpc.close.active_rpcs"     // whether RPCs were in flight when the transport ended
	AttrDisconnectError    = "grpc.disconnect_error"      // the gRFC A94 value
	AttrGoAwayDirection    = "grpc.goaway.direction"      // "sent", "received"
	AttrGoAwayCode         = "grpc.goaway.code"           // the HTTP/2 error code's name, or "UNKNOWN"
	AttrGoAwayReason       = "grpc.goaway.reason"         // the debug data's class
	AttrGoAwayLastStreamID = "grpc.goaway.last_stream_id" // span events only
	AttrPingDirection      = "grpc.ping.direction"        // "sent", "received"
	AttrRPCMethod          = "rpc.method"                 // "pkg.Service/Method", or OtherMethod
	AttrRPCStatusCode      = "rpc.response.status_code"   // the status code's name, "UNAVAILABLE"
	AttrPeerImplementation = "grpc.peer.implementation"   // Implementation.String
	AttrPingsSent          = "grpc.keepalive.pings_sent"  // connection span, at its end
	AttrPingsReceived      = "grpc.keepalive.pings_received"
	AttrRPCs               = "grpc.rpcs"         // connection span: RPCs the transport carried
	AttrGoAwayCount        = "grpc.goaway.count" // connection span: GOAWAY events, also those past MaxGoAwayEvents
)

// OtherMethod is the rpc.method value of a method a peer chose: one the
// server does not register, or one a client did not call through generated
// code. As in the OpenTelemetry RPC conventions, a peer cannot mint label
// values.
const OtherMethod = "_OTHER"

// Spans and their events.
const (
	// SpanTransport is the name of a transport's span: kind Internal, a root
	// span, from the transport's start to its end.
	SpanTransport = "grpc.transport"
	// EventGoAway is recorded for each GOAWAY sent or received, on the
	// transport's span and on the spans of the RPCs in flight. Its
	// attributes: grpc.goaway.direction, grpc.goaway.code,
	// grpc.goaway.reason, grpc.goaway.last_stream_id.
	EventGoAway = "grpc.goaway"
	// EventKeepaliveTimeout is recorded on a transport's span when this
	// side's keepalive PING went unanswered and this side closed it.
	EventKeepaliveTimeout = "grpc.keepalive.timeout"
	// EventDiagnosis is recorded on a transport's span at an abnormal,
	// actionable end, with a Diagnosis's attributes.
	EventDiagnosis = "grpc.diagnosis"
	// MaxGoAwayEvents caps the EventGoAway events of one transport span, so
	// that a peer sending GOAWAY after GOAWAY cannot grow it;
	// grpc.goaway.count counts them all.
	MaxGoAwayEvents = 8
)

// The diagnosis: its log message, and the attributes of the log record and
// of the EventDiagnosis span event besides grpc.side, grpc.close.reason,
// grpc.close.initiator and the peer's network.peer.address and
// network.peer.port. Durations are seconds on the span event.
const (
	// LogMessage is the message of a diagnosis's log record, written at
	// level WARN.
	LogMessage = "grpc transport closed"

	AttrLifetime            = "grpc.transport.lifetime"              // from the transport's start to its end
	AttrIdle                = "grpc.transport.idle"                  // how long nothing was read before the end began
	AttrLastRTT             = "grpc.keepalive.last_rtt"              // the last keepalive round trip this side measured
	AttrPeerPingIntervals   = "grpc.keepalive.peer_ping_intervals"   // the intervals between the peer's last PINGs
	AttrMinTime             = "grpc.keepalive.min_time"              // a server's enforced minimum ping interval
	AttrTime                = "grpc.keepalive.time"                  // this side's keepalive time
	AttrTimeout             = "grpc.keepalive.timeout"               // this side's keepalive timeout
	AttrPermitWithoutStream = "grpc.keepalive.permit_without_stream" // pings without RPCs: sent (client) or allowed (server)
	AttrCutRPCs             = "grpc.close.cut_rpcs"                  // how many RPCs the end cut
	AttrCutMethods          = "grpc.close.cut_methods"               // their methods (at most MaxCutRPCs)
	AttrLongestCutRPC       = "grpc.close.longest_cut_rpc"           // how long the longest had run
	AttrViolation           = "grpc.protocol.violation"              // the frame rule a peer broke
	AttrSuppressed          = "grpc.diagnosis.suppressed"            // log records held back since the last one
	AttrAdvice              = "advice"                               // what to change
)
