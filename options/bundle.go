package options

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/config"
	"github.com/grpcpulse/grpcpulse/internal/handler"
	"github.com/grpcpulse/grpcpulse/internal/intercept"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Server returns the grpc.ServerOptions that install grpcpulse on a server:
// the keepalive policy (DefaultServerPolicy unless overridden), the wrapped
// credentials, the stats handlers (grpcpulse's, then those of
// WithStatsHandler) and the interceptors, which are chained after any the
// application adds.
//
//	srv := grpc.NewServer(options.Server(options.WithMeterProvider(mp))...)
//
// A keepalive override is applied as written, and what Validate finds in it
// is reported (WithErrorHandler). Only a value grpc-go would reject or
// panic on (a Fatal finding) is not applied: the preset stays.
func Server(opts ...ServerOption) []grpc.ServerOption {
	c := config.Build(opts)
	policy := serverPolicy(c)
	h := handler.New(pulse.SideServer, c)
	// The handler diagnoses closes against the policy in force.
	h.SetPolicy(handler.Policy{Server: &policy.Parameters, Enforcement: &policy.Enforcement})
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
	rec := intercept.NewRecorder(pulse.SideServer, c)
	return append(out,
		grpc.ChainUnaryInterceptor(intercept.UnaryServer(rec)),
		grpc.ChainStreamInterceptor(intercept.StreamServer(rec)),
	)
}

// Client returns the grpc.DialOptions that install grpcpulse on a client:
// the keepalive parameters (DefaultClientParameters unless overridden), the
// wrapped credentials, the stats handlers (grpcpulse's, then those of
// WithStatsHandler) and the interceptors.
//
//	cc, err := grpc.NewClient(target, options.Client(options.WithMeterProvider(mp))...)
//
// A keepalive override is applied as written, and what Validate finds in it
// (against WithPeerServerPolicy, when given) is reported. Only a value
// grpc-go would reject (a Fatal finding) is not applied: the preset stays.
func Client(opts ...ClientOption) []grpc.DialOption {
	c := config.Build(opts)
	params := clientParams(c)
	h := handler.New(pulse.SideClient, c)
	if c.ClientParams == nil && c.PeerEnforcement == nil {
		// The preset, as most clients have it: a program that dials with
		// new options for every connection keeps one copy of it.
		h.SharePolicy(presetClientPolicy)
	} else {
		h.SetPolicy(handler.Policy{Client: &params, Peer: c.PeerEnforcement})
	}
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
	rec := intercept.NewRecorder(pulse.SideClient, c)
	return append(out,
		grpc.WithChainUnaryInterceptor(intercept.UnaryClient(rec)),
		grpc.WithChainStreamInterceptor(intercept.StreamClient(rec)),
	)
}

// presetClientPolicy is what the diagnoses of a client with the preset
// judge against. It is never changed.
var presetClientPolicy = func() *handler.Policy {
	p := DefaultClientParameters()
	return &handler.Policy{Client: &p}
}()

// serverPolicy returns the server policy to install: the preset
// (DefaultServerPolicy) with the overrides, as written. What Validate finds
// in them is reported; a policy with a Fatal finding, which grpc-go would
// reject or panic on, is not applied and the preset stays.
func serverPolicy(c *config.Config) ServerPolicy {
	preset := DefaultServerPolicy()
	params, enf, longest := c.ServerParams, c.Enforcement, c.LongestRPC
	if params == nil && enf == nil && longest == nil {
		return preset
	}
	p := preset
	if params != nil {
		p.Parameters = *params
	}
	if enf != nil {
		p.Enforcement = *enf
	}
	if longest != nil {
		p.LongestRPC = *longest
	}
	findings := Validate(nil, p)
	rejected := findings.Fatal()
	reportFindings(c.Handle, pulse.SideServer, rejected, findings)
	if rejected {
		return preset
	}
	return p
}

// clientParams is ResolveServerPolicy for a client. The client is checked
// against the servers' policy only when WithPeerServerPolicy says what it
// is: any other policy would be a guess.
func clientParams(c *config.Config) keepalive.ClientParameters {
	preset := DefaultClientParameters()
	if c.ClientParams == nil {
		return preset
	}
	p := *c.ClientParams
	var fs Findings
	if c.PeerParams != nil {
		// The servers' own findings are not the client's to fix.
		peer := ServerPolicy{Parameters: *c.PeerParams, Enforcement: *c.PeerEnforcement, LongestRPC: c.PeerLongestRPC}
		for _, f := range Validate(GoClient(p), peer) {
			if !f.server() {
				fs = append(fs, f)
			}
		}
	} else {
		fs = Validate(GoClient(p), nil)
	}
	rejected := fs.Fatal()
	reportFindings(c.Handle, pulse.SideClient, rejected, fs)
	if rejected {
		return preset
	}
	return p
}

func reportFindings(handle func(error), side pulse.Side, rejected bool, findings Findings) {
	if len(findings) == 0 {
		return
	}
	notApplied := ""
	if rejected {
		notApplied = "the preset stays"
	}
	handle(config.PolicyError(side, notApplied, findings))
}
