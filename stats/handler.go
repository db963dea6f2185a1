package stats

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	grpcstats "google.golang.org/grpc/stats"

	"github.com/grpcpulse/grpcpulse/internal/config"
	"github.com/grpcpulse/grpcpulse/internal/handler"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// ServerHandler is grpcpulse's grpc-go stats.Handler for a grpc.Server. Use
// one per server, with credentials from its WrapCredentials and the
// keepalive policy from its KeepaliveOptions:
//
//	h := stats.NewServerHandler(options.WithMeterProvider(mp))
//	srv := grpc.NewServer(append(h.KeepaliveOptions(options.DefaultServerPolicy()),
//		grpc.Creds(h.WrapCredentials(creds)),
//		grpc.StatsHandler(h),
//	)...)
type ServerHandler struct{ h *handler.Handler }

// NewServerHandler returns a ServerHandler configured by opts.
func NewServerHandler(opts ...options.HandlerOption) *ServerHandler {
	return &ServerHandler{h: handler.New(pulse.SideServer, config.Build(opts))}
}

// WrapCredentials returns credentials that behave exactly like c and let
// the handler see each connection's HTTP/2 frames, TLS included (they are
// read after the handshake). Pass them to the same server (grpc.Creds).
// Wrapping insecure.NewCredentials() gives peer.AuthInfo the AuthType
// "insecure" where it would otherwise be nil, as any explicitly configured
// insecure credentials do.
func (s *ServerHandler) WrapCredentials(c credentials.TransportCredentials) credentials.TransportCredentials {
	return s.h.WrapCredentials(c)
}

// KeepaliveOptions returns the grpc.ServerOptions that install p
// (grpc.KeepaliveParams and grpc.KeepaliveEnforcementPolicy), and makes p
// the policy the handler's diagnoses judge against. What Validate finds in
// p is reported through the error handler; a policy with a Fatal finding,
// which grpc-go would reject or panic on, is not installed: KeepaliveOptions
// then returns no option, and grpc's defaults apply.
func (s *ServerHandler) KeepaliveOptions(p options.ServerPolicy) []grpc.ServerOption {
	if !installable(s.h, options.Validate(nil, p)) {
		return nil
	}
	s.h.SetPolicy(handler.Policy{Server: &p.Parameters, Enforcement: &p.Enforcement})
	return []grpc.ServerOption{grpc.KeepaliveParams(p.Parameters), grpc.KeepaliveEnforcementPolicy(p.Enforcement)}
}

// TagConn implements grpc-go's stats.Handler.
func (s *ServerHandler) TagConn(ctx context.Context, info *grpcstats.ConnTagInfo) context.Context {
	return s.h.TagConn(ctx, info)
}

// HandleConn implements grpc-go's stats.Handler.
func (s *ServerHandler) HandleConn(ctx context.Context, cs grpcstats.ConnStats) {
	s.h.HandleConn(ctx, cs)
}

// TagRPC implements grpc-go's stats.Handler.
func (s *ServerHandler) TagRPC(ctx context.Context, info *grpcstats.RPCTagInfo) context.Context {
	return s.h.TagRPC(ctx, info)
}

// HandleRPC implements grpc-go's stats.Handler.
func (s *ServerHandler) HandleRPC(ctx context.Context, rs grpcstats.RPCStats) { s.h.HandleRPC(ctx, rs) }

// ClientHandler is grpcpulse's grpc-go stats.Handler for a
// grpc.ClientConn. Use one per ClientConn (or share one among several),
// with credentials from its WrapCredentials or WrapBundle and the keepalive
// parameters from its KeepaliveOptions:
//
//	h := stats.NewClientHandler(options.WithMeterProvider(mp))
//	cc, err := grpc.NewClient(target, append(h.KeepaliveOptions(options.DefaultClientParameters()),
//		grpc.WithTransportCredentials(h.WrapCredentials(creds)),
//		grpc.WithStatsHandler(h),
//	)...)
type ClientHandler struct{ h *handler.Handler }

// NewClientHandler returns a ClientHandler configured by opts.
func NewClientHandler(opts ...options.HandlerOption) *ClientHandler {
	return &ClientHandler{h: handler.New(pulse.SideClient, config.Build(opts))}
}

// WrapCredentials returns credentials that behave exactly like c and let
// the handler see each connection's HTTP/2 frames, TLS included. Pass them
// to the same client (grpc.WithTransportCredentials).
func (c *ClientHandler) WrapCredentials(creds credentials.TransportCredentials) credentials.TransportCredentials {
	return c.h.WrapCredentials(creds)
}

// WrapBundle is WrapCredentials for a credentials.Bundle
// (grpc.WithCredentialsBundle): its transport credentials are wrapped, its
// per-RPC credentials are untouched.
func (c *ClientHandler) WrapBundle(b credentials.Bundle) credentials.Bundle {
	return c.h.WrapBundle(b)
}

// KeepaliveOptions returns the grpc.DialOption that installs p
// (grpc.WithKeepaliveParams), and makes p the parameters the handler's
// diagnoses judge against. What Validate finds in p is reported through the
// error handler; parameters with a Fatal finding, which grpc-go would
// reject, are not installed: KeepaliveOptions then returns no option.
func (c *ClientHandler) KeepaliveOptions(p keepalive.ClientParameters) []grpc.DialOption {
	if !installable(c.h, options.Validate(options.GoClient(p), nil)) {
		return nil
	}
	c.h.SetPolicy(handler.Policy{Client: &p})
	return []grpc.DialOption{grpc.WithKeepaliveParams(p)}
}

// TagConn implements grpc-go's stats.Handler.
func (c *ClientHandler) TagConn(ctx context.Context, info *grpcstats.ConnTagInfo) context.Context {
	return c.h.TagConn(ctx, info)
}

// HandleConn implements grpc-go's stats.Handler.
func (c *ClientHandler) HandleConn(ctx context.Context, cs grpcstats.ConnStats) {
	c.h.HandleConn(ctx, cs)
}

// TagRPC implements grpc-go's stats.Handler.
func (c *ClientHandler) TagRPC(ctx context.Context, info *grpcstats.RPCTagInfo) context.Context {
	return c.h.TagRPC(ctx, info)
}

// HandleRPC implements grpc-go's stats.Handler.
func (c *ClientHandler) HandleRPC(ctx context.Context, rs grpcstats.RPCStats) { c.h.HandleRPC(ctx, rs) }

// installable reports what Validate found in a keepalive policy a handler
// is asked to install, and whether grpc-go would accept it.
func installable(h *handler.Handler, fs options.Findings) bool {
	if len(fs) == 0 {
		return true
	}
	notApplied := ""
	if fs.Fatal() {
		notApplied = "no keepalive option is installed and grpc's defaults apply"
	}
	h.Report(config.PolicyError(h.Side(), notApplied, fs))
	return notApplied == ""
}
