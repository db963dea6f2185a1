package tracing

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/grpcpulse/grpcpulse/internal/rpclink"
)

// TransportSpanContext returns the span context of the transport a server
// RPC runs on, from the handler's context, so that the application can link
// its own spans or log lines to the connection: the zero SpanContext (not
// valid) when grpcpulse's server handler is not installed or connection
// spans are off.
func TransportSpanContext(ctx context.Context) trace.SpanContext {
	c := rpclink.ConnFrom(ctx)
	if c == nil {
		return trace.SpanContext{}
	}
	return c.Span.SpanContext()
}
