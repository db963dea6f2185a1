package interceptors_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
)

// grpc.close.active_rpcs says whether the teardown cut RPCs. A stream its
// client cancels during the max-age grace period was not cut. A unary call
// in flight on the same connection keeps it open until after the cancel,
// so that the drain ends, once the call completes, with no RPC in flight
// on either side.
func TestCancelDuringGraceIsNotCut(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{ServerOpts: []grpc.ServerOption{grpc.KeepaliveParams(keepalive.ServerParameters{
		MaxConnectionAge: time.Second, MaxConnectionAgeGrace: time.Minute,
	})}})
	cc := s.Dial(t, nil, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := testgrpc.NewTestServiceClient(cc).StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: -1}},
	}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatal(err)
	}
	waitStarted(t, s)
	unary := blockingUnary(t, s, cc, 4*time.Second)
	// The drain has begun: the client received the max_age GOAWAY.
	testenv.Eventually(t, func() string {
		if s.Client.M.Sum(t, semconv.MetricGoAways, semconv.GoAwayReason.String("max_age")) > 0 {
			return ""
		}
		return "no max_age GOAWAY yet\n" + s.Client.M.Dump(t, semconv.MetricGoAways)
	})
	cancel()
	if _, err := st.Recv(); err == nil {
		t.Fatal("a cancelled stream returned a message")
	}
	if err := receive(t, unary); err != nil {
		t.Fatalf("the unary call failed: %v", err)
	}
	for _, e := range []*testenv.End{s.Server, s.Client} {
		testenv.Eventually(t, func() string {
			if e.Closes(t, semconv.CloseReason.String("max_connection_age"), semconv.CloseActiveRPCs.Bool(false)) == 1 {
				return ""
			}
			return e.Name + ": no max_connection_age close without active RPCs\n" + e.M.Dump(t, semconv.MetricCloses)
		})
		if n := e.Failures(t); n != 0 {
			t.Errorf("%s: %d transport failures for a stream its client cancelled", e.Name, n)
		}
	}
}

// In a churn of dial, call, close, every RPC has its status before the
// client closes, so no close counts an RPC as cut: the server records each
// connection once, in one series.
func TestChurnCutsNoRPC(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{})
	const workers, perWorker = 8, 40
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				cc, err := grpc.NewClient(s.Target, s.DialOptions()...)
				if err != nil {
					t.Error(err)
					return
				}
				testenv.Call(t, cc)
				_ = cc.Close()
			}
		})
	}
	wg.Wait()
	const n = workers * perWorker
	for _, e := range []*testenv.End{s.Server, s.Client} {
		testenv.Eventually(t, func() string {
			points := e.M.Points(t, semconv.MetricCloses)
			if len(points) == 1 && points[0].Value == n {
				return ""
			}
			return fmt.Sprintf("%s: want one series of %d closes\n%s", e.Name, n, e.M.Dump(t, semconv.MetricCloses))
		})
	}
}
