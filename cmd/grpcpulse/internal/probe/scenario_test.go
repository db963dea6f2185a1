package probe

import (
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/faultproxy"
	"github.com/grpcpulse/grpcpulse/options"
)

// Scenario tests run real grpc-go servers with small policies and check
// that the probe's brackets contain the true values and that its advice
// passes options.Validate against the true policy. They run in parallel:
// each mostly waits for its budget.

// checkAdvice fails the test if the advised client has an Error finding
// against the server's true policy.
func checkAdvice(t *testing.T, rep *Report, truth options.ServerPolicy) {
	t.Helper()
	if err := options.Validate(options.GoClient(rep.Advice.ClientParameters), truth).Err(); err != nil {
		t.Errorf("advice %+v fails against the true policy: %v", rep.Advice.ClientParameters, err)
	}
	if rep.Advice.ValidateErrors != 0 {
		t.Errorf("advice has %d Validate errors against the measured policy: %v", rep.Advice.ValidateErrors, rep.Advice.Validate)
	}
}

func checkBracket(t *testing.T, rep *Report, name string, truth time.Duration) {
	t.Helper()
	f := rep.Finding(name)
	if f == nil || !f.Observed {
		t.Errorf("%s: not observed", name)
		return
	}
	if !f.Contains(truth) {
		t.Errorf("%s: bracket %q (%v, %v] does not contain the true %v", name, f.Result, f.Low, f.High, truth)
	}
	if f.High == 0 {
		t.Errorf("%s: bracket %q is open above", name, f.Result)
	}
}

// checkPeer fails the test unless the probe named impl as the peer.
func checkPeer(t *testing.T, rep *Report, impl string) {
	t.Helper()
	if rep.Peer.Implementation != impl {
		t.Errorf("peer %+v, want %s", rep.Peer, impl)
	}
}

// checkUnobserved fails the test if the finding name was observed from a
// peer (from) that has no such limit or timer.
func checkUnobserved(t *testing.T, rep *Report, name, from string) {
	t.Helper()
	if f := rep.Finding(name); f.Observed {
		t.Errorf("%s %q observed from %s", name, f.Result, from)
	}
}

func checkPermit(t *testing.T, rep *Report, want bool) {
	t.Helper()
	f := rep.Finding(FindingPermitWithoutStream)
	if f.Value == nil || *f.Value != want {
		t.Errorf("PermitWithoutStream: %s, want %t", f.Result, want)
	}
}

func TestEnforcementPermitWithoutStream(t *testing.T) {
	t.Parallel()
	truth := options.ServerPolicy{Enforcement: keepalive.EnforcementPolicy{MinTime: 2 * time.Second, PermitWithoutStream: true}}
	rep := runProbe(t, Config{Target: startServer(t, truth), Budget: 14 * time.Second})
	checkBracket(t, rep, FindingMinTime, 2*time.Second)
	checkPermit(t, rep, true)
	checkAdvice(t, rep, truth)
	// At most four pings per probing connection, three on the control one.
	if max := 4*(rep.Connections-1) + 3; rep.PingsSent > max {
		t.Errorf("%d pings sent over %d connections, more than %d", rep.PingsSent, rep.Connections, max)
	}
}

func TestEnforcementNoPingsWithoutStream(t *testing.T) {
	t.Parallel()
	truth := options.ServerPolicy{Enforcement: keepalive.EnforcementPolicy{MinTime: 3 * time.Second, PermitWithoutStream: false}}
	rep := runProbe(t, Config{Target: startServer(t, truth), Budget: 18 * time.Second})
	checkBracket(t, rep, FindingMinTime, 3*time.Second)
	checkPermit(t, rep, false)
	checkAdvice(t, rep, truth)
	if rep.Advice.ClientParameters.PermitWithoutStream {
		t.Error("advice permits pings without streams against a server that forbids them")
	}
}

// A server without the health service, probed with a user-named method
// that waits for its request.
func TestStreamMethod(t *testing.T) {
	t.Parallel()
	truth := options.ServerPolicy{Enforcement: keepalive.EnforcementPolicy{MinTime: 2 * time.Second, PermitWithoutStream: false}}
	addr := startBareServer(t, truth)
	rep := runProbe(t, Config{Target: addr, Budget: 14 * time.Second, StreamMethod: "probe.test.Quiet/Hold"})
	if rep.GRPC.HeldStreamNote != "" {
		t.Fatalf("held stream not available: %s", rep.GRPC.HeldStreamNote)
	}
	checkBracket(t, rep, FindingMinTime, 2*time.Second)
	checkPermit(t, rep, false)
	checkAdvice(t, rep, truth)
}

// Without the health service and without --stream-method, the probe says
// what it could not hold and still brackets MinTime from connections
// without RPCs, which a permissive server judges by MinTime too.
func TestNoHeldStream(t *testing.T) {
	t.Parallel()
	truth := options.ServerPolicy{Enforcement: keepalive.EnforcementPolicy{MinTime: 2 * time.Second, PermitWithoutStream: true}}
	rep := runProbe(t, Config{Target: startBareServer(t, truth), Budget: 14 * time.Second})
	if rep.GRPC.HeldStreamNote == "" || len(rep.Open) == 0 {
		t.Errorf("no note on the missing held stream: %+v, open %v", rep.GRPC, rep.Open)
	}
	if rep.GRPC.Health == "SERVING" {
		t.Errorf("health = %q from a server without the health service", rep.GRPC.Health)
	}
	checkBracket(t, rep, FindingMinTime, 2*time.Second)
	checkPermit(t, rep, true)
	checkAdvice(t, rep, truth)
}

func TestConnectionAgeAndIdle(t *testing.T) {
	t.Parallel()
	truth := options.ServerPolicy{
		Parameters: keepalive.ServerParameters{
			MaxConnectionAge: 4 * time.Second, MaxConnectionAgeGrace: 1500 * time.Millisecond, MaxConnectionIdle: 2 * time.Second,
		},
		Enforcement: keepalive.EnforcementPolicy{MinTime: 2 * time.Second, PermitWithoutStream: true},
	}
	rep := runProbe(t, Config{Target: startServer(t, truth), Budget: 9 * time.Second,
		enforceLadder: []time.Duration{}})
	checkBracket(t, rep, FindingMaxConnectionAge, 4*time.Second)
	checkBracket(t, rep, FindingMaxConnectionGrace, 1500*time.Millisecond)
	checkBracket(t, rep, FindingMaxConnectionIdle, 2*time.Second)
	checkAdvice(t, rep, truth)
}

// A load balancer that forgets flows after 3 s of silence, between the
// probe and the server.
func TestPathIdleTimeout(t *testing.T) {
	t.Parallel()
	truth := options.ServerPolicy{Enforcement: keepalive.EnforcementPolicy{MinTime: 2 * time.Second, PermitWithoutStream: true}}
	px, err := faultproxy.New(startServer(t, truth))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	px.SetIdleDrop(3 * time.Second)
	rep := runProbe(t, Config{Target: px.Addr(), Budget: 12 * time.Second,
		idleLadder: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}})
	checkBracket(t, rep, FindingPathIdleTimeout, 3*time.Second)
	if px.IdleDropped() == 0 {
		t.Error("the proxy dropped no flow")
	}
	checkAdvice(t, rep, truth)
}

// grpcpulse's DefaultServerPolicy: the advice is DefaultClientParameters,
// which the preset is documented to accept.
func TestDefaultServerPolicy(t *testing.T) {
	t.Parallel()
	truth := options.DefaultServerPolicy()
	rep := runProbe(t, Config{Target: startServer(t, truth), Budget: 24 * time.Second,
		enforceLadder: []time.Duration{1600 * time.Millisecond, 3600 * time.Millisecond, 5500 * time.Millisecond}})
	checkBracket(t, rep, FindingMinTime, 5*time.Second)
	checkPermit(t, rep, true)
	checkAdvice(t, rep, truth)
	if got, want := rep.Advice.ClientParameters, options.DefaultClientParameters(); got != want {
		t.Errorf("advice %+v, want DefaultClientParameters %+v", got, want)
	}
}

// startBareServer runs a grpc-go server without the health service, with
// one bidirectional method, probe.test.Quiet/Hold, that writes nothing
// until the client goes away.
func startBareServer(t *testing.T, policy options.ServerPolicy) string {
	t.Helper()
	desc := grpc.ServiceDesc{
		ServiceName: "probe.test.Quiet",
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{
			StreamName:    "Hold",
			ServerStreams: true,
			ClientStreams: true,
			Handler: func(_ any, stream grpc.ServerStream) error {
				<-stream.Context().Done()
				return nil
			},
		}},
	}
	return startServerWith(t, policy, func(s *grpc.Server) { s.RegisterService(&desc, struct{}{}) })
}
