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
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// The option types say where an option may be passed; the package
// documentation has the table.

// ServerOption configures Server.
type ServerOption interface{ serverOption() }

// ClientOption configures Client.
type ClientOption interface{ clientOption() }

// BundleOption configures both bundles, Server and Client.
type BundleOption interface {
	ServerOption
	ClientOption
}

// HandlerOption configures the stats handlers (stats.NewServerHandler,
// stats.NewClientHandler) and the bundles, which install them.
type HandlerOption interface {
	BundleOption
	handlerOption()
}

// Option configures every building block: the bundles, the stats handlers
// and the interceptors of package interceptors.
type Option interface {
	HandlerOption
	interceptorOption()
}

// setting is every option underneath: a named change to the configuration,
// which the building blocks apply through config.Setting. Its variants
// below differ only in the interfaces they satisfy.
type setting struct {
	name  string
	apply func(*config.Config) error
}

func (s setting) Apply(c *config.Config) error { return s.apply(c) }
func (s setting) Name() string                 { return s.name }

type (
	serverSetting  struct{ setting }
	clientSetting  struct{ setting }
	bundleSetting  struct{ setting }
	handlerSetting struct{ setting }
	everySetting   struct{ setting }
)

func (serverSetting) serverOption()     {}
func (clientSetting) clientOption()     {}
func (bundleSetting) serverOption()     {}
func (bundleSetting) clientOption()     {}
func (handlerSetting) serverOption()    {}
func (handlerSetting) clientOption()    {}
func (handlerSetting) handlerOption()   {}
func (everySetting) serverOption()      {}
func (everySetting) clientOption()      {}
func (everySetting) handlerOption()     {}
func (everySetting) interceptorOption() {}

func newSetting(name string, apply func(*config.Config) error) setting {
	return setting{name: "options." + name, apply: apply}
}

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
	return everySetting{newSetting("WithMeterProvider", func(c *config.Config) error {
		if mp == nil {
			return errNilMeterProvider
		}
		c.MeterProvider = mp
		return nil
	})}
}

// WithTracerProvider sets the TracerProvider of the connection spans and of
// the own RPC spans. The default is otel.GetTracerProvider(), read when the
// option list is applied.
func WithTracerProvider(tp trace.TracerProvider) HandlerOption {
	return handlerSetting{newSetting("WithTracerProvider", func(c *config.Config) error {
		if tp == nil {
			return errNilTracerProvider
		}
		c.TracerProvider = tp
		return nil
	})}
}

// WithPropagators sets how the own RPC spans (WithRPCSpans) carry the trace
// context in request metadata. The default is otel.GetTextMapPropagator(),
// as in otelgrpc: set the global propagator once
// (otel.SetTextMapPropagator(propagation.TraceContext{})) and every
// instrumentation agrees.
func WithPropagators(p propagation.TextMapPropagator) HandlerOption {
	return handlerSetting{newSetting("WithPropagators", func(c *config.Config) error {
		if p == nil {
			return errNilPropagators
		}
		c.Propagators = p
		return nil
	})}
}

// WithConnectionSpans turns the grpc.transport connection spans on (the
// default) or off. RPC spans are annotated either way; without connection
// spans their failures carry the close reason but no link.
func WithConnectionSpans(on bool) HandlerOption {
	return handlerSetting{newSetting("WithConnectionSpans", func(c *config.Config) error {
		c.ConnSpans = on
		return nil
	})}
}

// WithRPCSpans turns grpcpulse's own RPC spans on or off (the default), for
// programs that do not install otelgrpc. With otelgrpc (WithStatsHandler),
// leave them off: grpcpulse annotates otelgrpc's spans instead.
func WithRPCSpans(on bool) HandlerOption {
	return handlerSetting{newSetting("WithRPCSpans", func(c *config.Config) error {
		c.RPCSpans = on
		return nil
	})}
}

// WithTransportCredentials sets the transport credentials, which are wrapped
// so that grpcpulse sees the connection's HTTP/2 frames (TLS included: the
// frames are read after the handshake). The default is insecure
// credentials. Do not pass grpc.Creds or grpc.WithTransportCredentials
// beside Server or Client: grpc-go uses the last one, and credentials that
// are not wrapped hide why connections end (the stats handler then reports
// that once through the error handler). A stats handler composed alone
// wraps credentials with its WrapCredentials method instead.
func WithTransportCredentials(creds credentials.TransportCredentials) BundleOption {
	return bundleSetting{newSetting("WithTransportCredentials", func(c *config.Config) error {
		if creds == nil {
			return errNilCredentials
		}
		c.Creds, c.Bundle = creds, nil
		return nil
	})}
}

// WithCredentialsBundle sets a client's credentials as a bundle (what
// grpc.WithCredentialsBundle takes, as Google's default credentials are):
// its transport credentials are wrapped like WithTransportCredentials', its
// per-RPC credentials are untouched. It replaces WithTransportCredentials.
func WithCredentialsBundle(b credentials.Bundle) ClientOption {
	return clientSetting{newSetting("WithCredentialsBundle", func(c *config.Config) error {
		if b == nil {
			return errNilCredentials
		}
		c.Bundle, c.Creds = b, nil
		return nil
	})}
}

// WithServerPolicy replaces the server's preset (DefaultServerPolicy) as a
// whole, for example with LoadBalancedServerPolicy(). Like the field
// overrides below, it is applied as written; what Validate finds in it is
// reported through the error handler.
func WithServerPolicy(p ServerPolicy) ServerOption {
	return serverSetting{newSetting("WithServerPolicy", func(c *config.Config) error {
		c.ServerParams, c.Enforcement, c.LongestRPC = &p.Parameters, &p.Enforcement, &p.LongestRPC
		return nil
	})}
}

// WithServerParameters overrides the server's keepalive.ServerParameters.
func WithServerParameters(p keepalive.ServerParameters) ServerOption {
	return serverSetting{newSetting("WithServerParameters", func(c *config.Config) error {
		c.ServerParams = &p
		return nil
	})}
}

// WithEnforcementPolicy overrides the server's keepalive.EnforcementPolicy.
func WithEnforcementPolicy(p keepalive.EnforcementPolicy) ServerOption {
	return serverSetting{newSetting("WithEnforcementPolicy", func(c *config.Config) error {
		c.Enforcement = &p
		return nil
	})}
}

// WithClientParameters overrides the client's keepalive.ClientParameters
// (DefaultClientParameters).
func WithClientParameters(p keepalive.ClientParameters) ClientOption {
	return clientSetting{newSetting("WithClientParameters", func(c *config.Config) error {
		c.ClientParams = &p
		return nil
	})}
}

// WithPeerServerPolicy tells Client the keepalive policy of the servers it
// talks to. The client's own parameters are then checked against it
// (Validate) and the findings reported: a Time the server would answer
// with GOAWAY too_many_pings, for example. Without it, the client is
// checked alone, since any server policy would be a guess.
func WithPeerServerPolicy(p ServerPolicy) ClientOption {
	return clientSetting{newSetting("WithPeerServerPolicy", func(c *config.Config) error {
		c.PeerParams, c.PeerEnforcement, c.PeerLongestRPC = &p.Parameters, &p.Enforcement, p.LongestRPC
		return nil
	})}
}

// WithStatsHandler installs another stats.Handler, such as otelgrpc's,
// after grpcpulse's own. grpc-go
// passes every handler the context all of them tagged, so grpcpulse sees
// the RPC span otelgrpc starts; and it calls them in the order they were
// installed, so grpcpulse annotates that span at the RPC's end before
// otelgrpc ends it. Installed the other way round, the annotation would come
// after the span ended and be lost.
func WithStatsHandler(h grpcstats.Handler) BundleOption {
	return bundleSetting{newSetting("WithStatsHandler", func(c *config.Config) error {
		if h == nil {
			return errNilHandler
		}
		c.StatsHandlers = append(c.StatsHandlers, h)
		return nil
	})}
}

// WithErrorHandler sets where grpcpulse reports what it will not do as
// asked and what it finds questionable: a nil value where nil means
// nothing, a keepalive policy that grpc-go would reject (not applied),
// Validate's findings about the keepalive policy (applied as written),
// connections that arrive without the frame observer because other
// credentials replaced the wrapped ones, and instruments that could not be
// created. The default is otel.Handle, OpenTelemetry's error handler, which
// logs. To fail at start on a bad policy instead, check it first with
// Validate(...).Err().
func WithErrorHandler(f func(error)) Option {
	return everySetting{newSetting("WithErrorHandler", func(c *config.Config) error {
		if f == nil {
			return errNilErrorHandler
		}
		c.ErrorHandler = f
		return nil
	})}
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
// The advice judges against the keepalive policy in force: the one Server
// or Client installs, or the one a stats handler composed alone installs
// with its KeepaliveOptions method.
func WithLogger(l *slog.Logger) HandlerOption {
	return handlerSetting{newSetting("WithLogger", func(c *config.Config) error {
		if l == nil {
			return errNilLogger
		}
		c.Logger = l
		return nil
	})}
}

// WithDiagnosisHandler sets a function that receives every diagnosis,
// unsampled, as it is made: for programs that route diagnoses somewhere
// other than a log (an event stream, a health check, a test). It runs on
// the goroutine that ends the transport and must not block.
func WithDiagnosisHandler(f func(pulse.Diagnosis)) HandlerOption {
	return handlerSetting{newSetting("WithDiagnosisHandler", func(c *config.Config) error {
		if f == nil {
			return errNilDiagnosis
		}
		c.OnDiagnosis = f
		return nil
	})}
}
