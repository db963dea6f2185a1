package spans

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// AnnotateGoAway records on an RPC's span that a GOAWAY arrived (or was
// sent) on its transport while it was in flight.
func AnnotateGoAway(span trace.Span, attrs []attribute.KeyValue) {
	if span.IsRecording() {
		span.AddEvent(semconv.EventGoAway, trace.WithAttributes(attrs...))
	}
}

// AnnotateFailure records on an RPC's span that it failed because its
// transport ended, why, and which transport: a link to the transport's
// span, when there is one.
func AnnotateFailure(span trace.Span, reason pulse.Reason, conn trace.SpanContext) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(semconv.CloseReason.String(reason.String()))
	if conn.IsValid() {
		span.AddLink(trace.Link{SpanContext: conn})
	}
}
