package options

import (
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	grpcstats "google.golang.org/grpc/stats"
)

// config is what the options set. Server and Client fill in the defaults
// for their side.
type config struct {
	meterProvider  metric.MeterProvider // nil: otel.GetMeterProvider()
	tracerProvider trace.TracerProvider // nil: otel.GetTracerProvider()
	noConnSpans    bool
	rpcSpans       bool
	creds          credentials.TransportCredentials

	serverPolicy    ServerPolicy
	serverParams    *keepalive.ServerParameters
	enforcement     *keepalive.EnforcementPolicy
	clientParams    *keepalive.ClientParameters
	peerPolicy      ServerPolicy
	peerPolicySet   bool
	statsHandlers   []grpcstats.Handler
	onInvalidPolicy func(error)
}

// Option configures Server or Client.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithMeterProvider sets the MeterProvider of the metrics. The default is
// otel.GetMeterProvider(), read when Server or Client is called.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}

// WithTracerProvider sets the TracerProvider of the connection spans and of
// the own RPC spans. The default is otel.GetTracerProvider(), read when
// Server or Client is called.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tracerProvider = tp })
}

// WithConnectionSpans turns the grpc.transport connection spans on (the
// default) or off.
func WithConnectionSpans(on bool) Option {
	return optionFunc(func(c *config) { c.noConnSpans = !on })
}

// WithRPCSpans turns grpcpulse's own RPC spans on or off (the default), for
// applications that do not install otelgrpc (WithStatsHandler). With
// otelgrpc, leave them off: grpcpulse annotates otelgrpc's spans instead.
func WithRPCSpans(on bool) Option {
	return optionFunc(func(c *config) { c.rpcSpans = on })
}

// WithTransportCredentials sets the transport credentials, which are wrapped
// so that grpcpulse sees the connection's HTTP/2 frames (TLS included: the
// frames are read after the handshake). The default is insecure
// credentials. Do not pass grpc.Creds or grpc.WithTransportCredentials
// beside Server or Client: grpc-go uses the last one, and credentials that
// are not wrapped hide why connections end.
func WithTransportCredentials(creds credentials.TransportCredentials) Option {
	return optionFunc(func(c *config) { c.creds = creds })
}

// WithServerPolicy replaces the server's preset (DefaultServerPolicy) as a
// whole, for example with LoadBalancedServerPolicy().
func WithServerPolicy(p ServerPolicy) Option {
	return optionFunc(func(c *config) { c.serverPolicy = p })
}

// WithServerParameters overrides the server's keepalive.ServerParameters.
func WithServerParameters(p keepalive.ServerParameters) Option {
	return optionFunc(func(c *config) { c.serverParams = &p })
}

// WithEnforcementPolicy overrides the server's keepalive.EnforcementPolicy.
func WithEnforcementPolicy(p keepalive.EnforcementPolicy) Option {
	return optionFunc(func(c *config) { c.enforcement = &p })
}

// WithClientParameters overrides the client's keepalive.ClientParameters
// (DefaultClientParameters).
func WithClientParameters(p keepalive.ClientParameters) Option {
	return optionFunc(func(c *config) { c.clientParams = &p })
}

// WithPeerServerPolicy tells Client the keepalive policy of the servers it
// talks to, against which its own policy is validated. The default is
// grpc's default policy (GRPCDefaultServerPolicy), the one a server you do
// not control most likely runs: a client policy that passes against it
// cannot earn GOAWAY too_many_pings. Pass DefaultServerPolicy() when the
// servers use grpcpulse's Server.
func WithPeerServerPolicy(p ServerPolicy) Option {
	return optionFunc(func(c *config) { c.peerPolicy, c.peerPolicySet = p, true })
}

// WithStatsHandler installs another stats.Handler, such as otelgrpc's,
// after grpcpulse's own. grpc-go passes every handler the context all of
// them tagged, so grpcpulse sees the RPC span otelgrpc starts; and it calls
// them in the order they were installed, so grpcpulse annotates that span at
// the RPC's end before otelgrpc ends it. Installed the other way round, the
// annotation would come after the span ended and be lost.
func WithStatsHandler(h grpcstats.Handler) Option {
	return optionFunc(func(c *config) {
		if h != nil {
			c.statsHandlers = append(c.statsHandlers, h)
		}
	})
}

// WithInvalidPolicyHandler sets what Server and Client do with a keepalive
// override that Validate finds an Error in: such an override is not
// applied (the preset stays), and the error, which says what to change, is
// passed to f. The default is otel.Handle, OpenTelemetry's error handler,
// which logs it. Use CheckServer or CheckClient to fail instead.
func WithInvalidPolicyHandler(f func(error)) Option {
	return optionFunc(func(c *config) { c.onInvalidPolicy = f })
}

func newConfig(opts []Option) config {
	c := config{serverPolicy: DefaultServerPolicy()}
	for _, o := range opts {
		o.apply(&c)
	}
	return c
}
