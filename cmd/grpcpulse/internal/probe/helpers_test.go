package probe

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/grpcpulse/grpcpulse/options"
)

// startServer runs a real grpc-go server with policy and the standard
// health service on 127.0.0.1:0, stopped at the end of the test.
func startServer(t *testing.T, policy options.ServerPolicy, opts ...grpc.ServerOption) string {
	t.Helper()
	return startServerWith(t, policy, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, health.NewServer()) }, opts...)
}

// startServerWith runs a real grpc-go server with policy on 127.0.0.1:0,
// with the services register adds, stopped at the end of the test.
func startServerWith(t *testing.T, policy options.ServerPolicy, register func(*grpc.Server), opts ...grpc.ServerOption) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, grpc.KeepaliveParams(policy.Parameters), grpc.KeepaliveEnforcementPolicy(policy.Enforcement))
	srv := grpc.NewServer(opts...)
	register(srv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return ln.Addr().String()
}

// syncBuffer is a bytes.Buffer safe for the probe's concurrent progress
// lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runProbe probes addr with cfg's budget and test-sized ladders, and logs
// the report and the progress lines.
func runProbe(t *testing.T, cfg Config) *Report {
	t.Helper()
	var progress syncBuffer
	cfg.Progress = &progress
	if cfg.enforceLadder == nil {
		cfg.enforceLadder = testEnforceLadder
	}
	if cfg.idleLadder == nil {
		cfg.idleLadder = []time.Duration{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Budget+30*time.Second)
	defer cancel()
	rep, err := Run(ctx, cfg)
	t.Logf("progress:\n%s", progress.String())
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	var out bytes.Buffer
	_ = rep.WriteText(&out)
	t.Logf("report:\n%s", out.String())
	return rep
}

// testEnforceLadder is a short ladder around the test servers' MinTimes
// (2s and 3s), with rungs off their values.
var testEnforceLadder = []time.Duration{700 * time.Millisecond, 1600 * time.Millisecond, 2400 * time.Millisecond, 3600 * time.Millisecond}

// lineWatcher is a progress writer that closes seen at the first line
// containing want.
type lineWatcher struct {
	syncBuffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	n, err := w.syncBuffer.Write(p)
	if strings.Contains(w.syncBuffer.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

// command2 runs the probe command with ctx, stdout and stderr given.
func command2(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return Command(ctx, args, stdout, stderr)
}

// startStoppableServer runs a grpc-go server with the health service that
// stops (hard, as a crash would) when stop is closed.
func startStoppableServer(t *testing.T, stop <-chan struct{}) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	go func() {
		<-stop
		srv.Stop()
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return ln.Addr().String()
}
