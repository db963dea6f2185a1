package options

import (
	"errors"
	"log/slog"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	grpcstats "google.golang.org/grpc/stats"

	"github.com/grpcpulse/grpcpulse/internal/config"
	"github.com/grpcpulse/grpcpulse/stats"
)

// Option configures grpcpulse. The same options configure the bundles
// (Server, Client) and the building blocks for programs that compose their
// own grpc options (stats.NewServerHandler, stats.NewClientHandler and the
// interceptors in package interceptors); each option behaves the same
// wherever it is passed.
//
// An option for the other side (WithClientParameters passed to Server) or
// a value that means nothing (a nil provider) has no effect and is reported
// through the error handler (WithErrorHandler, by default otel.Handle).
type Option = config.Option

var (
	errNilMeterProvider  = errors.New("a nil MeterProvider means nothing; the default, otel.GetMeterProvider(), stays")
	errNilTracerProvider = errors.New("a nil TracerProvider means nothing; the default, otel.GetTracerProvider(), stays")
	errNilPropagators    = errors.New("a nil TextMapPropagator means nothing; the default, otel.GetTextMapPropagator(), stays")
	errNilCredentials    = errors.New("nil credentials mean nothing; the default, insecure credentials, stays")
	errNilHandler        = errors.New("a nil stats.Handler means nothing and is not installed")
	errNilErrorHandler   = errors.New("a nil handler means nothing; the default, otel.Handle, stays")
	errNilLogger         = errors.New("a nil Logger means nothing; the default, slog.Default(), stays (to silence the records, pass a logger whose handler discards them)")
	errNilDiagnosis      = errors.New("a nil function means nothing and is not called")
)

// WithMeterProvider sets the MeterProvider of the metrics. The default is
// otel.GetMeterProvider(), read when the option list is applied.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return config.New("options.WithMeterProvider", config.Both, func(c *config.Config) error {
		if mp == nil {
			return errNilMeterProvider
		}
		c.MeterProvider = mp
		return nil
	})
}

// WithTracerProvider sets the TracerProvider of the connection spans and of
// the own RPC spans. The default is otel.GetTracerProvider(), read when the
// option list is applied.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return config.New("options.WithTracerProvider", config.Both, func(c *config.Config) error {
		if tp == nil {
			return errNilTracerProvider
		}
		c.TracerProvider = tp
		return nil
	})
}

// WithPropagators sets how the own RPC spans (WithRPCSpans) carry the trace
// context in request metadata. The default is otel.GetTextMapPropagator(),
// as in otelgrpc: set the global propagator once
// (otel.SetTextMapPropagator(propagation.TraceContext{})) and every
// instrumentation agrees.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return config.New("options.WithPropagators", config.Both, func(c *config.Config) error {
		if p == nil {
			return errNilPropagators
		}
		c.Propagators = p
		return nil
	})
}

// WithConnectionSpans turns the grpc.transport connection spans on (the
// default) or off. RPC spans are annotated either way; without connection
// spans their failures carry the close reason but no link.
func WithConnectionSpans(on bool) Option {
	return config.New("options.WithConnectionSpans", config.Both, func(c *config.Config) error {
		c.ConnSpans = on
		return nil
	})
}

// WithRPCSpans turns grpcpulse's own RPC spans on or off (the default), for
// programs that do not install otelgrpc. With otelgrpc (WithStatsHandler),
// leave them off: grpcpulse annotates otelgrpc's spans instead.
func WithRPCSpans(on bool) Option {
	return config.New("options.WithRPCSpans", config.Both, func(c *config.Config) error {
		c.RPCSpans = on
		return nil
	})
}

// WithTransportCredentials sets the transport credentials, which are wrapped
// so that grpcpulse sees the connection's HTTP/2 frames (TLS included: the
// frames are read after the handshake). The default is insecure
// credentials. Do not pass grpc.Creds or grpc.WithTransportCredentials
// beside Server or Client: grpc-go uses the last one, and credentials that
// are not wrapped hide why connections end.
func WithTransportCredentials(creds credentials.TransportCredentials) Option {
	return config.New("options.WithTransportCredentials", config.Both, func(c *config.Config) error {
		if creds == nil {
			return errNilCredentials
		}
		c.Creds, c.Bundle = creds, nil
		return nil
	})
}

// WithCredentialsBundle sets a client's credentials as a bundle (what
// grpc.WithCredentialsBundle takes, as Google's default credentials are):
// its transport credentials are wrapped like WithTransportCredentials', its
// per-RPC credentials are untouched. It replaces WithTransportCredentials.
func WithCredentialsBundle(b credentials.Bundle) Option {
	return config.New("options.WithCredentialsBundle", config.Client, func(c *config.Config) error {
		if b == nil {
			return errNilCredentials
		}
		c.Bundle, c.Creds = b, nil
		return nil
	})
}

// WithServerPolicy replaces the server's preset (DefaultServerPolicy) as a
// whole, for example with LoadBalancedServerPolicy(). Like the field
// overrides below, it is applied as written; ValidateServer's findings
// about it are reported.
func WithServerPolicy(p ServerPolicy) Option {
	return config.New("options.WithServerPolicy", config.Server, func(c *config.Config) error {
		c.ServerParams, c.Enforcement, c.LongestRPC = &p.Parameters, &p.Enforcement, &p.LongestRPC
		return nil
	})
}

// WithServerParameters overrides the server's keepalive.ServerParameters.
func WithServerParameters(p keepalive.ServerParameters) Option {
	return config.New("options.WithServerParameters", config.Server, func(c *config.Config) error {
		c.ServerParams = &p
		return nil
	})
}

// WithEnforcementPolicy overrides the server's keepalive.EnforcementPolicy.
func WithEnforcementPolicy(p keepalive.EnforcementPolicy) Option {
	return config.New("options.WithEnforcementPolicy", config.Server, func(c *config.Config) error {
		c.Enforcement = &p
		return nil
	})
}

// WithClientParameters overrides the client's keepalive.ClientParameters
// (DefaultClientParameters).
func WithClientParameters(p keepalive.ClientParameters) Option {
	return config.New("options.WithClientParameters", config.Client, func(c *config.Config) error {
		c.ClientParams = &p
		return nil
	})
}

// WithPeerServerPolicy tells Client the keepalive policy of the servers it
// talks to. The client's own parameters are then checked against it
// (Validate) and the findings reported: a Time the server would answer
// with GOAWAY too_many_pings, for example. Without it, the client is
// checked alone, since any server policy would be a guess.
func WithPeerServerPolicy(p ServerPolicy) Option {
	return config.New("options.WithPeerServerPolicy", config.Client, func(c *config.Config) error {
		c.PeerParams, c.PeerEnforcement, c.PeerLongestRPC = &p.Parameters, &p.Enforcement, p.LongestRPC
		return nil
	})
}

// WithStatsHandler installs another stats.Handler, such as otelgrpc's,
// after grpcpulse's own (only the bundles install handlers). grpc-go
// passes every handler the context all of them tagged, so grpcpulse sees
// the RPC span otelgrpc starts; and it calls them in the order they were
// installed, so grpcpulse annotates that span at the RPC's end before
// otelgrpc ends it. Installed the other way round, the annotation would come
// after the span ended and be lost.
func WithStatsHandler(h grpcstats.Handler) Option {
	return config.New("options.WithStatsHandler", config.Both, func(c *config.Config) error {
		if h == nil {
			return errNilHandler
		}
		c.StatsHandlers = append(c.StatsHandlers, h)
		return nil
	})
}

// WithErrorHandler sets where grpcpulse reports what it will not do as
// asked and what it finds questionable: an option for the other side, a
// nil value, a keepalive override that grpc-go would reject (not applied),
// and Validate's findings about the keepalive overrides (applied as
// written). The default is otel.Handle, OpenTelemetry's error handler,
// which logs. Use CheckServer or CheckClient to fail at start instead.
func WithErrorHandler(f func(error)) Option {
	return config.New("options.WithErrorHandler", config.Both, func(c *config.Config) error {
		if f == nil {
			return errNilErrorHandler
		}
		c.ErrorHandler = f
		return nil
	})
}

// WithLogger sets where the diagnosis of each abnormal, actionable transport
// end goes: one record at level WARN, message "grpc transport closed", with
// grpc.side, grpc.close.reason, grpc.close.initiator, network.peer.address,
// network.peer.port, what was observed, and advice that names the keepalive
// parameter to change and a value that would have prevented the end. Per
// reason, the first record is written at once, then at most one a minute,
// carrying how many were held back (grpc.diagnosis.suppressed). The metrics
// stay exact; only the log is sampled. Normal ends (a client's Close,
// GracefulStop, an idle connection drained with nothing in flight) write
// nothing. The default is slog.Default(), read when the option list is
// applied.
//
// The advice judges against the keepalive policy the options describe:
// the one Server or Client installs, or, for a stats handler composed
// alone, what WithServerParameters, WithEnforcementPolicy or
// WithClientParameters say the grpc options it runs with are.
func WithLogger(l *slog.Logger) Option {
	return config.New("options.WithLogger", config.Both, func(c *config.Config) error {
		if l == nil {
			return errNilLogger
		}
		c.Logger = l
		return nil
	})
}

// WithDiagnosisHandler sets a function that receives every diagnosis,
// unsampled, as it is made: for programs that route diagnoses somewhere
// other than a log (an event stream, a health check, a test). It runs on
// the goroutine that ends the transport and must not block.
func WithDiagnosisHandler(f func(stats.Diagnosis)) Option {
	return config.New("options.WithDiagnosisHandler", config.Both, func(c *config.Config) error {
		if f == nil {
			return errNilDiagnosis
		}
		c.OnDiagnosis = f
		return nil
	})
}
