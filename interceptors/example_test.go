package interceptors_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	mw "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpcpulse/grpcpulse/interceptors"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats"
)

// A health Watch stream outlives the server's MaxConnectionAge plus grace.
// The stream fails with a bare Unavailable; Cause says why.
func ExampleCause() {
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := grpc.NewServer(grpc.KeepaliveParams(keepalive.ServerParameters{
		MaxConnectionAge: 200 * time.Millisecond, MaxConnectionAgeGrace: 200 * time.Millisecond,
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	h := stats.NewClientHandler()
	cc, _ := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(h.WrapCredentials(insecure.NewCredentials())),
		grpc.WithStatsHandler(h),
		grpc.WithStreamInterceptor(interceptors.StreamClientInterceptor()),
	)
	defer cc.Close()

	ctx := context.Background()
	watch, _ := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{})
	var err error
	for err == nil {
		_, err = watch.Recv()
	}
	reason, ok := interceptors.Cause(ctx, err)
	fmt.Println(status.Code(err), reason, ok)
	// Output: Unavailable max_connection_age true
}

// A service that already chains go-grpc-middleware's interceptors plugs
// grpcpulse's reporting into go-grpc-middleware's own monitoring
// interceptors, beside its recovery (or logging, or retry) interceptors.
func ExampleServerReportable() {
	h := stats.NewServerHandler()
	reportable := interceptors.ServerReportable()
	srv := grpc.NewServer(append(h.KeepaliveOptions(options.DefaultServerPolicy()),
		grpc.Creds(h.WrapCredentials(insecure.NewCredentials())),
		grpc.StatsHandler(h),
		grpc.ChainUnaryInterceptor(recovery.UnaryServerInterceptor(), mw.UnaryServerInterceptor(reportable)),
		grpc.ChainStreamInterceptor(recovery.StreamServerInterceptor(), mw.StreamServerInterceptor(reportable)),
	)...)
	defer srv.Stop()
}
