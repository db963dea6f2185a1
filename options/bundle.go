package options

import (
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/interceptors"
	"github.com/grpcpulse/grpcpulse/internal/config"
	"github.com/grpcpulse/grpcpulse/stats"
)

// Server returns the grpc.ServerOptions that install grpcpulse on a server:
// the keepalive policy (DefaultServerPolicy unless overridden), the wrapped
// credentials, the stats handlers (grpcpulse's, then those of
// WithStatsHandler) and the interceptors, which are chained after any the
// application adds.
//
//	srv := grpc.NewServer(options.Server(options.WithMeterProvider(mp))...)
//
// A keepalive override is applied as written, and what ValidateServer finds
// in it is reported (WithErrorHandler). Only a value grpc-go would reject
// or panic on (a Fatal finding) is not applied: the preset stays.
func Server(opts ...Option) []grpc.ServerOption {
	c := config.Build(config.Server, opts)
	policy, findings := serverPolicy(c)
	report(c, "server", findings)
	// The handler diagnoses closes against the policy in force.
	hc := *c
	hc.ServerParams, hc.Enforcement = &policy.Parameters, &policy.Enforcement
	h := stats.NewServerHandler(config.Of(&hc))
	creds := c.Creds
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	out := []grpc.ServerOption{
		grpc.Creds(h.WrapCredentials(creds)),
		grpc.KeepaliveParams(policy.Parameters),
		grpc.KeepaliveEnforcementPolicy(policy.Enforcement),
		grpc.StatsHandler(h),
	}
	for _, sh := range c.StatsHandlers {
		out = append(out, grpc.StatsHandler(sh))
	}
	return append(out,
		grpc.ChainUnaryInterceptor(interceptors.UnaryServerInterceptor(config.Of(c))),
		grpc.ChainStreamInterceptor(interceptors.StreamServerInterceptor(config.Of(c))),
	)
}

// Client returns the grpc.DialOptions that install grpcpulse on a client:
// the keepalive parameters (DefaultClientParameters unless overridden), the
// wrapped credentials, the stats handlers (grpcpulse's, then those of
// WithStatsHandler) and the interceptors.
//
//	cc, err := grpc.NewClient(target, options.Client(options.WithMeterProvider(mp))...)
//
// A keepalive override is applied as written, and what ValidateClient (and
// Validate against WithPeerServerPolicy, when given) finds in it is
// reported. Only a value grpc-go would reject (a Fatal finding) is not
// applied: the preset stays.
func Client(opts ...Option) []grpc.DialOption {
	c := config.Build(config.Client, opts)
	params, findings := clientParams(c)
	report(c, "client", findings)
	hc := *c
	hc.ClientParams = &params
	h := stats.NewClientHandler(config.Of(&hc))
	var out []grpc.DialOption
	switch {
	case c.Bundle != nil:
		out = append(out, grpc.WithCredentialsBundle(h.WrapBundle(c.Bundle)))
	case c.Creds != nil:
		out = append(out, grpc.WithTransportCredentials(h.WrapCredentials(c.Creds)))
	default:
		out = append(out, grpc.WithTransportCredentials(h.WrapCredentials(insecure.NewCredentials())))
	}
	out = append(out, grpc.WithKeepaliveParams(params), grpc.WithStatsHandler(h))
	for _, sh := range c.StatsHandlers {
		out = append(out, grpc.WithStatsHandler(sh))
	}
	return append(out,
		grpc.WithChainUnaryInterceptor(interceptors.UnaryClientInterceptor(config.Of(c))),
		grpc.WithChainStreamInterceptor(interceptors.StreamClientInterceptor(config.Of(c))),
	)
}

// CheckServer returns the Error and Fatal findings of the keepalive
// overrides in opts, joined, or nil: for programs that would rather fail
// at start than run with a policy that breaks connections.
func CheckServer(opts ...Option) error {
	_, findings := serverPolicy(config.Build(config.Server, opts))
	return Err(findings)
}

// CheckClient is CheckServer for Client.
func CheckClient(opts ...Option) error {
	_, findings := clientParams(config.Build(config.Client, opts))
	return Err(findings)
}

// serverPolicy returns the server policy to install, the preset with the
// overrides, and the findings about the overrides. With a Fatal finding the
// preset stays.
func serverPolicy(c *config.Config) (ServerPolicy, []Finding) {
	preset := DefaultServerPolicy()
	if c.ServerParams == nil && c.Enforcement == nil && c.LongestRPC == nil {
		return preset, nil
	}
	p := preset
	if c.ServerParams != nil {
		p.Parameters = *c.ServerParams
	}
	if c.Enforcement != nil {
		p.Enforcement = *c.Enforcement
	}
	if c.LongestRPC != nil {
		p.LongestRPC = *c.LongestRPC
	}
	findings := ValidateServer(p)
	if atLeast(findings, Fatal) != nil {
		return preset, findings
	}
	return p, findings
}

// clientParams is serverPolicy for a client. The client is checked against
// the servers' policy only when WithPeerServerPolicy says what it is: any
// other policy would be a guess.
func clientParams(c *config.Config) (keepalive.ClientParameters, []Finding) {
	preset := DefaultClientParameters()
	if c.ClientParams == nil {
		return preset, nil
	}
	p := *c.ClientParams
	findings := clientFindings(p)
	if c.PeerParams != nil {
		// The peer's own findings are not the client's to fix.
		peer := ServerPolicy{Parameters: *c.PeerParams, Enforcement: *c.PeerEnforcement, LongestRPC: c.PeerLongestRPC}
		findings = append(findings, pairFindings(p, peer)...)
	}
	findings = sortFindings(findings)
	if atLeast(findings, Fatal) != nil {
		return preset, findings
	}
	return p, findings
}

// report passes the findings about a side's keepalive overrides to the
// error handler, in one error: a Fatal one says the preset stays.
func report(c *config.Config, side string, findings []Finding) {
	if len(findings) == 0 {
		return
	}
	errs := make([]error, len(findings))
	for i, f := range findings {
		errs[i] = f
	}
	what := "applied as written"
	if atLeast(findings, Fatal) != nil {
		what = "NOT applied, the preset stays, because grpc-go would reject it"
	}
	c.Handle(fmt.Errorf("grpcpulse: %s keepalive override %s; Validate reports: %w", side, what, errors.Join(errs...)))
}
