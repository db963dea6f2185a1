package tracing

import "github.com/grpcpulse/grpcpulse/internal/semconv"

// Span and event names, and the bound on a span's events.
const (
	// ConnSpanName is the name of a transport's span (kind Internal, a
	// root span).
	ConnSpanName = semconv.ConnSpanName
	// EventGoAway is recorded for each GOAWAY sent or received, on the
	// transport's span and on the spans of the RPCs in flight. Its
	// attributes: grpc.goaway.direction, grpc.goaway.code,
	// grpc.goaway.reason, grpc.goaway.last_stream_id.
	EventGoAway = semconv.EventGoAway
	// EventKeepaliveTimeout is recorded on a transport's span when this
	// side's keepalive PING went unanswered and this side closed the
	// transport.
	EventKeepaliveTimeout = semconv.EventKeepaliveTimeout
	// EventDiagnosis is recorded on a transport's span when it ended
	// abnormally in a way a setting can prevent: the observed facts and
	// the advice, as in the log record of options.WithLogger.
	EventDiagnosis = semconv.EventDiagnosis
	// MaxGoAwayEvents caps the EventGoAway events of one transport span;
	// the grpc.goaway.count attribute counts them all.
	MaxGoAwayEvents = semconv.MaxGoAwayEvents
)
