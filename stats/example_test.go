package stats_test

import (
	"context"
	"fmt"
	"net"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// A server that composes its own grpc options installs the handler, its
// wrapped credentials and its keepalive policy itself, configured with the
// same options as the bundles. A client closes its connection; the server
// records why.
func ExampleNewServerHandler() {
	reader := sdkmetric.NewManualReader()
	h := stats.NewServerHandler(options.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	srv := grpc.NewServer(append(h.KeepaliveOptions(options.DefaultServerPolicy()),
		grpc.Creds(h.WrapCredentials(insecure.NewCredentials())),
		grpc.StatsHandler(h),
	)...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	cc, _ := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	_, _ = healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
	_ = cc.Close()

	// The close is recorded when the server's transport ends, just after
	// the client's: poll for it.
	for ; ; time.Sleep(10 * time.Millisecond) {
		var rm metricdata.ResourceMetrics
		_ = reader.Collect(context.Background(), &rm)
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == pulse.MetricCloses {
					reason, _ := sum.DataPoints[0].Attributes.Value(pulse.AttrCloseReason)
					fmt.Println(m.Name, reason.AsString(), reason.AsString() == pulse.ReasonClientShutdown.String())
					return
				}
			}
		}
	}
	// Output: grpc.transport.closes client_shutdown true
}
