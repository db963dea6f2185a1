package stats_test

import (
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
)

// Each scenario starts a real server and client on loopback and waits for
// events by polling the recorded metrics; none asserts a duration other than
// a lower bound.

func TestScenarioMaxConnectionAge(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{ServerOpts: []grpc.ServerOption{grpc.KeepaliveParams(keepalive.ServerParameters{
		MaxConnectionAge: time.Second, MaxConnectionAgeGrace: time.Second,
	})}})
	// Connect without a call: on a starved machine a call can outlive
	// the 1s age plus grace, and the scenario is about the connection.
	s.Dial(t, nil, true).Connect()
	s.Server.WaitClose(t, "max_connection_age", "local")
	s.Client.WaitClose(t, "max_connection_age", "peer")
	testenv.Eventually(t, func() string {
		// The drain's two GOAWAY frames are one event.
		if n := s.Client.M.Sum(t, semconv.MetricGoAways, semconv.GoAwayDirection.String("received"),
			semconv.GoAwayReason.String("max_age"), semconv.GoAwayCode.String("NO_ERROR")); n != 1 {
			return s.Client.M.Dump(t, semconv.MetricGoAways)
		}
		if n := s.Server.M.Sum(t, semconv.MetricGoAways, semconv.GoAwayDirection.String("sent"), semconv.GoAwayReason.String("max_age")); n != 1 {
			return s.Server.M.Dump(t, semconv.MetricGoAways)
		}
		return ""
	})
	if n := s.Server.Closes(t, semconv.CloseReason.String("max_connection_age"), semconv.DisconnectError.String("GOAWAY NO_ERROR")); n == 0 {
		t.Errorf("server close lacks grpc.disconnect_error=GOAWAY NO_ERROR:\n%s", s.Server.M.Dump(t, semconv.MetricCloses))
	}
}

func TestScenarioMaxConnectionIdle(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{ServerOpts: []grpc.ServerOption{grpc.KeepaliveParams(keepalive.ServerParameters{
		MaxConnectionIdle: time.Second,
	})}})
	testenv.Call(t, s.Dial(t, nil, true))
	s.Server.WaitClose(t, "max_connection_idle", "local")
	s.Client.WaitClose(t, "max_connection_idle", "peer")
}

// The server's keepalive detects a blackholed path. The client, which has no
// keepalive of its own, truly sees nothing: its transport stays up until the
// application closes it.
func TestScenarioServerKeepaliveTimeout(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{Proxy: true, ServerOpts: []grpc.ServerOption{grpc.KeepaliveParams(keepalive.ServerParameters{
		Time: time.Second, Timeout: time.Second,
	})}})
	cc := s.Dial(t, nil, true)
	testenv.Call(t, cc)
	s.Proxy.Blackhole()
	s.Server.WaitClose(t, "keepalive_timeout", "local")
	if n := s.Server.Closes(t, semconv.DisconnectError.String("connection timed out")); n != 1 {
		t.Errorf("server: want one close with grpc.disconnect_error=connection timed out\n%s", s.Server.M.Dump(t, semconv.MetricCloses))
	}
	if n := s.Server.M.Sum(t, semconv.MetricPings, semconv.PingDirection.String("sent")); n == 0 {
		t.Error("server sent no keepalive ping")
	}
	if n := s.Client.Closes(t); n != 0 {
		t.Fatalf("client saw %d closes through a blackhole; it cannot know", n)
	}
	_ = cc.Close()
	s.Client.WaitClose(t, "client_shutdown", "local")
}

// The client's keepalive (grpc-go raises Time to at least 10s) detects the
// blackholed path; the server, without keepalive, learns nothing until it
// stops.
func TestScenarioClientKeepaliveTimeout(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{Proxy: true, ServerOpts: []grpc.ServerOption{grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
		MinTime: 5 * time.Second, PermitWithoutStream: true,
	})}})
	testenv.Call(t, s.Dial(t, nil, true, grpc.WithKeepaliveParams(keepalive.ClientParameters{
		Time: 10 * time.Second, Timeout: time.Second, PermitWithoutStream: true,
	})))
	s.Proxy.Blackhole()
	s.Client.WaitClose(t, "keepalive_timeout", "local")
	if n := s.Client.Closes(t, semconv.DisconnectError.String("connection timed out")); n != 1 {
		t.Errorf("client: want one close with grpc.disconnect_error=connection timed out\n%s", s.Client.M.Dump(t, semconv.MetricCloses))
	}
	if n := s.Server.Closes(t); n != 0 {
		t.Fatalf("server saw %d closes through a blackhole; it cannot know", n)
	}
	s.Srv.Stop()
	s.Server.WaitClose(t, "server_shutdown", "local")
}

// A keepalive RTT measured through a proxy that delays each direction by d
// is at least 2d.
func TestScenarioKeepaliveRTT(t *testing.T) {
	t.Parallel()
	const delay = 100 * time.Millisecond
	s := start(t, testenv.Setup{Proxy: true, ServerOpts: []grpc.ServerOption{grpc.KeepaliveParams(keepalive.ServerParameters{
		Time: time.Second, Timeout: 10 * time.Second,
	})}})
	testenv.Call(t, s.Dial(t, nil, true))
	s.Proxy.SetDelay(delay)
	// Pings sent before the delay took effect are not measured with it:
	// wait for two samples and assert on the one taken afterwards.
	testenv.Eventually(t, func() string {
		h := s.Server.M.Histogram(t, semconv.MetricRTT)
		if h.Count >= 2 && h.Max >= (2*delay).Seconds() {
			return ""
		}
		return "waiting for a keepalive RTT sample through the delayed proxy"
	})
	if n := s.Client.M.Sum(t, semconv.MetricPings, semconv.PingDirection.String("received")); n == 0 {
		t.Error("client counted no received keepalive ping")
	}
	if n := s.Server.M.Sum(t, semconv.MetricPings, semconv.PingDirection.String("sent")); n < 2 {
		t.Errorf("server counted %d sent keepalive pings, want >= 2", n)
	}
}

func TestScenarioGracefulStop(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{})
	testenv.Call(t, s.Dial(t, nil, true))
	s.Srv.GracefulStop()
	s.Server.WaitClose(t, "server_shutdown", "local")
	s.Client.WaitClose(t, "server_shutdown", "peer")
}

// Stop closes the socket without a GOAWAY. The client sees a clean EOF, or a
// reset when the server's kernel still held unread bytes from it (typically
// the ACK of a BDP ping that crossed the close): Linux answers a close with
// unread data by RST. Both are what a real client observes after Stop.
func TestScenarioStop(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{})
	testenv.Call(t, s.Dial(t, nil, true))
	s.Srv.Stop()
	s.Server.WaitClose(t, "server_shutdown", "local")
	testenv.Eventually(t, func() string {
		eof := s.Client.Closes(t, semconv.CloseReason.String("peer_closed"), semconv.CloseInitiator.String("peer"))
		rst := s.Client.Closes(t, semconv.CloseReason.String("connection_reset"), semconv.CloseInitiator.String("peer"))
		if eof+rst == 1 && s.Client.Closes(t) == 1 {
			return ""
		}
		return s.Client.M.Dump(t, semconv.MetricCloses)
	})
}

func TestScenarioClientClose(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{})
	cc := s.Dial(t, nil, true)
	testenv.Call(t, cc)
	_ = cc.Close()
	s.Client.WaitClose(t, "client_shutdown", "local")
	s.Server.WaitClose(t, "client_shutdown", "peer")
	if n := s.Client.Closes(t, semconv.DisconnectError.String("subchannel shutdown")); n != 1 {
		t.Errorf("client: want grpc.disconnect_error=subchannel shutdown\n%s", s.Client.M.Dump(t, semconv.MetricCloses))
	}
}

func TestScenarioReset(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{Proxy: true})
	testenv.Call(t, s.Dial(t, nil, true))
	s.Proxy.Reset()
	s.Server.WaitClose(t, "connection_reset", "peer")
	s.Client.WaitClose(t, "connection_reset", "peer")
}

// Without the wrapped credentials every open and close is still counted.
func TestScenarioWithoutObserver(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{Unwrapped: true})
	cc := s.Dial(t, nil, false)
	testenv.Call(t, cc)
	testenv.Eventually(t, func() string {
		if s.Server.M.Sum(t, semconv.MetricConnections) == 1 && s.Client.M.Sum(t, semconv.MetricConnections) == 1 {
			return ""
		}
		return "connections gauge did not reach 1 on both sides"
	})
	_ = cc.Close()
	s.Client.WaitClose(t, "unknown", "unknown")
	s.Server.WaitClose(t, "unknown", "unknown")
}
