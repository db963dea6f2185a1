package foreign_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/internal/peers/foreign"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
)

// Each launcher is proven end to end against grpc-go of this repository:
// a grpc-go client of each foreign server and through each middlebox, and
// each foreign client of a grpc-go server.

// goSrv is a grpc-go server of grpc-go's health service and grpcpulse's
// test service on 127.0.0.1, without grpcpulse.
type goSrv struct {
	health *health.Server
	addr   string
	*pingListener
}

func goServer(t *testing.T, opts ...grpc.ServerOption) *goSrv {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pl := &pingListener{Listener: lis}
	srv := grpc.NewServer(opts...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	testgrpc.RegisterTestServiceServer(srv, &testenv.Service{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(pl)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return &goSrv{health: hs, addr: lis.Addr().String(), pingListener: pl}
}

func goClient(t *testing.T, target string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func patience(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), foreign.Patience)
	t.Cleanup(cancel)
	return ctx
}

// servers starts each foreign server with the same limits: a connection
// age of 1s and a grace of 500ms.
var servers = []struct {
	name  string
	start func(t *testing.T, aged bool) *foreign.Server
}{
	{"c-core", func(t *testing.T, aged bool) *foreign.Server {
		return foreign.StartCCoreServer(t, foreign.CCoreServerConfig{Args: agedArgs(aged)})
	}},
	{"grpc-js", func(t *testing.T, aged bool) *foreign.Server {
		return foreign.StartJSServer(t, foreign.JSServerConfig{Args: agedArgs(aged)})
	}},
	{"grpc-java", func(t *testing.T, aged bool) *foreign.Server {
		var cfg foreign.JavaServerConfig
		if aged {
			cfg.MaxConnectionAge, cfg.MaxConnectionAgeGrace = time.Second, 500*time.Millisecond
		}
		return foreign.StartJavaServer(t, cfg)
	}},
}

// agedArgs are the channel args of the servers' limits, if aged.
func agedArgs(aged bool) foreign.Args {
	if !aged {
		return nil
	}
	return foreign.Args{"grpc.max_connection_age_ms": 1000, "grpc.max_connection_age_grace_ms": 500}
}

// recvEnd reads a server stream until it ends, and returns how it ended.
func recvEnd[R any](s grpc.ServerStreamingClient[R]) error {
	for {
		if _, err := s.Recv(); err != nil {
			return err
		}
	}
}

// A grpc-go client calls Health/Check and follows Health/Watch on each
// foreign server while the test changes the serving status, then cancels
// the Watch, which the server reports.
func TestServersHealth(t *testing.T) {
	t.Parallel()
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			srv := s.start(t, false)
			hc := healthpb.NewHealthClient(goClient(t, srv.Addr))
			ctx := patience(t)
			resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
			if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("Check = %v, %v; want SERVING", resp, err)
			}
			wctx, cancel := context.WithCancel(ctx)
			w, err := hc.Watch(wctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if m, err := w.Recv(); err != nil || m.Status != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("Watch first message = %v, %v; want SERVING", m, err)
			}
			srv.SetHealth(t, "NOT_SERVING")
			if m, err := w.Recv(); err != nil || m.Status != healthpb.HealthCheckResponse_NOT_SERVING {
				t.Fatalf("Watch after SetHealth = %v, %v; want NOT_SERVING", m, err)
			}
			if resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || resp.Status != healthpb.HealthCheckResponse_NOT_SERVING {
				t.Fatalf("Check after SetHealth = %v, %v; want NOT_SERVING", resp, err)
			}
			srv.WaitEvent(t, "call", func(e foreign.Event) bool { return e.Method == "Watch" })
			cancel()
			srv.WaitEvent(t, "cancelled", func(e foreign.Event) bool { return e.Method == "Watch" })
		})
	}
}

// The settings reach each server: a connection age of 1s and a grace of
// 500ms end a held Watch and a held StreamingOutputCall, which the client
// did not end. (How they end differs: grpc-js's session.destroy() may reset
// a stream before it closes the socket.)
func TestServersSettings(t *testing.T) {
	t.Parallel()
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			srv := s.start(t, true)
			cc := goClient(t, srv.Addr)
			ctx := patience(t)
			w, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatal(err)
			}
			st, err := testgrpc.NewTestServiceClient(cc).StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{})
			if err != nil {
				t.Fatal(err)
			}
			err = recvEnd(w)
			if c := status.Code(err); c == codes.OK || c == codes.DeadlineExceeded {
				t.Errorf("Watch ended with %v, want the server to cut it at max age + grace", err)
			}
			err = recvEnd(st)
			if c := status.Code(err); c == codes.OK || c == codes.DeadlineExceeded {
				t.Errorf("StreamingOutputCall ended with %v, want the server to cut it at max age + grace", err)
			}
			srv.WaitEvent(t, "cancelled", func(e foreign.Event) bool { return e.Method == "Watch" })
			srv.WaitEvent(t, "cancelled", func(e foreign.Event) bool { return e.Method == "StreamingOutputCall" })
		})
	}
}

// Shutdown drains each server: a held stream is cut after the grace and
// the server reports that it stopped.
func TestServersShutdown(t *testing.T) {
	t.Parallel()
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			srv := s.start(t, false)
			cc := goClient(t, srv.Addr)
			ctx := patience(t)
			st, err := testgrpc.NewTestServiceClient(cc).StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{})
			if err != nil {
				t.Fatal(err)
			}
			srv.WaitEvent(t, "call", func(e foreign.Event) bool { return e.Method == "StreamingOutputCall" })
			srv.Shutdown(t, 200*time.Millisecond)
			err = recvEnd(st)
			if status.Code(err) == codes.OK || errors.Is(err, io.EOF) {
				t.Errorf("held stream ended with %v, want an error", err)
			}
			srv.WaitEvent(t, "stopped", nil)
		})
	}
}

// clients starts each foreign client.
var clients = []struct {
	name  string
	start func(t *testing.T, target string, call foreign.Call) *foreign.Client
}{
	{"c-core", func(t *testing.T, target string, call foreign.Call) *foreign.Client {
		return foreign.StartCCoreClient(t, foreign.CCoreClientConfig{Target: target, Call: call})
	}},
	{"grpc-js", func(t *testing.T, target string, call foreign.Call) *foreign.Client {
		return foreign.StartJSClient(t, foreign.JSClientConfig{Target: target, Call: call})
	}},
	{"grpc-java", func(t *testing.T, target string, call foreign.Call) *foreign.Client {
		return foreign.StartJavaClient(t, foreign.JavaClientConfig{Target: target, Call: call})
	}},
}

// Each foreign client checks and watches a grpc-go server's health while
// the test changes it, cancels its Watch, closes its channel and exits.
func TestClients(t *testing.T) {
	t.Parallel()
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := goServer(t)
			cl := c.start(t, srv.addr, foreign.CallCheck)
			method := func(m string) func(foreign.Event) bool {
				return func(e foreign.Event) bool { return e.Method == m }
			}
			if st := cl.WaitEvent(t, "status", method("Check")); st.CodeName != "OK" {
				t.Fatalf("Check status = %s %q, want OK", st.CodeName, st.Details)
			}
			if m := cl.WaitEvent(t, "message", method("Check")); m.Health != "SERVING" {
				t.Fatalf("Check answered %q, want SERVING", m.Health)
			}
			cl.WaitEvent(t, "state", func(e foreign.Event) bool { return e.State == "READY" })

			cl.Call(t, foreign.CallWatch)
			cl.WaitEvent(t, "message", func(e foreign.Event) bool { return e.Method == "Watch" && e.Health == "SERVING" })
			srv.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
			cl.WaitEvent(t, "message", func(e foreign.Event) bool { return e.Method == "Watch" && e.Health == "NOT_SERVING" })
			cl.Cancel(t)
			if st := cl.WaitEvent(t, "status", method("Watch")); st.CodeName != "CANCELLED" {
				t.Errorf("Watch status after Cancel = %s %q, want CANCELLED", st.CodeName, st.Details)
			}
			cl.Call(t, foreign.CallEmpty)
			if st := cl.WaitEvent(t, "status", method("EmptyCall")); st.CodeName != "OK" {
				t.Errorf("EmptyCall status = %s %q, want OK", st.CodeName, st.Details)
			}
			cl.Close(t)
			cl.WaitEvent(t, "closed", nil)
			cl.WaitExit(t)
		})
	}
}

// A grpc-js client made with ExitWhenIdle exits by itself once its call
// is done, its connection still open.
func TestJSClientExitWhenIdle(t *testing.T) {
	t.Parallel()
	cl := foreign.StartJSClient(t, foreign.JSClientConfig{Target: goServer(t).addr, Call: foreign.CallCheck, ExitWhenIdle: true})
	select {
	case <-cl.Exited():
	case <-time.After(foreign.Patience):
		t.Fatalf("the client did not exit by itself; stdout:\n%s", cl.Stdout())
	}
	if err := cl.ExitErr(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if !cl.Has("status", func(e foreign.Event) bool { return e.Method == "Check" && e.CodeName == "OK" }) {
		t.Errorf("no OK Check before the exit; stdout:\n%s", cl.Stdout())
	}
}

// grpc-go reaches its server through HAProxy, which closes the flow once
// it has been idle for its client and server timeouts: grpc-go's channel
// leaves READY without having been closed.
func TestHAProxy(t *testing.T) {
	t.Parallel()
	backend := goServer(t).addr
	px := foreign.StartHAProxy(t, foreign.HAProxyConfig{
		Backend: backend, TimeoutConnect: 5 * time.Second, TimeoutClient: time.Second, TimeoutServer: time.Second,
	})
	cc := goClient(t, px.Addr)
	ctx := patience(t)
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check through HAProxy = %v, %v; want SERVING", resp, err)
	}
	for s := cc.GetState(); s.String() == "READY"; s = cc.GetState() {
		if !cc.WaitForStateChange(ctx, s) {
			t.Fatal("the idle connection through HAProxy stayed READY")
		}
	}
	// HAProxy logs the flow it ended; its termination state says which
	// timeout fired: a client-side (cD) or server-side (sD) data timeout.
	testenv.Eventually(t, func() string {
		if log := px.Stderr(); strings.Contains(log, " cD ") || strings.Contains(log, " sD ") {
			return ""
		}
		return "HAProxy logged no flow ended by its idle timeout:\n" + px.Stderr()
	})
}

// With maxconn 1, HAProxy answers a second connection only once the
// first has gone: until then its listener waits (WAITING in its stats).
func TestHAProxyMaxConn(t *testing.T) {
	t.Parallel()
	backend := goServer(t).addr
	px := foreign.StartHAProxy(t, foreign.HAProxyConfig{
		Backend: backend, TimeoutConnect: 5 * time.Second, TimeoutClient: time.Minute, TimeoutServer: time.Minute, MaxConn: 1,
	})
	first := goClient(t, px.Addr)
	ctx := patience(t)
	if _, err := healthpb.NewHealthClient(first).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("first Check: %v", err)
	}
	second := goClient(t, px.Addr)
	done := make(chan error, 1)
	go func() {
		_, err := healthpb.NewHealthClient(second).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
		done <- err
	}()
	testenv.Eventually(t, func() string {
		for _, line := range strings.Split(px.Admin(t, "show stat"), "\n") {
			if strings.HasPrefix(line, "fe,sock-1,") && strings.Contains(line, ",WAITING,") {
				return ""
			}
		}
		return "HAProxy's listener is not WAITING:\n" + px.Admin(t, "show stat")
	})
	select {
	case err := <-done:
		t.Fatalf("the second connection was answered while the first held the only slot: %v", err)
	default:
	}
	_ = first.Close()
	if err := <-done; err != nil {
		t.Fatalf("second Check after the first connection closed: %v", err)
	}
}

// grpc-go reaches its server through nginx, which answers as itself (its
// server header) and ends a held Watch once the upstream has been silent
// for grpc_read_timeout.
func TestNginx(t *testing.T) {
	t.Parallel()
	backend := goServer(t).addr
	px := foreign.StartNginx(t, foreign.NginxConfig{Backend: backend, GRPCReadTimeout: time.Second})
	cc := goClient(t, px.Addr)
	ctx := patience(t)
	var md metadata.MD
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&md))
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check through nginx = %v, %v; want SERVING", resp, err)
	}
	if s := strings.Join(md.Get("server"), " "); !strings.HasPrefix(s, "nginx") {
		t.Errorf("server header = %q, want nginx's", s)
	}
	w, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	err = recvEnd(w)
	if status.Code(err) == codes.OK || status.Code(err) == codes.DeadlineExceeded {
		t.Errorf("held Watch through nginx ended with %v, want nginx to end it", err)
	}
	testenv.Eventually(t, func() string {
		if strings.Contains(px.Stderr(), "upstream timed out") {
			return ""
		}
		return "nginx logged no upstream timeout:\n" + px.Stderr()
	})
	t.Logf("the held Watch ended with: %v", err)
}

// The keepalive settings reach each foreign client: with no call open,
// it sends keepalive PINGs, which the grpc-go server permits and counts.
// grpc-java cannot ping more often than every 10s, so its check takes that
// long.
func TestClientsKeepalive(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		start func(t *testing.T, target string) *foreign.Client
		pings int64
	}{
		{"c-core", func(t *testing.T, target string) *foreign.Client {
			return foreign.StartCCoreClient(t, foreign.CCoreClientConfig{Target: target, Args: foreign.Args{
				"grpc.keepalive_time_ms": 100, "grpc.keepalive_permit_without_calls": 1, "grpc.http2.max_pings_without_data": 0,
			}})
		}, 3},
		{"grpc-js", func(t *testing.T, target string) *foreign.Client {
			return foreign.StartJSClient(t, foreign.JSClientConfig{Target: target, Args: foreign.Args{
				"grpc.keepalive_time_ms": 100, "grpc.keepalive_permit_without_calls": 1,
			}})
		}, 3},
		{"grpc-java", func(t *testing.T, target string) *foreign.Client {
			return foreign.StartJavaClient(t, foreign.JavaClientConfig{Target: target,
				KeepAliveTime: 10 * time.Second, KeepAliveWithoutCalls: true})
		}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := goServer(t, grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Millisecond, PermitWithoutStream: true}))
			cl := c.start(t, srv.addr)
			testenv.Eventually(t, func() string {
				if n := srv.pings.Load(); n < c.pings {
					return fmt.Sprintf("the server received %d keepalive PINGs, want %d or more", n, c.pings)
				}
				return ""
			})
			ready := false
			for _, e := range cl.Events() {
				if e.Event == "state" {
					if ready && e.State != "READY" {
						t.Errorf("the client's connection went %s while it pinged; stdout:\n%s", e.State, cl.Stdout())
					}
					ready = ready || e.State == "READY"
				}
			}
		})
	}
}

// pingListener counts the PING frames (not ACKs) its connections read:
// the client's keepalive PINGs, for an idle connection.
type pingListener struct {
	net.Listener
	pings atomic.Int64
}

func (l *pingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &pingConn{Conn: c, l: l, skip: len(http2Preface)}, nil
}

const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// pingConn follows the frame boundaries of what it reads. grpc-go reads
// each connection from one goroutine.
type pingConn struct {
	net.Conn
	l    *pingListener
	skip int // bytes of the preface or a frame's payload still to pass
	hdr  [9]byte
	have int // bytes of hdr read
}

func (c *pingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	for p := b[:n]; len(p) > 0; {
		if c.skip > 0 {
			k := min(c.skip, len(p))
			c.skip -= k
			p = p[k:]
			continue
		}
		k := copy(c.hdr[c.have:], p)
		c.have += k
		p = p[k:]
		if c.have == len(c.hdr) {
			c.have = 0
			c.skip = int(c.hdr[0])<<16 | int(c.hdr[1])<<8 | int(c.hdr[2])
			if c.hdr[3] == 0x6 && c.hdr[4]&0x1 == 0 { // PING without ACK
				c.l.pings.Add(1)
			}
		}
	}
	return n, err
}
