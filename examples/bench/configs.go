package main

import (
	"context"
	"fmt"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	mnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tnoop "go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	grpcstats "google.golang.org/grpc/stats"

	"github.com/grpcpulse/grpcpulse/options"
)

// The configurations compared side by side. Each side of each configuration
// builds its options once, as a program would, and reuses them for every
// connection it makes; only perdial's client builds them for every
// connection it dials.
const (
	cfgBare      = "bare"      // plain grpc-go, insecure credentials
	cfgNoop      = "noop"      // a stats.Handler that does nothing: the floor grpc-go imposes on any handler
	cfgPolicy    = "policy"    // plain grpc-go with the keepalive policy the bundles install: what grpc-go charges for it; only on request
	cfgFloor     = "floor"     // the no-op handler and that keepalive policy: what grpc-go charges for what the bundles install, before grpcpulse does anything
	cfgGRPCPulse = "grpcpulse" // options.Server / options.Client
	cfgOtelGRPC  = "otelgrpc"  // otelgrpc's stats handlers
	cfgBoth      = "both"      // grpcpulse's bundles with otelgrpc installed through options.WithStatsHandler
	cfgNoSpans   = "nospans"   // grpcpulse's bundles with options.WithConnectionSpans(false); only on request
	cfgNoopOTel  = "noopotel"  // grpcpulse's bundles with OpenTelemetry's no-op providers: grpcpulse's own work, without the SDK's recording
	cfgPerDial   = "perdial"   // grpcpulse, the client calling options.Client for every connection it dials (with one pair of providers), as a proxy with an option list per backend would
)

// defaultConfigs are the configurations compared unless -configs names
// others; allConfigs are all that it may name.
var (
	defaultConfigs = []string{cfgBare, cfgNoop, cfgFloor, cfgNoopOTel, cfgGRPCPulse, cfgPerDial, cfgOtelGRPC, cfgBoth}
	allConfigs     = append(append([]string(nil), defaultConfigs...), cfgPolicy, cfgNoSpans)
)

// providers returns an SDK meter provider with a manual reader that is never
// collected and an SDK tracer provider that samples and records every span
// but exports nowhere: the cost of the instrumentation, not of an exporter.
func providers() (*sdkmetric.MeterProvider, *sdktrace.TracerProvider) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	return mp, tp
}

// noopHandler is a stats.Handler that does nothing. grpc-go still builds
// every event for it (a payload event per message), which is the cost any
// handler starts from.
type noopHandler struct{}

func (noopHandler) TagRPC(ctx context.Context, _ *grpcstats.RPCTagInfo) context.Context {
	return ctx
}
func (noopHandler) HandleRPC(context.Context, grpcstats.RPCStats) {}
func (noopHandler) TagConn(ctx context.Context, _ *grpcstats.ConnTagInfo) context.Context {
	return ctx
}
func (noopHandler) HandleConn(context.Context, grpcstats.ConnStats) {}

// serverPolicy returns the server options of the keepalive policy the
// bundles install.
func serverPolicy() []grpc.ServerOption {
	p := options.DefaultServerPolicy()
	return []grpc.ServerOption{grpc.KeepaliveParams(p.Parameters), grpc.KeepaliveEnforcementPolicy(p.Enforcement)}
}

// bundleOptions returns the options of grpcpulse's bundles in configuration
// cfg (grpcpulse, nospans, noopotel, or perdial's server), with providers of
// their own, as the option type O of one bundle.
func bundleOptions[O any](cfg string) []O {
	var opts []options.HandlerOption
	if cfg == cfgNoopOTel {
		opts = []options.HandlerOption{options.WithMeterProvider(mnoop.NewMeterProvider()), options.WithTracerProvider(tnoop.NewTracerProvider())}
	} else {
		mp, tp := providers()
		opts = []options.HandlerOption{options.WithMeterProvider(mp), options.WithTracerProvider(tp)}
		if cfg == cfgNoSpans {
			opts = append(opts, options.WithConnectionSpans(false))
		}
	}
	out := make([]O, len(opts))
	for i, o := range opts {
		out[i] = any(o).(O)
	}
	return out
}

// serverOptions returns the server side of configuration cfg.
func serverOptions(cfg string) ([]grpc.ServerOption, error) {
	switch cfg {
	case cfgBare:
		return nil, nil
	case cfgNoop:
		return []grpc.ServerOption{grpc.StatsHandler(noopHandler{})}, nil
	case cfgPolicy:
		return serverPolicy(), nil
	case cfgFloor:
		return append(serverPolicy(), grpc.StatsHandler(noopHandler{})), nil
	case cfgGRPCPulse, cfgNoSpans, cfgNoopOTel, cfgPerDial:
		return options.Server(bundleOptions[options.ServerOption](cfg)...), nil
	case cfgOtelGRPC:
		mp, tp := providers()
		return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithMeterProvider(mp), otelgrpc.WithTracerProvider(tp)))}, nil
	case cfgBoth:
		mp, tp := providers()
		return options.Server(options.WithMeterProvider(mp), options.WithTracerProvider(tp),
			options.WithStatsHandler(otelgrpc.NewServerHandler(
				otelgrpc.WithMeterProvider(mp), otelgrpc.WithTracerProvider(tp)))), nil
	}
	return nil, fmt.Errorf("unknown configuration %q", cfg)
}

// clientOptions returns the client side of configuration cfg: what to dial
// each connection with.
func clientOptions(cfg string) (func() []grpc.DialOption, error) {
	if cfg == cfgPerDial {
		mp, tp := providers()
		return func() []grpc.DialOption {
			return options.Client(options.WithMeterProvider(mp), options.WithTracerProvider(tp))
		}, nil
	}
	opts, err := sharedClientOptions(cfg)
	return func() []grpc.DialOption { return opts }, err
}

// sharedClientOptions returns the options every connection of
// configuration cfg's client is dialled with.
func sharedClientOptions(cfg string) ([]grpc.DialOption, error) {
	creds := grpc.WithTransportCredentials(insecure.NewCredentials())
	policy := grpc.WithKeepaliveParams(options.DefaultClientParameters())
	switch cfg {
	case cfgBare:
		return []grpc.DialOption{creds}, nil
	case cfgNoop:
		return []grpc.DialOption{creds, grpc.WithStatsHandler(noopHandler{})}, nil
	case cfgPolicy:
		return []grpc.DialOption{creds, policy}, nil
	case cfgFloor:
		return []grpc.DialOption{creds, policy, grpc.WithStatsHandler(noopHandler{})}, nil
	case cfgGRPCPulse, cfgNoSpans, cfgNoopOTel:
		return options.Client(bundleOptions[options.ClientOption](cfg)...), nil
	case cfgOtelGRPC:
		mp, tp := providers()
		return []grpc.DialOption{creds, grpc.WithStatsHandler(otelgrpc.NewClientHandler(
			otelgrpc.WithMeterProvider(mp), otelgrpc.WithTracerProvider(tp)))}, nil
	case cfgBoth:
		mp, tp := providers()
		return options.Client(options.WithMeterProvider(mp), options.WithTracerProvider(tp),
			options.WithStatsHandler(otelgrpc.NewClientHandler(
				otelgrpc.WithMeterProvider(mp), otelgrpc.WithTracerProvider(tp)))), nil
	}
	return nil, fmt.Errorf("unknown configuration %q", cfg)
}
