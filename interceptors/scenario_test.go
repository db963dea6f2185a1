package interceptors_test

import (
	"context"
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
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// The scenarios run real grpc-go servers and clients with grpcpulse's stats
// handlers, wrapped credentials and interceptors on both sides, provoke a
// transport end with the RPC in flight, and check what the application got
// and what each side recorded. They wait on events or poll the recorded
// metrics; none asserts a duration.

const (
	streamMethod = "grpc.testing.TestService/StreamingOutputCall"
	unaryMethod  = "grpc.testing.TestService/UnaryCall"
)

func start(t *testing.T, cfg testenv.Setup) *testenv.Scenario {
	t.Helper()
	cfg.Interceptors = true
	s := testenv.Start(t, cfg)
	s.Svc.Started = make(chan string, 16)
	return s
}

// serverCauses makes the scenario's handlers report, when their context
// ends, what Cause says about it.
func serverCauses(s *testenv.Scenario) <-chan string {
	causes := make(chan string, 16)
	s.Svc.Ended = func(ctx context.Context, err error) {
		r, ok := interceptors.Cause(ctx, err)
		if !ok {
			causes <- "(none)"
			return
		}
		causes <- r.String()
	}
	return causes
}

// checkServerCause asserts what Cause told the server's handler.
func checkServerCause(t *testing.T, causes <-chan string, want pulse.Reason) {
	t.Helper()
	select {
	case got := <-causes:
		t.Logf("server handler: Cause = %s", got)
		if got != want.String() {
			t.Errorf("Cause(handler context) = %q, want %q", got, want)
		}
	case <-time.After(testenv.Patience):
		t.Fatal("handler did not end")
	}
}

// blockingStream starts a server-streaming RPC whose handler blocks until its
// context ends, and waits until the handler runs. recv returns the stream's
// final error.
func blockingStream(t *testing.T, s *testenv.Scenario, cc *grpc.ClientConn) (recv func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	t.Cleanup(cancel)
	st, err := testgrpc.NewTestServiceClient(cc).StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: -1}},
	}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatalf("StreamingOutputCall: %v", err)
	}
	waitStarted(t, s)
	return func() error {
		for {
			if _, err := st.Recv(); err != nil {
				return err
			}
		}
	}
}

// blockingUnary starts a unary RPC whose handler waits until its context
// ends and waits until the handler runs. The RPC's error arrives on the
// returned channel.
func blockingUnary(t *testing.T, s *testenv.Scenario, cc *grpc.ClientConn, delay time.Duration) <-chan error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	t.Cleanup(cancel)
	errc := make(chan error, 1)
	go func() {
		_, err := testgrpc.NewTestServiceClient(cc).UnaryCall(ctx, &testgrpc.SimpleRequest{
			ResponseSize: int32(delay / time.Microsecond),
		}, grpc.WaitForReady(true))
		errc <- err
	}()
	waitStarted(t, s)
	return errc
}

func waitStarted(t *testing.T, s *testenv.Scenario) {
	t.Helper()
	select {
	case <-s.Svc.Started:
	case <-time.After(testenv.Patience):
		t.Fatal("handler did not start")
	}
}

func receive(t *testing.T, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(testenv.Patience):
		t.Fatal("RPC did not end")
		return nil
	}
}

// checkClientError asserts that the application got Unavailable and that
// Cause names want.
func checkClientError(t *testing.T, err error, want pulse.Reason) {
	t.Helper()
	t.Logf("client application got: %v", err)
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("client error = %v, want Unavailable", err)
	}
	if got, ok := interceptors.Cause(context.Background(), err); !ok || got != want {
		t.Fatalf("Cause(client error) = %q, %v; want %q", got, ok, want)
	}
}

// A server-streaming RPC outlives MaxConnectionAge + grace: the server cuts
// it, and both sides attribute the failure to max_connection_age.
func TestMaxConnectionAgeCutsStream(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{ServerOpts: []grpc.ServerOption{grpc.KeepaliveParams(keepalive.ServerParameters{
		MaxConnectionAge: 500 * time.Millisecond, MaxConnectionAgeGrace: 500 * time.Millisecond,
	})}})
	causes := serverCauses(s)
	recv := blockingStream(t, s, s.Dial(t, nil, true))
	checkClientError(t, recv(), pulse.ReasonMaxConnectionAge)
	checkServerCause(t, causes, pulse.ReasonMaxConnectionAge)
	s.Client.WaitFailure(t, "max_connection_age", streamMethod, "UNAVAILABLE")
	s.Server.WaitFailure(t, "max_connection_age", streamMethod, "CANCELLED")
	// The stream was in flight when each side's transport ended.
	for _, e := range []*testenv.End{s.Server, s.Client} {
		testenv.Eventually(t, func() string {
			if e.Closes(t, semconv.CloseReason.String("max_connection_age"), semconv.CloseActiveRPCs.Bool(true)) == 1 {
				return ""
			}
			return e.Name + ": no max_connection_age close with active RPCs\n" + e.M.Dump(t, semconv.MetricCloses)
		})
	}
}

// A unary RPC is in flight when the network silently drops the flow. The
// server's keepalive notices first and fails the handler; the client's
// keepalive (Time is clamped to at least 10 s) fails the call later.
func TestKeepaliveTimeoutFailsUnary(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{Proxy: true, ServerOpts: []grpc.ServerOption{
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Second, Timeout: time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
	}})
	cc := s.Dial(t, nil, true, grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: time.Second}))
	causes := serverCauses(s)
	errc := blockingUnary(t, s, cc, 10*time.Minute)
	s.Proxy.Blackhole()
	checkServerCause(t, causes, pulse.ReasonKeepaliveTimeout)
	s.Server.WaitFailure(t, "keepalive_timeout", unaryMethod, "CANCELLED")
	checkClientError(t, receive(t, errc), pulse.ReasonKeepaliveTimeout)
	s.Client.WaitFailure(t, "keepalive_timeout", unaryMethod, "UNAVAILABLE")
}

// A well-behaved client's connection carries an open stream when PINGs are
// injected into it: the server, at grpc's default enforcement, answers with
// GOAWAY ENHANCE_YOUR_CALM "too_many_pings" and closes, cutting the stream.
func TestTooManyPingsCutsStream(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{Proxy: true})
	recv := blockingStream(t, s, s.Dial(t, nil, true))
	// The server strikes every ping sooner than MinTime after the last
	// and sends the GOAWAY after the third strike; the first may only
	// reset the strikes.
	s.Proxy.InjectPings(6)
	checkClientError(t, recv(), pulse.ReasonTooManyPings)
	s.Client.WaitFailure(t, "too_many_pings", streamMethod, "UNAVAILABLE")
	s.Server.WaitFailure(t, "too_many_pings", streamMethod, "CANCELLED")
}

// GracefulStop lets a short RPC in flight finish: it succeeds and nothing is
// counted as a failure on either side.
func TestGracefulStopLetsRPCFinish(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{})
	errc := blockingUnary(t, s, s.Dial(t, nil, true), 300*time.Millisecond)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.Srv.GracefulStop()
	}()
	if err := receive(t, errc); err != nil {
		t.Fatalf("RPC during GracefulStop: %v", err)
	}
	<-stopped
	s.Server.WaitClose(t, "server_shutdown", "local")
	s.Client.WaitClose(t, "server_shutdown", "peer")
	// Both interceptors classified the call before it returned to the
	// client: the server's before it sent the status, the client's
	// before UnaryCall returned.
	for _, e := range []*testenv.End{s.Server, s.Client} {
		if n := e.Failures(t); n != 0 {
			t.Errorf("%s counted %d transport failures:\n%s", e.Name, n, e.M.Dump(t, semconv.MetricTransportFailures))
		}
	}
}

// Stop closes the server's transports with no GOAWAY: the server's handler
// fails with server_shutdown; the client sees the connection end as EOF or,
// when unread bytes were still in the server's socket, as a reset. The
// client's cause is whichever of the two its transport saw.
func TestStopFailsRPC(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{})
	recv := blockingStream(t, s, s.Dial(t, nil, true))
	s.Srv.Stop()
	err := recv()
	t.Logf("client application got: %v", err)
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("client error = %v, want Unavailable", err)
	}
	cause, ok := interceptors.Cause(context.Background(), err)
	if !ok || (cause != pulse.ReasonPeerClosed && cause != pulse.ReasonConnectionReset) {
		t.Fatalf("Cause = %q, %v; want peer_closed or connection_reset", cause, ok)
	}
	s.Client.WaitClose(t, cause.String(), "peer")
	s.Client.WaitFailure(t, cause.String(), streamMethod, "UNAVAILABLE")
	s.Server.WaitFailure(t, "server_shutdown", streamMethod, "CANCELLED")
}

// The connection is reset under an open stream: both sides attribute the
// failure to connection_reset.
func TestResetFailsStream(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{Proxy: true})
	recv := blockingStream(t, s, s.Dial(t, nil, true))
	s.Proxy.Reset()
	checkClientError(t, recv(), pulse.ReasonConnectionReset)
	s.Client.WaitFailure(t, "connection_reset", streamMethod, "UNAVAILABLE")
	s.Server.WaitFailure(t, "connection_reset", streamMethod, "CANCELLED")
}

// An Unavailable that the server's application returns is the server's
// answer, not a transport failure, even when it arrives on a connection
// that is draining.
func TestApplicationUnavailableIsNotTransport(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{ServerOpts: []grpc.ServerOption{grpc.KeepaliveParams(keepalive.ServerParameters{
		MaxConnectionAge: 200 * time.Millisecond, MaxConnectionAgeGrace: time.Minute,
	})}})
	cc := s.Dial(t, nil, true)
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := testgrpc.NewTestServiceClient(cc).UnaryCall(ctx, &testgrpc.SimpleRequest{
			ResponseSize:   int32(time.Second / time.Microsecond),
			ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.Unavailable), Message: "overloaded"},
		}, grpc.WaitForReady(true))
		errc <- err
	}()
	waitStarted(t, s)
	// The drain starts while the handler still runs.
	testenv.Eventually(t, func() string {
		if s.Client.M.Sum(t, semconv.MetricGoAways, semconv.GoAwayReason.String("max_age")) > 0 {
			return ""
		}
		return "no max_age GOAWAY yet"
	})
	err := receive(t, errc)
	if status.Code(err) != codes.Unavailable || status.Convert(err).Message() != "overloaded" {
		t.Fatalf("UnaryCall = %v, want the server's Unavailable", err)
	}
	if c, ok := interceptors.Cause(ctx, err); ok {
		t.Errorf("Cause(%v) = %q, want no transport cause", err, c)
	}
	for _, e := range []*testenv.End{s.Server, s.Client} {
		if n := e.Failures(t); n != 0 {
			t.Errorf("%s counted %d transport failures:\n%s", e.Name, n, e.M.Dump(t, semconv.MetricTransportFailures))
		}
	}
}
