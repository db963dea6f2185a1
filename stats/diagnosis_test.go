package stats_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/faultproxy"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// records is a slog.Handler that keeps every record, flattened, and as the
// text a slog.TextHandler writes (logged by wait, for the reader of a test
// run).
type records struct {
	mu   sync.Mutex
	got  []map[string]string
	text []string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	m := map[string]string{"level": rec.Level.String(), "msg": rec.Message}
	rec.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	var line strings.Builder
	rec.Time = time.Time{} // no timestamp in the text
	_ = slog.NewTextHandler(&line, nil).Handle(context.Background(), rec)
	r.mu.Lock()
	r.got = append(r.got, m)
	r.text = append(r.text, strings.TrimSpace(line.String()))
	r.mu.Unlock()
	return nil
}

func (r *records) all() []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]string(nil), r.got...)
}

// wait returns the first record with this reason, waiting for it.
func (r *records) wait(t *testing.T, side, reason string) map[string]string {
	t.Helper()
	var found map[string]string
	testenv.Eventually(t, func() string {
		r.mu.Lock()
		defer r.mu.Unlock()
		for i, m := range r.got {
			if m["grpc.side"] == side && m["grpc.close.reason"] == reason {
				found = m
				t.Logf("record: %s", r.text[i])
				return ""
			}
		}
		return fmt.Sprintf("no %s record for %s; records: %v", side, reason, r.got)
	})
	if found["level"] != "WARN" || found["msg"] != "grpc transport closed" {
		t.Errorf("record %v, want level WARN and message %q", found, "grpc transport closed")
	}
	return found
}

func says(t *testing.T, rec map[string]string, key string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(rec[key], w) {
			t.Errorf("%s = %q, want it to say %q", key, rec[key], w)
		}
	}
}

func quiet() options.Option { return options.WithErrorHandler(func(error) {}) }

// rawPings connects a raw HTTP/2 client to addr and sends keepalive PINGs
// every interval until the server answers GOAWAY.
func rawPings(t *testing.T, addr string, interval time.Duration) *goAwayInfo {
	t.Helper()
	r := dialRaw(t, addr)
	done := make(chan *goAwayInfo, 1)
	go func() { done <- r.readUntilEnd() }()
	for i := 0; ; i++ {
		if err := r.fr.WritePing(false, [8]byte{byte(i)}); err != nil {
			break
		}
		select {
		case g := <-done:
			return g
		case <-time.After(interval):
		}
	}
	return <-done
}

// The server tells which client setting earned too_many_pings.
func TestDiagnosisTooManyPingsServer(t *testing.T) {
	t.Parallel()
	logs := &records{}
	_, addr := testenv.Serve(t, &testenv.Service{}, options.Server(quiet(), options.WithLogger(slog.New(logs)),
		options.WithEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}))...)
	if g := rawPings(t, addr, 200*time.Millisecond); g == nil || g.debug != "too_many_pings" {
		t.Fatalf("GOAWAY %+v, want too_many_pings", g)
	}
	rec := logs.wait(t, "server", "too_many_pings")
	says(t, rec, "grpc.close.initiator", "local")
	says(t, rec, "network.peer.address", "127.0.0.1")
	says(t, rec, "grpc.keepalive.min_time", "10s")
	// The intervals are as the server measured them, which on a busy
	// machine can be anything from microseconds (pings that queued up) to
	// seconds: only their form, and that each broke MinTime, is checked.
	intervals := strings.Fields(rec["grpc.keepalive.peer_ping_intervals"])
	if len(intervals) == 0 {
		t.Error("no grpc.keepalive.peer_ping_intervals")
	}
	for _, iv := range intervals {
		if d, err := time.ParseDuration(iv); err != nil || d >= 10*time.Second {
			t.Errorf("peer ping interval %q: want a duration under MinTime (10s)", iv)
		}
	}
	says(t, rec, "advice", "MinTime (10s)", "at least 11s")
	if rec["network.peer.port"] == "" {
		t.Error("no network.peer.port")
	}
}

// A client with Time 10s against servers it knows enforce MinTime 1m is
// told a Time of at least 1m6s. The server is a raw one that answers the
// client's first keepalive PING (10s into an unanswered call) with GOAWAY
// too_many_pings, as a grpc-go server with MinTime 1m does at the third.
func TestDiagnosisTooManyPingsClient(t *testing.T) {
	t.Parallel()
	logs := &records{}
	lis := listenTCP(t)
	wait := serveRaw(lis, func(_ int, fr *http2.Framer, _ net.Conn) {
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			if p, ok := f.(*http2.PingFrame); ok && !p.IsAck() {
				// GOAWAY, then close, as grpc-go does: the call
				// fails at once.
				_ = fr.WriteGoAway(1, http2.ErrCodeEnhanceYourCalm, []byte("too_many_pings"))
				return
			}
		}
	})
	defer wait()
	cc, err := grpc.NewClient(lis.Addr().String(), options.Client(quiet(), options.WithLogger(slog.New(logs)),
		options.WithClientParameters(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second}),
		options.WithPeerServerPolicy(options.ServerPolicy{Enforcement: keepalive.EnforcementPolicy{MinTime: time.Minute}}))...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	defer cancel()
	// A call the server never answers keeps a stream open, so the client
	// pings after 10s of silence.
	if _, err := testgrpc.NewTestServiceClient(cc).EmptyCall(ctx, &testgrpc.Empty{}); err == nil {
		t.Fatal("the call succeeded against a server that never answers")
	}
	rec := logs.wait(t, "client", "too_many_pings")
	_ = cc.Close()
	says(t, rec, "grpc.close.initiator", "peer")
	says(t, rec, "grpc.keepalive.time", "10s")
	says(t, rec, "advice", "ClientParameters.Time (10s)", "every 20s", "at least 1m6s")
}

// A server whose keepalive finds a dead path says how long it had been
// silent and which Time would keep a middlebox's flow alive.
func TestDiagnosisKeepaliveTimeout(t *testing.T) {
	t.Parallel()
	logs := &records{}
	_, addr := testenv.Serve(t, &testenv.Service{}, options.Server(quiet(), options.WithLogger(slog.New(logs)),
		options.WithServerParameters(keepalive.ServerParameters{Time: time.Second, Timeout: 3 * time.Second}))...)
	proxy, err := faultproxy.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	cc, err := grpc.NewClient(proxy.Addr(), options.Client(quiet())...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	// On a starved machine the server's keepalive may end a healthy
	// connection before the call gets through: the channel reconnects.
	testenv.Eventually(t, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := testgrpc.NewTestServiceClient(cc).EmptyCall(ctx, &testgrpc.Empty{}, grpc.WaitForReady(true)); err != nil {
			return err.Error()
		}
		return ""
	})
	proxy.Blackhole()
	rec := logs.wait(t, "server", "keepalive_timeout")
	says(t, rec, "advice", "went unanswered", "ServerParameters.Time")
	// The silence before the PING is about Time (1s) on a quiet machine;
	// on a starved one grpc-go's keepalive timer can fire while bytes it
	// has not yet accounted for are being read, so only its presence is
	// checked.
	if d, err := time.ParseDuration(rec["grpc.transport.idle"]); err != nil || d <= 0 {
		t.Errorf("grpc.transport.idle = %q, want the silence before the PING", rec["grpc.transport.idle"])
	}
}

// A stream cut at MaxConnectionAge + grace: the server is told to raise the
// grace above the stream's age, the client that the stream must resume.
func TestDiagnosisMaxAgeCutsStream(t *testing.T) {
	t.Parallel()
	logs := &records{}
	svc := &testenv.Service{Started: make(chan string, 1)}
	_, addr := testenv.Serve(t, svc, options.Server(quiet(), options.WithLogger(slog.New(logs)),
		options.WithServerParameters(keepalive.ServerParameters{Time: time.Minute, MaxConnectionAge: 500 * time.Millisecond, MaxConnectionAgeGrace: 500 * time.Millisecond}))...)
	cc, err := grpc.NewClient(addr, options.Client(quiet(), options.WithLogger(slog.New(logs)))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := testenv.StreamUntilCut(t, context.Background(), cc); err == nil {
		t.Fatal("the stream was not cut")
	}
	srv := logs.wait(t, "server", "max_connection_age")
	says(t, srv, "grpc.close.cut_methods", "grpc.testing.TestService/StreamingOutputCall")
	says(t, srv, "advice", "MaxConnectionAgeGrace (500ms)", "MaxConnectionAgeGrace above the longest RPC")
	cl := logs.wait(t, "client", "max_connection_age")
	says(t, cl, "grpc.close.cut_rpcs", "1")
	says(t, cl, "advice", "reconnect and resume")
}

// A reset under a stream right after it began: what is known, no invented
// cause, and nothing to tune (no middlebox idle timeout is that short).
func TestDiagnosisResetWithRPCs(t *testing.T) {
	t.Parallel()
	logs := &records{}
	svc := &testenv.Service{Started: make(chan string, 1)}
	_, addr := testenv.Serve(t, svc, options.Server(quiet())...)
	proxy, err := faultproxy.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	cc, err := grpc.NewClient(proxy.Addr(), options.Client(quiet(), options.WithLogger(slog.New(logs)))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	errc := make(chan error, 1)
	go func() { errc <- testenv.StreamUntilCut(t, context.Background(), cc) }()
	<-svc.Started
	proxy.Reset()
	<-errc
	rec := logs.wait(t, "client", "connection_reset")
	says(t, rec, "advice", "reset the connection", "far too soon after its last frame for any middlebox idle timeout", "No keepalive setting is involved")
}

// A peer that breaks HTTP/2 is named as such.
func TestDiagnosisProtocolError(t *testing.T) {
	t.Parallel()
	logs := &records{}
	_, addr := testenv.Serve(t, &testenv.Service{}, options.Server(quiet(), options.WithLogger(slog.New(logs)))...)
	r := dialRaw(t, addr)
	if err := r.fr.WriteRawFrame(http2.FramePing, 0, 0, make([]byte, 7)); err != nil {
		t.Fatal(err)
	}
	r.readUntilEnd()
	rec := logs.wait(t, "server", "protocol_error")
	says(t, rec, "grpc.protocol.violation", "frame_length")
	says(t, rec, "advice", "malformed frame", "not a gRPC peer")
}

// Normal ends write nothing: a client's Close, GracefulStop, and an idle
// connection closed at MaxConnectionIdle.
func TestNoDiagnosisForNormalEnds(t *testing.T) {
	t.Parallel()
	logs := &records{}
	var closes atomic.Int64
	count := options.WithDiagnosisHandler(func(pulse.Diagnosis) { closes.Add(1) })
	srv, addr := testenv.Serve(t, &testenv.Service{}, options.Server(quiet(), options.WithLogger(slog.New(logs)), count,
		options.WithServerParameters(keepalive.ServerParameters{Time: time.Minute, MaxConnectionIdle: 300 * time.Millisecond}))...)
	dial := func() *grpc.ClientConn {
		cc, err := grpc.NewClient(addr, options.Client(quiet(), options.WithLogger(slog.New(logs)), count)...)
		if err != nil {
			t.Fatal(err)
		}
		testenv.Call(t, cc)
		return cc
	}
	_ = dial().Close()
	idle := dial() // closed by the server at MaxConnectionIdle
	defer idle.Close()
	testenv.Eventually(t, func() string {
		if s := idle.GetState().String(); s != "IDLE" {
			return "idle connection not closed at MaxConnectionIdle: " + s
		}
		return ""
	})
	last := dial()
	srv.GracefulStop()
	_ = last.Close()
	if got := logs.all(); len(got) != 0 || closes.Load() != 0 {
		t.Errorf("normal ends were diagnosed: %v (handler called %d times)", got, closes.Load())
	}
}

// A storm of 200 too_many_pings closes writes at most one record per
// minute, while every diagnosis reaches the handler.
func TestDiagnosisStormIsSampled(t *testing.T) {
	t.Parallel()
	logs := &records{}
	var diagnoses atomic.Int64
	_, addr := testenv.Serve(t, &testenv.Service{}, options.Server(quiet(), options.WithLogger(slog.New(logs)),
		options.WithDiagnosisHandler(func(d pulse.Diagnosis) {
			if d.Reason == pulse.ReasonTooManyPings {
				diagnoses.Add(1)
			}
		}),
		options.WithEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Minute}))...)
	const n = 200
	var wg sync.WaitGroup
	// grpc-go's server waits up to a second for a client to leave after
	// its GOAWAY, so the clients run side by side.
	for range 50 {
		wg.Go(func() {
			for range n / 50 {
				rawPings(t, addr, 0)
			}
		})
	}
	wg.Wait()
	testenv.Eventually(t, func() string {
		if diagnoses.Load() == n {
			return ""
		}
		return fmt.Sprintf("%d diagnoses, want %d", diagnoses.Load(), n)
	})
	if got := logs.all(); len(got) < 1 || len(got) > 2 {
		t.Errorf("%d records for %d closes, want 1 or 2: %v", len(got), n, got)
	}
}
