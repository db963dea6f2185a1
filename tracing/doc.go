// Package tracing describes the OpenTelemetry spans grpcpulse records, for
// programs that read them: span processors, samplers, tests and dashboards.
// The stats handlers of package stats record them.
//
// Each transport becomes a root span named pulse.SpanTransport
// ("grpc.transport"), from its start to its end, with events
// pulse.EventGoAway, pulse.EventKeepaliveTimeout and pulse.EventDiagnosis.
// The span already in an RPC's context (otelgrpc's, or grpcpulse's own with
// options.WithRPCSpans) gets a pulse.EventGoAway event
// when a GOAWAY arrives while the RPC is in flight and, when the RPC fails
// because its transport ended, the grpc.close.reason attribute and a link to
// the transport's span. In a tracing backend a failed RPC thus says why it
// failed and leads to the connection that killed it; TransportSpanContext
// gives a server handler the same link.
//
// Spans stay small however long a transport lives: keepalive PINGs are
// counted in attributes, never recorded as events, and at most
// pulse.MaxGoAwayEvents GOAWAY events are kept per span.
//
// An idle transport holds no span at all: its span is started when it is
// first needed (at the transport's end, or earlier when an RPC links to it
// or TransportSpanContext asks for it), with the transport's start time, and
// GOAWAY events that came before keep their own times. Exporters receive the
// same span either way; what a span processor's OnStart and a sampler see
// differs: the span appears only then, and a span started at the end starts
// without attributes and gets them all at once.
package tracing
