package options_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
)

// The bundles install everything: a connection cut by the server's
// MaxConnectionAge override is classified on both sides (so the frame
// observer is in place), and a stream cut with it is counted as a
// transport failure (so the interceptors are).
func TestBundlesInstallEverything(t *testing.T) {
	t.Parallel()
	sm, cm := testenv.NewMetrics(t), testenv.NewMetrics(t)
	svc := &testenv.Service{Started: make(chan string, 1)}
	_, addr := testenv.Serve(t, svc, options.Server(
		options.WithMeterProvider(sm.Provider),
		options.WithServerParameters(keepalive.ServerParameters{
			Time: time.Minute, MaxConnectionAge: 300 * time.Millisecond, MaxConnectionAgeGrace: 300 * time.Millisecond,
		}),
	)...)
	cc, err := grpc.NewClient(addr, options.Client(options.WithMeterProvider(cm.Provider))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	defer cancel()
	st, err := testgrpc.NewTestServiceClient(cc).StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: -1}}, // block until the stream is cut
	}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatal(err)
	}
	<-svc.Started
	if _, err := st.Recv(); err == nil {
		t.Fatal("stream outlived MaxConnectionAge + grace")
	}
	reason := semconv.CloseReason.String("max_connection_age")
	for _, m := range []*testenv.Metrics{sm, cm} {
		testenv.Eventually(t, func() string {
			if m.Sum(t, semconv.MetricCloses, reason) > 0 && m.Sum(t, semconv.MetricTransportFailures, reason) > 0 {
				return ""
			}
			return m.Dump(t, semconv.MetricCloses) + m.Dump(t, semconv.MetricTransportFailures)
		})
	}
}

// An override with an Error finding is reported with what to change, and
// not applied.
func TestBadOverrideIsReported(t *testing.T) {
	t.Parallel()
	var reported []error
	onInvalid := options.WithInvalidPolicyHandler(func(err error) { reported = append(reported, err) })

	tooFast := options.WithClientParameters(keepalive.ClientParameters{Time: time.Minute, Timeout: 10 * time.Second})
	_ = options.Client(tooFast, onInvalid)
	if len(reported) != 1 || !strings.Contains(reported[0].Error(), "too_many_pings") {
		t.Fatalf("reported %v, want one error about too_many_pings", reported)
	}
	if err := options.CheckClient(tooFast); err == nil {
		t.Error("CheckClient accepted a client Time below grpc's default MinTime")
	}
	// The same client is fine against servers that use grpcpulse's
	// default policy.
	if err := options.CheckClient(tooFast, options.WithPeerServerPolicy(options.DefaultServerPolicy())); err != nil {
		t.Errorf("CheckClient against DefaultServerPolicy: %v", err)
	}

	reported = nil
	negative := options.WithServerParameters(keepalive.ServerParameters{Timeout: -time.Second})
	_ = options.Server(negative, onInvalid)
	if len(reported) != 1 || !strings.Contains(reported[0].Error(), "Timeout") {
		t.Fatalf("reported %v, want one error about Timeout", reported)
	}
	var f options.Finding
	if err := options.CheckServer(negative); !errors.As(err, &f) || f.Severity != options.Error {
		t.Errorf("CheckServer = %v, want an Error finding", err)
	}

	reported = nil
	_ = options.Server(onInvalid)
	_ = options.Client(onInvalid)
	if len(reported) != 0 {
		t.Errorf("the presets were reported: %v", reported)
	}
}
