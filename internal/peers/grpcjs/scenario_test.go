package grpcjs_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/interceptors"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
)

const streamMethod = "grpc.testing.TestService/StreamingOutputCall"

func TestGRPCJSClientPingsTooFast(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		stream bool
	}{{"idle", false}, {"stream", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := &testenv.Service{Started: make(chan string, 4)}
			srv, addr := goServer(t, svc, options.WithEnforcementPolicy(keepalive.EnforcementPolicy{
				MinTime: 5 * time.Second, PermitWithoutStream: true,
			}))
			stream := "0"
			if tc.stream {
				stream = "1"
			}
			js := startPeer(t, "ping-client.js", "target="+addr, "keepaliveMs=100", "stream="+stream)
			srv.WaitClose(t, "too_many_pings", "local")
			js.WaitEvent(t, "done", nil)
			js.WaitExit(t)
			t.Logf("js stdout:\n%s", js.Stdout())
			t.Logf("%s\nspans: %q", srv.Dump(t), srv.GoAwayEvents())
		})
	}
}

func TestGRPCJSServerMaxConnectionAge(t *testing.T) {
	t.Parallel()
	js := startPeer(t, "max-age-server.js", "maxAgeMs=2000", "graceMs=1000")
	port := js.WaitEvent(t, "listening", nil).Port
	cl, cc := goClient(t, "127.0.0.1:"+itoa(port))
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	defer cancel()
	st, err := testgrpc.NewTestServiceClient(cc).StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: -1}},
	}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatalf("StreamingOutputCall: %v", err)
	}
	js.WaitEvent(t, "call", nil)
	for err == nil {
		_, err = st.Recv()
	}
	t.Logf("go client got: %v", err)
	if status.Code(err) != codes.Unavailable {
		t.Errorf("stream error = %v, want Unavailable", err)
	}
	r, ok := interceptors.Cause(context.Background(), err)
	t.Logf("Cause = %v %v", r, ok)
	cl.WaitClose(t, "max_connection_age", "peer")
	t.Logf("%s\nspans: %q", cl.Dump(t), cl.GoAwayEvents())
	_ = semconv.MetricCloses
	_ = strings.Contains
}

func TestGRPCJSClientStreamCutByMaxConnectionAge(t *testing.T) {
	t.Parallel()
	svc := &testenv.Service{Started: make(chan string, 4)}
	srv, addr := goServer(t, svc, options.WithServerParameters(keepalive.ServerParameters{
		MaxConnectionAge: time.Second, MaxConnectionAgeGrace: time.Second,
	}))
	js := startPeer(t, "stream-client.js", "target="+addr)
	js.WaitEvent(t, "done", nil)
	js.WaitExit(t)
	srv.WaitClose(t, "max_connection_age", "local")
	t.Logf("js stdout:\n%s", js.Stdout())
	t.Logf("%s\nspans: %q", srv.Dump(t), srv.GoAwayEvents())
}

func itoa(n int) string { return strconv.Itoa(n) }
