package implementation_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/peers/foreign"
	"github.com/grpcpulse/grpcpulse/internal/peers/peertest"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// peerImplementations returns grpc.peer.implementation of each ended
// connection span of e ("" where the span has none).
func peerImplementations(e *peertest.GoEnd) []string {
	var out []string
	for _, s := range e.Spans.Ended() {
		if s.Name() != pulse.SpanTransport {
			continue
		}
		set := attribute.NewSet(s.Attributes()...)
		v, _ := set.Value(semconv.PeerImpl)
		out = append(out, v.AsString())
	}
	return out
}

// waitPeer waits until e ended a connection span, and checks that every
// one of them names want.
func waitPeer(t *testing.T, e *peertest.GoEnd, want pulse.Implementation) {
	t.Helper()
	testenv.Eventually(t, func() string {
		got := peerImplementations(e)
		if len(got) == 0 {
			return "no connection span ended"
		}
		for _, g := range got {
			if g != want.String() {
				return fmt.Sprintf("connection spans name %q, want %q each", got, want)
			}
		}
		return ""
	})
}

// pings returns how many keepalive PINGs e counted in direction dir.
func pings(t *testing.T, e *peertest.GoEnd, dir string) int64 {
	return e.M.Sum(t, semconv.MetricPings, semconv.PingDirection.String(dir))
}

// A foreign client's first RPC tells a Go server the client's
// implementation through its user-agent.
func TestServerNamesClientByUserAgent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		impl  pulse.Implementation
		start func(t *testing.T, addr string) *foreign.Client
	}{
		{pulse.ImplementationCCore, func(t *testing.T, addr string) *foreign.Client {
			return foreign.StartCCoreClient(t, foreign.CCoreClientConfig{Target: addr, Call: foreign.CallEmpty})
		}},
		{pulse.ImplementationJS, func(t *testing.T, addr string) *foreign.Client {
			return foreign.StartJSClient(t, foreign.JSClientConfig{Target: addr, Call: foreign.CallEmpty})
		}},
		{pulse.ImplementationJava, func(t *testing.T, addr string) *foreign.Client {
			return foreign.StartJavaClient(t, foreign.JavaClientConfig{Target: addr, Call: foreign.CallEmpty})
		}},
	} {
		t.Run(tc.impl.String(), func(t *testing.T) {
			t.Parallel()
			srv, addr := peertest.GoServer(t, &testenv.Service{})
			c := tc.start(t, addr)
			if st := c.WaitEvent(t, "status", nil); st.CodeName != "OK" {
				t.Fatalf("EmptyCall ended %s %q", st.CodeName, st.Details)
			}
			c.Close(t)
			c.WaitEvent(t, "closed", nil)
			waitPeer(t, srv, tc.impl)
		})
	}
	t.Run("go", func(t *testing.T) {
		t.Parallel()
		srv, addr := peertest.GoServer(t, &testenv.Service{})
		_, cc := peertest.GoClient(t, addr)
		if _, err := testgrpc.NewTestServiceClient(cc).EmptyCall(context.Background(), &testgrpc.Empty{}); err != nil {
			t.Fatal(err)
		}
		_ = cc.Close()
		waitPeer(t, srv, pulse.ImplementationGo)
	})
}

// Without an RPC, a Go server tells the client's implementation from the
// wire where it is unambiguous: C-core's SETTINGS, the clock Node stamps on
// grpc-js's keepalive PINGs, grpc-java's keepalive payload.
func TestServerNamesClientByWire(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		impl  pulse.Implementation
		pings int64 // keepalive PINGs to wait for first
		start func(t *testing.T, addr string) *foreign.Client
	}{
		{pulse.ImplementationCCore, 0, func(t *testing.T, addr string) *foreign.Client {
			return foreign.StartCCoreClient(t, foreign.CCoreClientConfig{Target: addr})
		}},
		{pulse.ImplementationJS, 2, func(t *testing.T, addr string) *foreign.Client {
			return foreign.StartJSClient(t, foreign.JSClientConfig{Target: addr, Args: foreign.Args{
				"grpc.keepalive_time_ms": 300, "grpc.keepalive_permit_without_calls": 1}})
		}},
		{pulse.ImplementationJava, 1, func(t *testing.T, addr string) *foreign.Client {
			// grpc-java pings at most every 10s.
			return foreign.StartJavaClient(t, foreign.JavaClientConfig{Target: addr, KeepAliveTime: 10 * time.Second, KeepAliveWithoutCalls: true})
		}},
	} {
		t.Run(tc.impl.String(), func(t *testing.T) {
			t.Parallel()
			srv, addr := peertest.GoServer(t, &testenv.Service{}, options.WithEnforcementPolicy(keepalive.EnforcementPolicy{
				MinTime: time.Millisecond, PermitWithoutStream: true}))
			c := tc.start(t, addr)
			c.WaitEvent(t, "state", func(e foreign.Event) bool { return e.State == "READY" })
			testenv.Eventually(t, func() string {
				if n := pings(t, srv, "received"); n < tc.pings {
					return fmt.Sprintf("%d keepalive PINGs received, want %d", n, tc.pings)
				}
				return ""
			})
			c.Close(t)
			c.WaitEvent(t, "closed", nil)
			waitPeer(t, srv, tc.impl)
		})
	}
}

// A Go client tells the server's implementation from the wire.
func TestClientNamesServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		impl  pulse.Implementation
		pings int64
		start func(t *testing.T) string
	}{
		{pulse.ImplementationCCore, 0, func(t *testing.T) string {
			return foreign.StartCCoreServer(t, foreign.CCoreServerConfig{}).Addr
		}},
		{pulse.ImplementationJS, 2, func(t *testing.T) string {
			return foreign.StartJSServer(t, foreign.JSServerConfig{Args: foreign.Args{"grpc.keepalive_time_ms": 300}}).Addr
		}},
		{pulse.ImplementationJava, 0, func(t *testing.T) string {
			return foreign.StartJavaServer(t, foreign.JavaServerConfig{}).Addr
		}},
		{pulse.ImplementationGo, 0, func(t *testing.T) string {
			_, addr := testenv.Serve(t, &testenv.Service{}, grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{PermitWithoutStream: true}))
			return addr
		}},
	} {
		t.Run(tc.impl.String(), func(t *testing.T) {
			t.Parallel()
			addr := tc.start(t)
			cl, cc := peertest.GoClient(t, addr)
			ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
			defer cancel()
			// One RPC with a request message: grpc-go's and grpc-java's
			// servers answer its DATA with their flow-control PING.
			if tc.impl == pulse.ImplementationGo {
				if _, err := testgrpc.NewTestServiceClient(cc).EmptyCall(ctx, &testgrpc.Empty{}); err != nil {
					t.Fatal(err)
				}
			} else if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, func() string {
				if n := pings(t, cl, "received"); n < tc.pings {
					return fmt.Sprintf("%d keepalive PINGs received, want %d", n, tc.pings)
				}
				return ""
			})
			_ = cc.Close()
			waitPeer(t, cl, tc.impl)
		})
	}
}

// A grpc-js server without keepalive sends no PING; its max-age drain names
// it: GOAWAY "max_age", then Node's own GOAWAY without debug data.
func TestClientNamesJSServerByItsDrain(t *testing.T) {
	t.Parallel()
	js := foreign.StartJSServer(t, foreign.JSServerConfig{Args: foreign.Args{"grpc.max_connection_age_ms": 1000, "grpc.max_connection_age_grace_ms": 500}})
	cl, cc := peertest.GoClient(t, js.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	defer cancel()
	w, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = w.Recv()
	}
	cl.WaitClose(t, "max_connection_age", "peer")
	waitPeer(t, cl, pulse.ImplementationJS)
}

// Behind nginx, a Go client sees nginx's HTTP/2, not its backend's: no
// implementation is claimed.
func TestClientClaimsNothingBehindNginx(t *testing.T) {
	t.Parallel()
	_, backend := testenv.Serve(t, &testenv.Service{})
	px := foreign.StartNginx(t, foreign.NginxConfig{Backend: backend})
	cl, cc := peertest.GoClient(t, px.Addr)
	for range 3 {
		if _, err := testgrpc.NewTestServiceClient(cc).EmptyCall(context.Background(), &testgrpc.Empty{}); err != nil {
			t.Fatal(err)
		}
	}
	_ = cc.Close()
	testenv.Eventually(t, func() string {
		got := peerImplementations(cl)
		if len(got) == 0 {
			return "no connection span ended"
		}
		if strings.Join(got, "") != "" {
			return fmt.Sprintf("connection spans name %q behind nginx, want none", got)
		}
		return ""
	})
}
