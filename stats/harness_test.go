package stats_test

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/grpcpulse/grpcpulse/internal/faultproxy"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/stats"
)

// end is one side of a scenario: its handler, its metrics and an independent
// count of the transports grpc-go reported.
type end struct {
	name    string
	h       *stats.Handler
	m       *testenv.Metrics
	counter *testenv.ConnCounter
}

func newEnd(t *testing.T, server bool) *end {
	e := &end{m: testenv.NewMetrics(t), counter: &testenv.ConnCounter{}}
	if server {
		e.name = "server"
		e.h = stats.NewServerHandler(stats.WithMeterProvider(e.m.Provider))
	} else {
		e.name = "client"
		e.h = stats.NewClientHandler(stats.WithMeterProvider(e.m.Provider))
	}
	return e
}

func (e *end) closes(t *testing.T, match ...attribute.KeyValue) int64 {
	t.Helper()
	return e.m.Sum(t, semconv.MetricCloses, match...)
}

// waitClose waits until this side recorded a close with reason and
// initiator.
func (e *end) waitClose(t *testing.T, reason, initiator string) {
	t.Helper()
	testenv.Eventually(t, func() string {
		if e.closes(t, semconv.CloseReason.String(reason), semconv.CloseInitiator.String(initiator)) > 0 {
			return ""
		}
		return fmt.Sprintf("%s: no close with reason=%s initiator=%s\n%s\n%s\n%s", e.name, reason, initiator,
			e.m.Dump(t, semconv.MetricCloses), e.m.Dump(t, semconv.MetricGoAways), e.m.Dump(t, semconv.MetricPings))
	})
}

// checkNothingLost asserts the invariants that hold after every scenario:
// each transport that began ended in exactly one close, the connections
// gauge is back to zero and every journal was freed.
func (e *end) checkNothingLost(t *testing.T) {
	t.Helper()
	testenv.Eventually(t, func() string {
		begins, ends := e.counter.Begins.Load(), e.counter.Ends.Load()
		closes := e.closes(t)
		open := e.m.Sum(t, semconv.MetricConnections)
		journals := stats.OpenJournals(e.h)
		if begins == ends && closes == ends && open == 0 && journals == 0 {
			return ""
		}
		return fmt.Sprintf("%s: begins=%d ends=%d closes=%d connections=%d journals=%d",
			e.name, begins, ends, closes, open, journals)
	})
}

// scenario is a real server and client, optionally through the fault proxy.
type scenario struct {
	server, client *end
	srv            *grpc.Server
	proxy          *faultproxy.Proxy
	target         string
	svc            *testenv.Service
}

type setup struct {
	serverOpts  []grpc.ServerOption
	proxy       bool
	serverCreds credentials.TransportCredentials // nil: insecure
	unwrapped   bool                             // do not install the frame observer
}

func start(t *testing.T, cfg setup) *scenario {
	t.Helper()
	s := &scenario{server: newEnd(t, true), client: newEnd(t, false), svc: &testenv.Service{}}
	// Registered first, so it runs last: after the client, proxy and
	// server cleanups below.
	t.Cleanup(func() {
		s.server.checkNothingLost(t)
		s.client.checkNothingLost(t)
	})
	creds := cfg.serverCreds
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	if !cfg.unwrapped {
		creds = s.server.h.WrapCredentials(creds)
	}
	opts := append([]grpc.ServerOption{
		grpc.Creds(creds),
		grpc.StatsHandler(s.server.h),
		grpc.StatsHandler(s.server.counter),
	}, cfg.serverOpts...)
	s.srv, s.target = testenv.Serve(t, s.svc, opts...)
	if cfg.proxy {
		p, err := faultproxy.New(s.target)
		if err != nil {
			t.Fatalf("proxy: %v", err)
		}
		t.Cleanup(func() { _ = p.Close() })
		s.proxy, s.target = p, p.Addr()
	}
	return s
}

// dial returns a client of the scenario's server, closed when the test ends.
func (s *scenario) dial(t *testing.T, creds credentials.TransportCredentials, wrap bool, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	if wrap {
		creds = s.client.h.WrapCredentials(creds)
	}
	opts = append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithStatsHandler(s.client.h),
		grpc.WithStatsHandler(s.client.counter),
	}, opts...)
	cc, err := grpc.NewClient(s.target, opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// call makes one unary RPC, which also establishes the transport.
func call(t *testing.T, cc *grpc.ClientConn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	defer cancel()
	if _, err := testgrpc.NewTestServiceClient(cc).EmptyCall(ctx, &testgrpc.Empty{}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("EmptyCall: %v", err)
	}
}
