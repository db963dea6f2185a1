package stats

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// config is what the options set. Defaults are filled in by newConfig.
type config struct {
	meterProvider  metric.MeterProvider
	tracerProvider trace.TracerProvider
	connSpans      bool
	rpcSpans       bool
	propagator     propagation.TextMapPropagator
}

// Option configures a Handler.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithMeterProvider sets the MeterProvider the instruments are created
// from. The default is otel.GetMeterProvider(), read when the Handler is
// created.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp != nil {
			c.meterProvider = mp
		}
	})
}

// WithTracerProvider sets the TracerProvider of the transport spans. The
// default is otel.GetTracerProvider(), read when the Handler is created.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) {
		if tp != nil {
			c.tracerProvider = tp
		}
	})
}

// WithConnectionSpans turns the grpc.transport spans on (the default) or
// off. RPC spans are annotated either way; without connection spans their
// failures carry the close reason but no link.
func WithConnectionSpans(on bool) Option {
	return optionFunc(func(c *config) { c.connSpans = on })
}

// WithRPCSpans turns grpcpulse's own RPC spans on or off (the default).
// Turn them on when no other instrumentation (otelgrpc) starts RPC spans:
// they follow the same OpenTelemetry conventions and carry the trace
// context in metadata, so client and server share one trace.
func WithRPCSpans(on bool) Option {
	return optionFunc(func(c *config) { c.rpcSpans = on })
}

// WithPropagator sets how the own RPC spans carry the trace context in
// metadata. The default is W3C Trace Context (traceparent, tracestate),
// which otelgrpc and most tracing backends understand.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) {
		if p != nil {
			c.propagator = p
		}
	})
}

func newConfig(opts []Option) config {
	c := config{
		meterProvider:  otel.GetMeterProvider(),
		tracerProvider: otel.GetTracerProvider(),
		connSpans:      true,
		propagator:     propagation.TraceContext{},
	}
	for _, o := range opts {
		o.apply(&c)
	}
	return c
}
