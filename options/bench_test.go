package options_test

import (
	"context"
	"net"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	mnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tnoop "go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/stats"

	"github.com/grpcpulse/grpcpulse/options"
)

// setups are the configurations compared side by side in one run: bare
// grpc-go; bare with the bundles' keepalive policy (policy); a stats.Handler
// that does nothing (noop: the floor grpc-go sets for any handler);
// grpcpulse's bundles with the OpenTelemetry API's no-op providers, without
// the frame observer (noobserver: plain insecure credentials in place of
// the wrapped ones) and with it (noopotel), so that what grpcpulse's own
// machinery costs is told apart from what recording costs; the bundles
// without connection spans (nospans) and whole (grpcpulse); otelgrpc; and
// both together. Instrumented configurations use real SDK meter and tracer
// providers unless named otherwise.
func setups() []struct {
	name   string
	server func() []grpc.ServerOption
	client func() []grpc.DialOption
} {
	mp := func() *sdkmetric.MeterProvider {
		return sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	}
	// Every span is sampled and recorded, but exported nowhere: the cost of
	// the instrumentation, not of an exporter.
	tp := func() *sdktrace.TracerProvider {
		return sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	}
	// The bundles' options: with SDK providers, or with the API's no-op
	// ones, and more.
	sdkServer := func(more ...options.ServerOption) []grpc.ServerOption {
		return options.Server(append([]options.ServerOption{options.WithMeterProvider(mp()), options.WithTracerProvider(tp())}, more...)...)
	}
	sdkClient := func(more ...options.ClientOption) []grpc.DialOption {
		return options.Client(append([]options.ClientOption{options.WithMeterProvider(mp()), options.WithTracerProvider(tp())}, more...)...)
	}
	noopServer := func() []grpc.ServerOption {
		return options.Server(options.WithMeterProvider(mnoop.NewMeterProvider()), options.WithTracerProvider(tnoop.NewTracerProvider()))
	}
	noopClient := func() []grpc.DialOption {
		return options.Client(options.WithMeterProvider(mnoop.NewMeterProvider()), options.WithTracerProvider(tnoop.NewTracerProvider()))
	}
	plain := grpc.WithTransportCredentials(insecure.NewCredentials())
	return []struct {
		name   string
		server func() []grpc.ServerOption
		client func() []grpc.DialOption
	}{
		{"bare", func() []grpc.ServerOption { return nil }, func() []grpc.DialOption {
			return []grpc.DialOption{plain}
		}},
		{"policy", func() []grpc.ServerOption {
			p := options.DefaultServerPolicy()
			return []grpc.ServerOption{grpc.KeepaliveParams(p.Parameters), grpc.KeepaliveEnforcementPolicy(p.Enforcement)}
		}, func() []grpc.DialOption {
			return []grpc.DialOption{plain, grpc.WithKeepaliveParams(options.DefaultClientParameters())}
		}},
		{"noop", func() []grpc.ServerOption { return []grpc.ServerOption{grpc.StatsHandler(noopHandler{})} }, func() []grpc.DialOption {
			return []grpc.DialOption{plain, grpc.WithStatsHandler(noopHandler{})}
		}},
		// Plain credentials given after the bundle's replace its wrapped
		// ones: grpc-go applies options in order.
		{"noobserver", func() []grpc.ServerOption {
			return append(noopServer(), grpc.Creds(insecure.NewCredentials()))
		}, func() []grpc.DialOption {
			return append(noopClient(), plain)
		}},
		{"noopotel", func() []grpc.ServerOption { return noopServer() }, func() []grpc.DialOption {
			return noopClient()
		}},
		{"nospans", func() []grpc.ServerOption {
			return sdkServer(options.WithConnectionSpans(false))
		}, func() []grpc.DialOption {
			return sdkClient(options.WithConnectionSpans(false))
		}},
		{"grpcpulse", func() []grpc.ServerOption { return sdkServer() }, func() []grpc.DialOption {
			return sdkClient()
		}},
		{"otelgrpc", func() []grpc.ServerOption {
			return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(
				otelgrpc.WithMeterProvider(mp()), otelgrpc.WithTracerProvider(tp())))}
		}, func() []grpc.DialOption {
			return []grpc.DialOption{plain,
				grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithMeterProvider(mp()), otelgrpc.WithTracerProvider(tp()))),
			}
		}},
		{"grpcpulse+otelgrpc", func() []grpc.ServerOption {
			return sdkServer(options.WithStatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithMeterProvider(mp()), otelgrpc.WithTracerProvider(tp()))))
		}, func() []grpc.DialOption {
			return sdkClient(options.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithMeterProvider(mp()), otelgrpc.WithTracerProvider(tp()))))
		}},
	}
}

// noopHandler is a stats.Handler that does nothing: the floor grpc-go sets
// for any handler.
type noopHandler struct{}

func (noopHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (noopHandler) HandleRPC(context.Context, stats.RPCStats)                         {}
func (noopHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (noopHandler) HandleConn(context.Context, stats.ConnStats)                       {}

// benchServer starts a health server with opts and returns a client.
func benchServer(b *testing.B, sopts []grpc.ServerOption, copts []grpc.DialOption) *grpc.ClientConn {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer(sopts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	b.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), copts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cc.Close() })
	return cc
}

// BenchmarkUnary measures one unary RPC over loopback, client and server
// in one process.
func BenchmarkUnary(b *testing.B) {
	for _, s := range setups() {
		b.Run(s.name, func(b *testing.B) {
			c := healthpb.NewHealthClient(benchServer(b, s.server(), s.client()))
			ctx := context.Background()
			req := &healthpb.HealthCheckRequest{}
			if _, err := c.Check(ctx, req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.Check(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkChurn measures a connection's life: dial, one Check, Close, with
// eight workers per CPU, client and server in one process. Besides ns/op
// (throughput) it reports cpu-ns/op, the process's CPU time per connection
// (both sides, and the garbage collector), which drifts less than
// throughput on a shared machine:
//
//	go test -run '^$' -bench 'Churn/^(noop|grpcpulse)$' -benchtime 10000x -count 5 ./options
func BenchmarkChurn(b *testing.B) {
	for _, s := range setups() {
		b.Run(s.name, func(b *testing.B) {
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := grpc.NewServer(s.server()...)
			healthpb.RegisterHealthServer(srv, health.NewServer())
			go func() { _ = srv.Serve(lis) }()
			b.Cleanup(srv.Stop)
			copts := s.client()
			req := &healthpb.HealthCheckRequest{}
			b.ReportAllocs()
			b.SetParallelism(8)
			cpu0, cpuOK := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					cc, err := grpc.NewClient(lis.Addr().String(), copts...)
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := healthpb.NewHealthClient(cc).Check(context.Background(), req); err != nil {
						b.Error(err)
					}
					_ = cc.Close()
				}
			})
			if cpu1, ok := processCPU(); ok && cpuOK {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
