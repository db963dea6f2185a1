package interceptors_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	mw "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/interceptors"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats"
)

// A service that chains go-grpc-middleware's logging, recovery and retry
// interceptors plugs grpcpulse's reporting into go-grpc-middleware's own
// monitoring interceptors, beside grpcpulse's stats handlers composed
// alone: the calls a server's MaxConnectionAge cuts are counted on both
// sides, once per call (not per retried attempt), and the other
// middleware keeps working.
func TestGoGRPCMiddlewareComposition(t *testing.T) {
	t.Parallel()
	sm, cm := testenv.NewMetrics(t), testenv.NewMetrics(t)

	var logged atomic.Int64
	logger := logging.LoggerFunc(func(context.Context, logging.Level, string, ...any) { logged.Add(1) })
	sh := stats.NewServerHandler(options.WithMeterProvider(sm.Provider))
	policy := options.DefaultServerPolicy()
	policy.Parameters = keepalive.ServerParameters{Time: time.Minute, MaxConnectionAge: 300 * time.Millisecond, MaxConnectionAgeGrace: 300 * time.Millisecond}
	reportable := interceptors.ServerReportable(options.WithMeterProvider(sm.Provider))
	svc := &testenv.Service{}
	_, addr := testenv.Serve(t, svc, append(sh.KeepaliveOptions(policy),
		grpc.Creds(sh.WrapCredentials(insecure.NewCredentials())),
		grpc.StatsHandler(sh),
		grpc.ChainUnaryInterceptor(recovery.UnaryServerInterceptor(), logging.UnaryServerInterceptor(logger), mw.UnaryServerInterceptor(reportable)),
		grpc.ChainStreamInterceptor(recovery.StreamServerInterceptor(), logging.StreamServerInterceptor(logger), mw.StreamServerInterceptor(reportable)),
	)...)

	ch := stats.NewClientHandler(options.WithMeterProvider(cm.Provider))
	creportable := interceptors.ClientReportable(options.WithMeterProvider(cm.Provider))
	cc, err := grpc.NewClient(addr, append(ch.KeepaliveOptions(options.DefaultClientParameters()),
		grpc.WithTransportCredentials(ch.WrapCredentials(insecure.NewCredentials())),
		grpc.WithStatsHandler(ch),
		// Reporting outside the retries: it sees what the application sees.
		grpc.WithChainUnaryInterceptor(mw.UnaryClientInterceptor(creportable),
			retry.UnaryClientInterceptor(retry.WithMax(2), retry.WithCodes(codes.Unavailable))),
		grpc.WithChainStreamInterceptor(mw.StreamClientInterceptor(creportable)),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()

	// A stream cut at MaxConnectionAge + grace.
	if err := testenv.StreamUntilCut(t, context.Background(), cc); err == nil {
		t.Fatal("the stream outlived MaxConnectionAge + grace")
	}
	// A unary call longer than the age and grace, tried twice by the retry
	// interceptor: two attempts cut, one call failed.
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	defer cancel()
	_, err = testgrpc.NewTestServiceClient(cc).UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseSize: int32(time.Minute / time.Microsecond)}, grpc.WaitForReady(true))
	if err == nil {
		t.Fatal("the unary call outlived MaxConnectionAge + grace")
	}

	reason := semconv.CloseReason.String("max_connection_age")
	unary := semconv.RPCMethod.String("grpc.testing.TestService/UnaryCall")
	other := semconv.RPCMethod.String("_OTHER")
	testenv.Eventually(t, func() string {
		// The server counts each handler its transport cut: the stream
		// (_OTHER: go-grpc-middleware's stream interceptor does not say
		// whether a method is registered) and both unary attempts, by name.
		if sm.Sum(t, semconv.MetricTransportFailures, reason, other) == 1 && sm.Sum(t, semconv.MetricTransportFailures, reason, unary) == 2 {
			return ""
		}
		return "server:\n" + sm.Dump(t, semconv.MetricTransportFailures)
	})
	testenv.Eventually(t, func() string {
		// The client counts what the application saw: the stream, and the
		// unary call once although it was tried twice.
		if cm.Sum(t, semconv.MetricTransportFailures, reason) == 2 && cm.Sum(t, semconv.MetricTransportFailures, reason, other) == 2 {
			return ""
		}
		return "client:\n" + cm.Dump(t, semconv.MetricTransportFailures)
	})
	if logged.Load() == 0 {
		t.Error("go-grpc-middleware's logging interceptor logged nothing")
	}
}
