package implementation_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/peers/foreign"
	"github.com/grpcpulse/grpcpulse/internal/peers/peertest"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// diagnoses collects what a Go end's diagnosis handler receives.
type diagnoses struct {
	mu  sync.Mutex
	all []pulse.Diagnosis
}

func (d *diagnoses) handle(x pulse.Diagnosis) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.all = append(d.all, x)
}

// wait waits for a diagnosis of reason and returns it.
func (d *diagnoses) wait(t *testing.T, reason pulse.Reason) pulse.Diagnosis {
	t.Helper()
	var found pulse.Diagnosis
	testenv.Eventually(t, func() string {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, x := range d.all {
			if x.Reason == reason {
				found = x
				return ""
			}
		}
		return fmt.Sprintf("no %s diagnosis; got %d others", reason, len(d.all))
	})
	return found
}

// check asserts that x names peer and that its advice says each of want.
func check(t *testing.T, x pulse.Diagnosis, peer pulse.Implementation, want ...string) {
	t.Helper()
	if x.Peer != peer {
		t.Errorf("Diagnosis.Peer = %v, want %v", x.Peer, peer)
	}
	for _, w := range want {
		if !strings.Contains(x.Advice, w) {
			t.Errorf("advice %q\ndoes not say %q", x.Advice, w)
		}
	}
	t.Logf("advice: %s", x.Advice)
}

// A Go server closes a foreign client that pings too often with
// too_many_pings, and tells that client's settings in its own words.
func TestServerAdvisesClientInItsWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		impl  pulse.Implementation
		want  []string
		start func(t *testing.T, addr string) *foreign.Client
	}{
		{pulse.ImplementationCCore, []string{"the client's grpc.keepalive_time_ms to at least 6000 (6s)"}, func(t *testing.T, addr string) *foreign.Client {
			return foreign.StartCCoreClient(t, foreign.CCoreClientConfig{Target: addr, Call: foreign.CallStream, Args: foreign.Args{
				"grpc.keepalive_time_ms": 1000, "grpc.keepalive_permit_without_calls": 1, "grpc.http2.max_pings_without_data": 0}})
		}},
		{pulse.ImplementationJS, []string{"the client's grpc.keepalive_time_ms to at least 6000 (6s)"}, func(t *testing.T, addr string) *foreign.Client {
			return foreign.StartJSClient(t, foreign.JSClientConfig{Target: addr, Call: foreign.CallStream, Args: foreign.Args{
				"grpc.keepalive_time_ms": 500, "grpc.keepalive_permit_without_calls": 1}})
		}},
	} {
		t.Run(tc.impl.String(), func(t *testing.T) {
			t.Parallel()
			d := &diagnoses{}
			_, addr := peertest.GoServer(t, &testenv.Service{}, options.WithDiagnosisHandler(d.handle),
				options.WithEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}))
			c := tc.start(t, addr)
			c.WaitEvent(t, "status", nil)
			check(t, d.wait(t, pulse.ReasonTooManyPings), tc.impl, tc.want...)
		})
	}
}

// A Go client closed with too_many_pings by a foreign server tells the
// server's settings in that server's words, at its implementation's
// defaults unless told otherwise. grpc-go pings at most every 10s, so each
// case takes two to three of its pings.
func TestClientAdvisesServerInItsWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		impl  pulse.Implementation
		want  []string
		start func(t *testing.T) string
	}{
		{pulse.ImplementationCCore, []string{"At C-core's defaults, the server's grpc.http2.min_ping_interval_without_data_ms is 5m",
			"the server's grpc.http2.min_ping_interval_without_data_ms to at most 9000 (9s)"}, func(t *testing.T) string {
			return foreign.StartCCoreServer(t, foreign.CCoreServerConfig{Args: foreign.Args{"grpc.http2.max_ping_strikes": 1}}).Addr
		}},
		{pulse.ImplementationJava, []string{"At grpc-java's defaults, the server's NettyServerBuilder.permitKeepAliveTime is 5m",
			"the server's NettyServerBuilder.permitKeepAliveTime to at most 9s"}, func(t *testing.T) string {
			return foreign.StartJavaServer(t, foreign.JavaServerConfig{}).Addr
		}},
	} {
		t.Run(tc.impl.String(), func(t *testing.T) {
			t.Parallel()
			d := &diagnoses{}
			addr := tc.start(t)
			_, cc := peertest.GoClient(t, addr, options.WithDiagnosisHandler(d.handle),
				options.WithClientParameters(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second}))
			ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
			defer cancel()
			w, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Recv(); err != nil {
				t.Fatal(err)
			}
			x := d.wait(t, pulse.ReasonTooManyPings)
			check(t, x, tc.impl, append(tc.want, "this client's ClientParameters.Time to at least 5m30s")...)
		})
	}
}
