package options_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// A server and a client set up with the bundles. The server's
// MaxConnectionAge cuts a Watch stream; both sides count why the connection
// ended.
func ExampleServer() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := grpc.NewServer(options.Server(
		options.WithMeterProvider(mp),
		options.WithServerParameters(keepalive.ServerParameters{
			Time: time.Minute, MaxConnectionAge: 200 * time.Millisecond, MaxConnectionAgeGrace: 200 * time.Millisecond,
		}),
	)...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	cc, _ := grpc.NewClient(lis.Addr().String(), options.Client(options.WithMeterProvider(mp))...)
	defer cc.Close()
	watch, _ := healthpb.NewHealthClient(cc).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	for {
		if _, err := watch.Recv(); err != nil {
			break
		}
	}

	// Wait until both sides have counted the close.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var rm metricdata.ResourceMetrics
		_ = reader.Collect(context.Background(), &rm)
		if closes := closesByReason(rm); len(closes) == 2 {
			for _, c := range closes {
				fmt.Println(c)
			}
			return
		}
	}
	// Output:
	// client max_connection_age
	// server max_connection_age
}

// closesByReason lists "side reason" for every grpc.transport.closes point,
// client first.
func closesByReason(rm metricdata.ResourceMetrics) []string {
	var out []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "grpc.transport.closes" {
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				side, _ := p.Attributes.Value("grpc.side")
				reason, _ := p.Attributes.Value("grpc.close.reason")
				out = append(out, side.AsString()+" "+reason.AsString())
			}
		}
	}
	if len(out) == 2 && out[0] > out[1] {
		out[0], out[1] = out[1], out[0]
	}
	return out
}

// A program routes every diagnosis to its own handler: here, a Watch stream
// cut by the server's MaxConnectionAge, which the server's diagnosis names
// with the setting to change.
func ExampleWithDiagnosisHandler() {
	diagnoses := make(chan pulse.Diagnosis, 1)
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := grpc.NewServer(options.Server(
		options.WithServerParameters(keepalive.ServerParameters{
			Time: time.Minute, MaxConnectionAge: 200 * time.Millisecond, MaxConnectionAgeGrace: 200 * time.Millisecond,
		}),
		options.WithLogger(slog.New(slog.DiscardHandler)),
		options.WithDiagnosisHandler(func(d pulse.Diagnosis) {
			select { // the handler must not block
			case diagnoses <- d:
			default:
			}
		}),
	)...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	cc, _ := grpc.NewClient(lis.Addr().String(), options.Client(options.WithLogger(slog.New(slog.DiscardHandler)))...)
	defer cc.Close()
	watch, _ := healthpb.NewHealthClient(cc).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	for {
		if _, err := watch.Recv(); err != nil {
			break
		}
	}

	d := <-diagnoses
	fmt.Println(d.Side, d.Reason, d.CutRPCs, d.Cut[0].Method)
	fmt.Println(strings.Contains(d.Advice, "Set ServerParameters.MaxConnectionAgeGrace above the longest RPC"))
	// Output:
	// server max_connection_age 1 grpc.health.v1.Health/Watch
	// true
}
