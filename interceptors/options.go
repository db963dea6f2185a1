package interceptors

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
)

// config is what the options set. Defaults are filled in by newConfig.
type config struct {
	meterProvider metric.MeterProvider
}

// Option configures an interceptor.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithMeterProvider sets the MeterProvider the instruments are created
// from. The default is otel.GetMeterProvider(), read when the interceptor is
// created.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp != nil {
			c.meterProvider = mp
		}
	})
}

func newConfig(opts []Option) config {
	c := config{meterProvider: otel.GetMeterProvider()}
	for _, o := range opts {
		o.apply(&c)
	}
	return c
}
