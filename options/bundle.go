package options

import (
	"fmt"

	"go.opentelemetry.io/otel"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/interceptors"
	"github.com/grpcpulse/grpcpulse/stats"
)

// Server returns the grpc.ServerOptions that install grpcpulse on a server:
// the keepalive policy (DefaultServerPolicy unless overridden), the wrapped
// credentials, the stats handlers (grpcpulse's, then those of
// WithStatsHandler) and the
// interceptors, which are chained after any the application adds.
//
//	srv := grpc.NewServer(options.Server(options.WithMeterProvider(mp))...)
//
// An override with an Error finding (see ValidateServer) is not applied;
// see WithInvalidPolicyHandler.
func Server(opts ...Option) []grpc.ServerOption {
	c := newConfig(opts)
	policy, err := c.server()
	if err != nil {
		c.invalid(err)
	}
	h := stats.NewServerHandler(c.statsOptions()...)
	io := interceptors.WithMeterProvider(c.meterProvider)
	out := []grpc.ServerOption{
		grpc.Creds(h.WrapCredentials(c.credentials())),
		grpc.KeepaliveParams(policy.Parameters),
		grpc.KeepaliveEnforcementPolicy(policy.Enforcement),
	}
	out = append(out, grpc.StatsHandler(h))
	for _, sh := range c.statsHandlers {
		out = append(out, grpc.StatsHandler(sh))
	}
	return append(out,
		grpc.ChainUnaryInterceptor(interceptors.UnaryServerInterceptor(io)),
		grpc.ChainStreamInterceptor(interceptors.StreamServerInterceptor(io)),
	)
}

// Client returns the grpc.DialOptions that install grpcpulse on a client:
// the keepalive parameters (DefaultClientParameters unless overridden), the
// wrapped credentials, the stats handlers (grpcpulse's, then those of
// WithStatsHandler) and the interceptors.
//
//	cc, err := grpc.NewClient(target, options.Client(options.WithMeterProvider(mp))...)
//
// An override with an Error finding, alone or against the peer's policy
// (WithPeerServerPolicy), is not applied; see WithInvalidPolicyHandler.
func Client(opts ...Option) []grpc.DialOption {
	c := newConfig(opts)
	params, err := c.client()
	if err != nil {
		c.invalid(err)
	}
	h := stats.NewClientHandler(c.statsOptions()...)
	io := interceptors.WithMeterProvider(c.meterProvider)
	out := []grpc.DialOption{
		grpc.WithTransportCredentials(h.WrapCredentials(c.credentials())),
		grpc.WithKeepaliveParams(params),
	}
	out = append(out, grpc.WithStatsHandler(h))
	for _, sh := range c.statsHandlers {
		out = append(out, grpc.WithStatsHandler(sh))
	}
	return append(out,
		grpc.WithChainUnaryInterceptor(interceptors.UnaryClientInterceptor(io)),
		grpc.WithChainStreamInterceptor(interceptors.StreamClientInterceptor(io)),
	)
}

// CheckServer returns the error Server would report for these options, or
// nil: for programs that would rather fail at start than run with the
// preset in place of a rejected override.
func CheckServer(opts ...Option) error {
	c := newConfig(opts)
	_, err := c.server()
	return err
}

// CheckClient is CheckServer for Client.
func CheckClient(opts ...Option) error {
	c := newConfig(opts)
	_, err := c.client()
	return err
}

// server returns the server policy to install: the preset with the
// overrides, or the preset alone if the overrides have an Error finding.
func (c *config) server() (ServerPolicy, error) {
	p := c.serverPolicy
	if c.serverParams == nil && c.enforcement == nil {
		return p, nil
	}
	if c.serverParams != nil {
		p.Parameters = *c.serverParams
	}
	if c.enforcement != nil {
		p.Enforcement = *c.enforcement
	}
	if err := Err(ValidateServer(p)); err != nil {
		return c.serverPolicy, fmt.Errorf("grpcpulse: server keepalive override not applied, the preset stays: %w", err)
	}
	return p, nil
}

// client returns the client parameters to install, by the same rule.
func (c *config) client() (keepalive.ClientParameters, error) {
	preset := DefaultClientParameters()
	if c.clientParams == nil {
		return preset, nil
	}
	peer := GRPCDefaultServerPolicy()
	if c.peerPolicySet {
		peer = c.peerPolicy
	}
	// The peer's own findings are not the client's to fix: only the
	// client alone and the pair decide.
	if err := Err(append(clientFindings(*c.clientParams), pairFindings(*c.clientParams, peer)...)); err != nil {
		return preset, fmt.Errorf("grpcpulse: client keepalive override not applied, the preset stays: %w", err)
	}
	return *c.clientParams, nil
}

func (c *config) credentials() credentials.TransportCredentials {
	if c.creds != nil {
		return c.creds
	}
	return insecure.NewCredentials()
}

func (c *config) statsOptions() []stats.Option {
	return []stats.Option{
		stats.WithMeterProvider(c.meterProvider),
		stats.WithTracerProvider(c.tracerProvider),
		stats.WithConnectionSpans(!c.noConnSpans),
		stats.WithRPCSpans(c.rpcSpans),
	}
}

func (c *config) invalid(err error) {
	if c.onInvalidPolicy != nil {
		c.onInvalidPolicy(err)
		return
	}
	otel.Handle(err)
}
