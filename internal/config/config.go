// Package config is the one configuration of grpcpulse. Package options
// builds every Option; the bundles (options.Server, options.Client) and the
// building blocks (the stats handlers, the interceptors) all read the same
// Config, so that an option means the same thing wherever it is passed.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	grpcstats "google.golang.org/grpc/stats"

	"github.com/grpcpulse/grpcpulse/internal/diagnose"
)

// Sides says on which side of a connection an option has an effect.
type Sides uint8

const (
	// Server options configure a grpc.Server.
	Server Sides = 1 << iota
	// Client options configure a grpc.ClientConn.
	Client
	// Both sides.
	Both = Server | Client
)

func (s Sides) String() string {
	switch s {
	case Server:
		return "server"
	case Client:
		return "client"
	}
	return "server and client"
}

// Config is what the options set. Build fills in the defaults.
type Config struct {
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
	Propagators    propagation.TextMapPropagator
	ConnSpans      bool
	RPCSpans       bool

	// Logger receives one record per abnormal transport end (sampled);
	// OnDiagnosis every diagnosis.
	Logger      *slog.Logger
	OnDiagnosis func(diagnose.Diagnosis)

	Creds  credentials.TransportCredentials
	Bundle credentials.Bundle

	// Keepalive overrides: nil keeps the preset. What the user writes is
	// applied as written unless grpc-go would reject it.
	ServerParams *keepalive.ServerParameters
	Enforcement  *keepalive.EnforcementPolicy
	LongestRPC   *time.Duration
	ClientParams *keepalive.ClientParameters

	// The policy of the servers a client talks to, when the user knows it.
	PeerParams      *keepalive.ServerParameters
	PeerEnforcement *keepalive.EnforcementPolicy
	PeerLongestRPC  time.Duration

	StatsHandlers []grpcstats.Handler
	ErrorHandler  func(error)

	errs []error
}

// Option is one setting. Only this package can make one (see New), so every
// option of grpcpulse is built by package options.
type Option struct {
	name  string
	sides Sides
	apply func(*Config) error
	whole *Config
}

// New returns the option called name (as the user writes it, for example
// "options.WithMeterProvider") that has an effect on sides. apply returns an
// error, which is reported, when the value means nothing (a nil provider):
// the default then stays.
func New(name string, sides Sides, apply func(*Config) error) Option {
	return Option{name: name, sides: sides, apply: apply}
}

// Of returns an option that replaces the whole configuration with c, whose
// mistakes were already reported: how the bundles hand their configuration
// to the building blocks they install.
func Of(c *Config) Option { return Option{name: "config", sides: Both, whole: c} }

// Build returns the configuration of one side: the defaults, read from the
// OpenTelemetry globals now, as otelgrpc does, then opts in order. An
// option for the other side, or a value that means nothing, is reported
// through the error handler (default otel.Handle) and has no effect.
func Build(side Sides, opts []Option) *Config {
	c := &Config{
		MeterProvider:  otel.GetMeterProvider(),
		TracerProvider: otel.GetTracerProvider(),
		Propagators:    otel.GetTextMapPropagator(),
		ConnSpans:      true,
		Logger:         slog.Default(),
	}
	for _, o := range opts {
		switch {
		case o.whole != nil:
			cp := *o.whole
			cp.errs = nil
			c = &cp
		case o.apply == nil:
			// The zero Option, from a var never assigned.
			c.errs = append(c.errs, errors.New("grpcpulse: a zero Option was passed; build options with package options"))
		case o.sides&side == 0:
			c.errs = append(c.errs, fmt.Errorf("grpcpulse: %s is a %s option and has no effect on the %s side; pass it to the %s's options",
				o.name, o.sides, side, o.sides))
		default:
			if err := o.apply(c); err != nil {
				c.errs = append(c.errs, fmt.Errorf("grpcpulse: %s: %w", o.name, err))
			}
		}
	}
	for _, err := range c.errs {
		c.Handle(err)
	}
	c.errs = nil
	return c
}

// Handle reports err to the error handler: WithErrorHandler's, or
// otel.Handle, OpenTelemetry's, which logs it.
func (c *Config) Handle(err error) {
	if c.ErrorHandler != nil {
		c.ErrorHandler(err)
		return
	}
	otel.Handle(err)
}
