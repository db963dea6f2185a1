package implementation_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/peers/foreign"
	"github.com/grpcpulse/grpcpulse/internal/peers/peertest"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
)

// bdpTrace makes C-core log its flow-control estimator, whose "start" lines
// are its BDP PINGs going out.
var bdpTrace = []string{"GRPC_TRACE=http_keepalive,bdp_estimator"}

// bdpPings counts the BDP PINGs a C-core program logged.
func bdpPings(p *foreign.Process) int { return strings.Count(p.Stderr(), "]:start acc=") }

// emptyCalls has c make n EmptyCalls, one after another, each answered with
// DATA that a C-core or grpc-java client answers with its flow-control PING.
func emptyCalls(t *testing.T, c *foreign.Client, n int) {
	t.Helper()
	for i := range n {
		if i > 0 {
			c.Call(t, foreign.CallEmpty)
		}
		testenv.Eventually(t, func() string {
			if got := c.Count("status", nil); got < i+1 {
				return fmt.Sprintf("%d calls ended, want %d", got, i+1)
			}
			return ""
		})
	}
}

// checks makes n Health/Checks, each sending the server a request message.
func checks(t *testing.T, h healthpb.HealthClient, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	defer cancel()
	for range n {
		if _, err := h.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
	}
}

// The flow-control PINGs C-core and grpc-java send when they receive DATA
// are not keepalives: a Go server that sends them DATA counts none.
func TestFlowControlPingsFromClientsAreNotKeepalives(t *testing.T) {
	t.Parallel()
	t.Run("c-core", func(t *testing.T) {
		t.Parallel()
		srv, addr := peertest.GoServer(t, &testenv.Service{})
		c := foreign.StartCCoreClient(t, foreign.CCoreClientConfig{Target: addr, Call: foreign.CallEmpty, Env: bdpTrace})
		emptyCalls(t, c, 20)
		testenv.Eventually(t, func() string {
			if bdpPings(c.Process) == 0 {
				return "C-core logged no BDP PING"
			}
			return ""
		})
		c.Close(t)
		c.WaitEvent(t, "closed", nil)
		srv.CheckNothingLost(t)
		if n := pings(t, srv, "received"); n != 0 {
			t.Errorf("counted %d received keepalive PINGs; C-core sent %d BDP PINGs and no keepalive\n%s", n, bdpPings(c.Process), srv.Dump(t))
		}
	})
	t.Run("java", func(t *testing.T) {
		t.Parallel()
		srv, addr := peertest.GoServer(t, &testenv.Service{})
		c := foreign.StartJavaClient(t, foreign.JavaClientConfig{Target: addr, Call: foreign.CallEmpty})
		emptyCalls(t, c, 20)
		c.Close(t)
		c.WaitEvent(t, "closed", nil)
		srv.CheckNothingLost(t)
		if n := pings(t, srv, "received"); n != 0 {
			t.Errorf("counted %d received keepalive PINGs from a grpc-java client without keepalive\n%s", n, srv.Dump(t))
		}
	})
}

// The same of servers: a Go client that sends C-core's and grpc-java's
// servers requests counts none of their flow-control PINGs.
func TestFlowControlPingsFromServersAreNotKeepalives(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) *foreign.Server
	}{
		{"c-core", func(t *testing.T) *foreign.Server {
			return foreign.StartCCoreServer(t, foreign.CCoreServerConfig{Env: bdpTrace})
		}},
		{"java", func(t *testing.T) *foreign.Server { return foreign.StartJavaServer(t, foreign.JavaServerConfig{}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.start(t)
			cl, cc := peertest.GoClient(t, s.Addr)
			checks(t, healthpb.NewHealthClient(cc), 20)
			if tc.name == "c-core" {
				testenv.Eventually(t, func() string {
					if bdpPings(s.Process) == 0 {
						return "C-core logged no BDP PING"
					}
					return ""
				})
			}
			_ = cc.Close()
			cl.CheckNothingLost(t)
			if n := pings(t, cl, "received"); n != 0 {
				t.Errorf("counted %d received keepalive PINGs from a %s server without keepalive\n%s", n, tc.name, cl.Dump(t))
			}
		})
	}
}

// C-core's keepalive PINGs, which come after silence, still count, from a
// client and from a server.
func TestCCoreKeepalivesCount(t *testing.T) {
	t.Parallel()
	t.Run("client", func(t *testing.T) {
		t.Parallel()
		srv, addr := peertest.GoServer(t, &testenv.Service{}, options.WithEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime: time.Millisecond, PermitWithoutStream: true}))
		c := foreign.StartCCoreClient(t, foreign.CCoreClientConfig{Target: addr, Call: foreign.CallEmpty, Env: bdpTrace, Args: foreign.Args{
			"grpc.keepalive_time_ms": 1000, "grpc.keepalive_permit_without_calls": 1, "grpc.http2.max_pings_without_data": 0}})
		emptyCalls(t, c, 5)
		testenv.Eventually(t, func() string {
			if n := pings(t, srv, "received"); n < 3 {
				return fmt.Sprintf("%d keepalive PINGs received, want 3", n)
			}
			return ""
		})
	})
	t.Run("server", func(t *testing.T) {
		t.Parallel()
		s := foreign.StartCCoreServer(t, foreign.CCoreServerConfig{Env: bdpTrace, Args: foreign.Args{
			"grpc.keepalive_time_ms": 1000, "grpc.keepalive_permit_without_calls": 1}})
		cl, cc := peertest.GoClient(t, s.Addr)
		checks(t, healthpb.NewHealthClient(cc), 5)
		testenv.Eventually(t, func() string {
			if n := pings(t, cl, "received"); n < 2 {
				return fmt.Sprintf("%d keepalive PINGs received, want 2", n)
			}
			return ""
		})
	})
}
