package ccore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/interceptors"
	"github.com/grpcpulse/grpcpulse/internal/faultproxy"
	"github.com/grpcpulse/grpcpulse/internal/peers/foreign"
	"github.com/grpcpulse/grpcpulse/internal/peers/peertest"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Scenarios between grpcpulse on grpc-go and gRPC C-core 1.51 (Debian's
// python3-grpcio). Each asserts what grpcpulse recorded, read back through
// the OpenTelemetry SDK, what interceptors.Cause says, and what the Python
// program printed. They wait on events and poll; none asserts a duration.
//
// The wire notes come from runs with grpcpulse's frame observer and C-core's
// traces, and from C-core's source; internal/conntrack/ccore.go has the
// whole table.

const (
	streamMethod = "grpc.testing.TestService/StreamingOutputCall"
	unaryMethod  = "grpc.testing.TestService/UnaryCall"
)

// handlerEnds records, for a Go server's handlers that gave up because
// their context ended, what interceptors.Cause said about them.
type handlerEnds struct {
	mu     sync.Mutex
	causes []string
}

func (h *handlerEnds) ended(ctx context.Context, err error) {
	r, ok := interceptors.Cause(ctx, err)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.causes = append(h.causes, fmt.Sprintf("%s %v", r, ok))
}

func (h *handlerEnds) wait(t *testing.T, want string) {
	t.Helper()
	testenv.Eventually(t, func() string {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range h.causes {
			if c == want {
				return ""
			}
		}
		return fmt.Sprintf("no handler ended with Cause %q; got %q", want, h.causes)
	})
}

// holdStream opens a server stream with a request the server never
// answers, and returns the stream's context and the error it finally ends
// with.
func holdStream(t *testing.T, cc *grpc.ClientConn) (context.Context, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	t.Cleanup(cancel)
	st, err := testgrpc.NewTestServiceClient(cc).StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: -1}},
	}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatalf("StreamingOutputCall: %v", err)
	}
	for err == nil {
		_, err = st.Recv()
	}
	return ctx, err
}

// A C-core client pings every second, with a stream open, against a Go
// server whose enforcement policy allows one ping every 5 s.
//
// On the wire: C-core sends a keepalive PING (payload a counter) every
// grpc.keepalive_time_ms; grpc.http2.max_pings_without_data=0 lifts its own
// limit of two PINGs between data frames. The Go server's third strike
// answers with GOAWAY ENHANCE_YOUR_CALM "too_many_pings" and closes; C-core
// logs "Received a GOAWAY with error code ENHANCE_YOUR_CALM and debug data
// equal to \"too_many_pings\"" and doubles its keepalive time; its stream
// ends UNAVAILABLE.
func TestCCoreClientPingsTooFast(t *testing.T) {
	t.Parallel()
	ends := &handlerEnds{}
	srv, addr := peertest.GoServer(t, &testenv.Service{Ended: ends.ended}, options.WithEnforcementPolicy(keepalive.EnforcementPolicy{
		MinTime: 5 * time.Second, PermitWithoutStream: true,
	}))
	py := foreign.StartCCoreClient(t, foreign.CCoreClientConfig{Target: addr, Call: foreign.CallStream, Args: foreign.Args{
		"grpc.keepalive_time_ms": 1000, "grpc.keepalive_permit_without_calls": 1, "grpc.http2.max_pings_without_data": 0,
	}})
	st := py.WaitEvent(t, "status", nil)
	if st.CodeName != "UNAVAILABLE" {
		t.Errorf("C-core stream status = %s %q, want UNAVAILABLE", st.CodeName, st.Details)
	}
	if !strings.Contains(py.Stderr(), `debug data equal to "too_many_pings"`) {
		t.Errorf("C-core did not log the too_many_pings GOAWAY")
	}
	py.WaitExit(t)

	srv.WaitClose(t, "too_many_pings", "local")
	testenv.Eventually(t, func() string {
		if srv.Closes(t) == 1 && srv.Closes(t, semconv.CloseReason.String("too_many_pings"), semconv.CloseInitiator.String("local"),
			semconv.DisconnectError.String("GOAWAY ENHANCE_YOUR_CALM"), semconv.CloseActiveRPCs.Bool(true)) == 1 {
			return ""
		}
		return "want exactly one close: too_many_pings, local, GOAWAY ENHANCE_YOUR_CALM, active_rpcs=true\n" + srv.Dump(t)
	})
	srv.WaitFailure(t, "too_many_pings", streamMethod, "CANCELLED")
	ends.wait(t, "too_many_pings true")
	if n := srv.M.Sum(t, semconv.MetricPings, semconv.PingDirection.String("received")); n < 4 {
		t.Errorf("server counted %d received keepalive pings, want >= 4\n%s", n, srv.Dump(t))
	}
	t.Logf("%s\nconnection span GOAWAY events: %q", srv.Dump(t), srv.GoAwayEvents())
}

// cCoreServerCut runs a Go client's stream against a C-core server until
// the server's transport cuts it, and checks grpcpulse's verdict: the
// close is server_drain (C-core's drain GOAWAY has no debug data, so the
// wire does not say why), initiator peer; the stream, which got C-core's status
// wantText, is a transport failure with that reason, and Cause says so.
func cCoreServerCut(t *testing.T, py *foreign.Server, cut func(), wantText string) {
	t.Helper()
	cl, cc := peertest.GoClient(t, py.Addr)
	go func() {
		py.WaitEvent(t, "call", nil)
		cut()
	}()
	ctx, err := holdStream(t, cc)
	t.Logf("Go client application got: %v", err)
	if status.Code(err) != codes.Unavailable || status.Convert(err).Message() != wantText {
		t.Errorf("stream error = %v, want Unavailable %q", err, wantText)
	}
	if r, ok := interceptors.Cause(ctx, err); !ok || r != pulse.ReasonServerDrain {
		t.Errorf("Cause(stream error) = %q, %v; want %q", r, ok, pulse.ReasonServerDrain)
	}
	py.WaitEvent(t, "cancelled", nil)

	cl.WaitClose(t, "server_drain", "peer")
	cl.WaitFailure(t, "server_drain", streamMethod, "UNAVAILABLE")
	testenv.Eventually(t, func() string {
		if cl.Closes(t) == 1 && cl.Closes(t, semconv.CloseReason.String("server_drain"), semconv.CloseInitiator.String("peer"),
			semconv.DisconnectError.String("GOAWAY NO_ERROR")) == 1 {
			return ""
		}
		return "want exactly one close: server_drain, peer, GOAWAY NO_ERROR\n" + cl.Dump(t)
	})
	if n := cl.Failures(t); n != 1 {
		t.Errorf("client counted %d transport failures, want 1 (the stream)\n%s", n, cl.Dump(t))
	}
	// The drain is one event, whatever its frames: GOAWAY 2^31-1, PING,
	// GOAWAY with the last stream id, all NO_ERROR without debug data.
	if n := cl.GoAways(t, semconv.GoAwayDirection.String("received"), semconv.GoAwayCode.String("NO_ERROR"),
		semconv.GoAwayReason.String("none")); n != 1 {
		t.Errorf("client: %d GOAWAY NO_ERROR none received, want 1 (one drain)\n%s", n, cl.Dump(t))
	}
	t.Logf("%s\nconnection span GOAWAY events: %q", cl.Dump(t), cl.GoAwayEvents())
}

// A C-core server with grpc.max_connection_age_ms drains the connection a
// Go client holds a server stream on, and cuts the stream after the grace.
//
// On the wire: after the age (+-10% jitter) C-core sends GOAWAY NO_ERROR
// 2^31-1 with empty debug data (the max-age filter's "max_age" error is not
// put on the wire) and a PING; on its ACK, GOAWAY NO_ERROR with the last
// stream id, again empty. After grpc.max_connection_age_grace_ms it closes
// the transport with the idle filter's "enter idle" error: the open stream
// gets trailers UNAVAILABLE "enter idle" and RST_STREAM NO_ERROR, then the
// socket closes. The status arrives as ordinary trailers: grpcpulse counts
// the stream because the status is C-core's teardown text on a transport
// that had received a GOAWAY.
func TestCCoreServerMaxConnectionAge(t *testing.T) {
	t.Parallel()
	py := foreign.StartCCoreServer(t, foreign.CCoreServerConfig{Args: foreign.Args{
		"grpc.max_connection_age_ms": 2000, "grpc.max_connection_age_grace_ms": 1000,
	}})
	cCoreServerCut(t, py, func() {}, "enter idle")
}

// A C-core server stops (Python's server.stop(grace)) under a Go client's
// stream.
//
// On the wire: grpc_server_shutdown_and_notify starts the same drain as max
// age (GOAWAY NO_ERROR 2^31-1, empty, and a PING); when the grace ends (at
// once for stop(0)) grpc_server_cancel_all_calls closes the transport: if
// the final drain GOAWAY is not yet out, a GOAWAY INTERNAL_ERROR "Cancelling
// all calls" comes first; then trailers UNAVAILABLE "Cancelling all calls"
// and RST_STREAM NO_ERROR, and the socket closes (or the Go client closes
// it, its draining transport having no stream left).
func TestCCoreServerShutdown(t *testing.T) {
	t.Parallel()
	for _, grace := range []time.Duration{0, time.Second} {
		t.Run(fmt.Sprintf("grace=%v", grace), func(t *testing.T) {
			t.Parallel()
			py := foreign.StartCCoreServer(t, foreign.CCoreServerConfig{})
			cCoreServerCut(t, py, func() { py.Shutdown(t, grace) }, "Cancelling all calls")
			py.WaitEvent(t, "stopped", nil)
		})
	}
}

// A C-core server's application fails a call with UNAVAILABLE while the
// server drains: the server's answer, not the transport's, although the
// transport was going away and ends right after (C-core closes a drained
// connection as soon as its last stream ends). grpcpulse must not count it.
func TestCCoreApplicationUnavailableIsNotTransport(t *testing.T) {
	t.Parallel()
	py := foreign.StartCCoreServer(t, foreign.CCoreServerConfig{})
	cl, cc := peertest.GoClient(t, py.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := testgrpc.NewTestServiceClient(cc).UnaryCall(ctx, &testgrpc.SimpleRequest{}, grpc.WaitForReady(true))
		errc <- err
	}()
	py.WaitEvent(t, "call", nil)
	py.Shutdown(t, 30*time.Second) // the drain starts while the handler runs
	testenv.Eventually(t, func() string {
		if cl.GoAways(t, semconv.GoAwayDirection.String("received")) > 0 {
			return ""
		}
		return "no GOAWAY received yet\n" + cl.Dump(t)
	})
	py.Release(t)
	var err error
	select {
	case err = <-errc:
	case <-time.After(testenv.Patience):
		t.Fatalf("UnaryCall did not return")
	}
	if status.Code(err) != codes.Unavailable || status.Convert(err).Message() != "overloaded" {
		t.Fatalf("UnaryCall = %v, want the server's Unavailable \"overloaded\"", err)
	}
	if r, ok := interceptors.Cause(ctx, err); ok {
		t.Errorf("Cause(%v) = %q, want no transport cause", err, r)
	}
	cl.WaitClose(t, "server_drain", "peer")
	if n := cl.Failures(t); n != 0 {
		t.Errorf("client counted %d transport failures, want 0\n%s", n, cl.Dump(t))
	}
	t.Logf("%s", cl.Dump(t))
}

// A C-core server with grpc.max_connection_idle_ms closes a Go client's
// idle connection.
//
// On the wire (1.51): no drain; one GOAWAY INTERNAL_ERROR with the last
// stream id and the idle filter's error as debug data, "enter idle" (later
// releases: "connection idle"), then the socket closes. The debug data names
// the idle close, so grpcpulse records max_connection_idle.
func TestCCoreServerMaxConnectionIdle(t *testing.T) {
	t.Parallel()
	py := foreign.StartCCoreServer(t, foreign.CCoreServerConfig{Args: foreign.Args{"grpc.max_connection_idle_ms": 1000}})
	cl, cc := peertest.GoClient(t, py.Addr)
	if _, err := testgrpc.NewTestServiceClient(cc).EmptyCall(context.Background(), &testgrpc.Empty{}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("EmptyCall: %v", err)
	}
	cl.WaitClose(t, "max_connection_idle", "peer")
	testenv.Eventually(t, func() string {
		if cl.Closes(t) == 1 && cl.Closes(t, semconv.CloseReason.String("max_connection_idle"), semconv.CloseInitiator.String("peer"),
			semconv.DisconnectError.String("GOAWAY INTERNAL_ERROR"), semconv.CloseActiveRPCs.Bool(false)) == 1 {
			return ""
		}
		return "want exactly one close: max_connection_idle, peer, GOAWAY INTERNAL_ERROR, active_rpcs=false\n" + cl.Dump(t)
	})
	if n := cl.GoAways(t, semconv.GoAwayDirection.String("received"), semconv.GoAwayReason.String("max_idle")); n != 1 {
		t.Errorf("client: %d GOAWAY max_idle received, want 1\n%s", n, cl.Dump(t))
	}
	if n := cl.Failures(t); n != 0 {
		t.Errorf("idle connection: %d transport failures\n%s", n, cl.Dump(t))
	}
}

// A flow between a Go side and a C-core peer is blackholed (a NAT or load
// balancer dropped it): nothing the peer does reaches the Go side, which
// only its own keepalive can catch.
//
// Go client, C-core server: the client's keepalive (Time 10 s, the floor
// grpc-go clamps to, Timeout 1 s) times out with a stream open. The C-core
// server is told to accept those pings (grpc.http2.min_ping_interval_
// without_data_ms, grpc.http2.max_ping_strikes=0).
//
// C-core client, Go server: the server's keepalive (Time 2 s, Timeout 1 s)
// times out under the client's stream.
func TestCCoreBlackholed(t *testing.T) {
	t.Parallel()
	t.Run("C-core server", func(t *testing.T) {
		t.Parallel()
		py := foreign.StartCCoreServer(t, foreign.CCoreServerConfig{Args: foreign.Args{
			"grpc.http2.min_ping_interval_without_data_ms": 1000, "grpc.http2.max_ping_strikes": 0,
		}})
		px := proxy(t, py.Addr)
		cl, cc := peertest.GoClient(t, px.Addr(), options.WithClientParameters(keepalive.ClientParameters{
			Time: 10 * time.Second, Timeout: time.Second,
		}))
		go func() {
			py.WaitEvent(t, "call", nil)
			px.Blackhole()
		}()
		ctx, err := holdStream(t, cc)
		t.Logf("Go client application got: %v", err)
		if r, ok := interceptors.Cause(ctx, err); !ok || r != pulse.ReasonKeepaliveTimeout {
			t.Errorf("Cause(%v) = %q, %v; want %q", err, r, ok, pulse.ReasonKeepaliveTimeout)
		}
		cl.WaitClose(t, "keepalive_timeout", "local")
		cl.WaitFailure(t, "keepalive_timeout", streamMethod, "UNAVAILABLE")
		if n := cl.Closes(t); n != 1 {
			t.Errorf("client recorded %d closes, want 1\n%s", n, cl.Dump(t))
		}
	})
	t.Run("C-core client", func(t *testing.T) {
		t.Parallel()
		ends := &handlerEnds{}
		svc := &testenv.Service{Ended: ends.ended, Started: make(chan string, 1)}
		srv, addr := peertest.GoServer(t, svc, options.WithServerParameters(keepalive.ServerParameters{
			Time: 2 * time.Second, Timeout: time.Second,
		}))
		px := proxy(t, addr)
		foreign.StartCCoreClient(t, foreign.CCoreClientConfig{Target: px.Addr(), Call: foreign.CallStream})
		select {
		case <-svc.Started:
		case <-time.After(testenv.Patience):
			t.Fatalf("the C-core client's stream did not reach the server")
		}
		px.Blackhole()
		srv.WaitClose(t, "keepalive_timeout", "local")
		srv.WaitFailure(t, "keepalive_timeout", streamMethod, "CANCELLED")
		ends.wait(t, "keepalive_timeout true")
		if n := srv.Closes(t); n != 1 {
			t.Errorf("server recorded %d closes, want 1\n%s", n, srv.Dump(t))
		}
	})
}

func proxy(t *testing.T, upstream string) *faultproxy.Proxy {
	t.Helper()
	px, err := faultproxy.New(upstream)
	if err != nil {
		t.Fatalf("faultproxy: %v", err)
	}
	t.Cleanup(func() { _ = px.Close() })
	return px
}
