// Package config is the one configuration of grpcpulse. Package options
// builds every setting; the bundles (options.Server, options.Client) and
// the building blocks (the stats handlers, the interceptors) all read the
// same Config, so that an option means the same thing wherever it is
// passed.
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

	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Config is what the options set. New fills in the defaults.
type Config struct {
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
	Propagators    propagation.TextMapPropagator
	ConnSpans      bool
	RPCSpans       bool

	// Logger receives one record per abnormal transport end (sampled);
	// OnDiagnosis every diagnosis.
	Logger      *slog.Logger
	OnDiagnosis func(pulse.Diagnosis)

	ErrorHandler func(error)

	// What only the bundles install.
	Creds         credentials.TransportCredentials
	Bundle        credentials.Bundle
	StatsHandlers []grpcstats.Handler

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
}

// Setting is what every option of package options is underneath: a named
// change to a Config. The options' public types only say where an option
// may be passed; a building block asserts each to Setting to apply it.
type Setting interface {
	Apply(*Config) error
	Name() string
}

// Build returns the configuration the options describe: the defaults, read
// from the OpenTelemetry globals now, as otelgrpc does, then each option in
// order. A value that means nothing (a nil provider) or a nil option has no
// effect and is reported through the error handler (default otel.Handle).
func Build[O any](opts []O) *Config {
	c := &Config{
		MeterProvider:  otel.GetMeterProvider(),
		TracerProvider: otel.GetTracerProvider(),
		Propagators:    otel.GetTextMapPropagator(),
		ConnSpans:      true,
		Logger:         slog.Default(),
	}
	// Reported once every option is applied: WithErrorHandler may come
	// after the option whose mistake it is to hear of.
	var errs []error
	for _, o := range opts {
		s, ok := any(o).(Setting)
		if !ok {
			errs = append(errs, errors.New("grpcpulse: a nil option was passed; it has no effect"))
			continue
		}
		if err := s.Apply(c); err != nil {
			errs = append(errs, fmt.Errorf("grpcpulse: %s: %w", s.Name(), err))
		}
	}
	for _, err := range errs {
		c.Handle(err)
	}
	return c
}

// Handle reports err to the error handler: WithErrorHandler's, or
// otel.Handle, OpenTelemetry's, which logs it.
func (c *Config) Handle(err error) { c.Reporter()(err) }

// Reporter returns the error handler Handle reports to, for what outlives
// the Config: it holds nothing of the Config.
func (c *Config) Reporter() func(error) {
	if c.ErrorHandler != nil {
		return c.ErrorHandler
	}
	return otel.Handle
}

// PolicyError is the error that reports what Validate found in a keepalive
// policy a bundle or a handler installs for side: the findings, and whether
// the policy was applied as written or, when grpc-go would reject it, not
// applied (then notApplied says what happens instead).
func PolicyError[E error](side pulse.Side, notApplied string, findings []E) error {
	what := "applied as written"
	if notApplied != "" {
		what = "NOT applied, because grpc-go would reject it; " + notApplied
	}
	return fmt.Errorf("grpcpulse: %s keepalive policy %s; Validate reports: %w", side, what, errors.Join(asErrors(findings)...))
}

// asErrors returns the findings as errors, for errors.Join.
func asErrors[E error](findings []E) []error {
	errs := make([]error, len(findings))
	for i, f := range findings {
		errs[i] = f
	}
	return errs
}
