package probe

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/options"
)

// The probe against what is not grpc-go: brackets checked against the
// configured truth of real C-core servers and of HAProxy and nginx in
// front of grpc-go.

// A C-core server drains for max age with no debug data, sends its drain
// PING with a counter payload, and sends flow-control PINGs after data;
// none of that is grpc-go's wording.
func TestCCoreAgeAndGrace(t *testing.T) {
	t.Parallel()
	addr := startCCore(t, "grpc.max_connection_age_ms=3500", "grpc.max_connection_age_grace_ms=1200")
	rep := runProbe(t, Config{Target: addr, Budget: 9 * time.Second, enforceLadder: []time.Duration{700 * time.Millisecond}})
	if rep.Peer.Implementation != ImplCCore {
		t.Errorf("peer %+v, want c-core", rep.Peer)
	}
	checkBracket(t, rep, FindingMaxConnectionAge, 3500*time.Millisecond)
	checkBracket(t, rep, FindingMaxConnectionGrace, 1200*time.Millisecond)
	// Its keepalive Time is 2h: flow-control PINGs must not pass for it.
	if f := rep.Finding(FindingServerKeepalive); f.Observed {
		t.Errorf("server keepalive %q observed from a server that sends none", f.Result)
	}
}

// C-core closes an idle connection with GOAWAY INTERNAL_ERROR "enter
// idle", checking once per idle period.
func TestCCoreIdle(t *testing.T) {
	t.Parallel()
	addr := startCCore(t, "grpc.max_connection_idle_ms=2600", "grpc.keepalive_time_ms=1700")
	rep := runProbe(t, Config{Target: addr, Budget: 9 * time.Second, enforceLadder: []time.Duration{}})
	checkBracket(t, rep, FindingMaxConnectionIdle, 2600*time.Millisecond)
	checkBracket(t, rep, FindingServerKeepalive, 1700*time.Millisecond)
	if f := rep.Finding(FindingMaxConnectionAge); f.Observed {
		t.Errorf("age %q observed from a server without one", f.Result)
	}
}

// HAProxy in TCP mode closes flows idle for its timeout with a FIN: the
// probe brackets that as the path's idle timeout, and the advice pings
// under it, without calls, where the client can.
func TestHAProxyPathIdle(t *testing.T) {
	t.Parallel()
	truth := options.ServerPolicy{Enforcement: keepalive.EnforcementPolicy{MinTime: 1500 * time.Millisecond, PermitWithoutStream: false}}
	addr := startHAProxy(t, startServer(t, truth), 2700*time.Millisecond, 0)
	rep := runProbe(t, Config{Target: addr, Budget: 9 * time.Second, Client: ImplCCore,
		enforceLadder: []time.Duration{}, idleLadder: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}})
	checkBracket(t, rep, FindingPathIdleTimeout, 2700*time.Millisecond)
	a := rep.Advice
	if !a.Helps || a.ClientParameters.Time >= 2700*time.Millisecond || !a.ClientParameters.PermitWithoutStream {
		t.Errorf("C-core advice %+v does not ping idle connections under the path's 2.7s", a.ClientParameters)
	}
	for _, want := range []string{"grpc.keepalive_time_ms", "grpc.keepalive_permit_without_calls\", 1", "grpc.http2.max_pings_without_data\", 0"} {
		if !strings.Contains(a.Code, want) {
			t.Errorf("C-core advice lacks %s:\n%s", want, a.Code)
		}
	}
	if len(a.ServerMust) == 0 {
		t.Errorf("the advice does not say what the server must allow (it forbids pings without calls)")
	}
	// grpc-go clamps Time to 10s: no grpc-go keepalive helps here, and
	// the advice must say so rather than advise one.
	goAdvice := advise(ImplGo, rep.Peer, *rep.Finding(FindingMinTime), *rep.Finding(FindingPermitWithoutStream),
		*rep.Finding(FindingMaxConnectionAge), *rep.Finding(FindingMaxConnectionGrace), *rep.Finding(FindingMaxConnectionIdle),
		*rep.Finding(FindingServerKeepalive), *rep.Finding(FindingPathIdleTimeout))
	if goAdvice.Helps || !strings.Contains(strings.Join(goAdvice.Reasons, " "), "10s") {
		t.Errorf("grpc-go advice through a 2.7s path: %+v", goAdvice)
	}
}

// nginx terminates HTTP/2: the probe says a proxy answered, reports its
// timers as its own, and does not read its PING answers as a server's.
func TestNginxProxy(t *testing.T) {
	t.Parallel()
	backend := startServer(t, options.ServerPolicy{Enforcement: keepalive.EnforcementPolicy{MinTime: time.Minute}})
	addr := startNginx(t, backend, 2800*time.Millisecond)
	rep := runProbe(t, Config{Target: addr, Budget: 9 * time.Second, enforceLadder: []time.Duration{700 * time.Millisecond}})
	if !rep.Peer.Proxy || rep.Peer.Implementation != ImplNginx {
		t.Fatalf("peer %+v, want the nginx proxy", rep.Peer)
	}
	checkBracket(t, rep, FindingStreamIdleTimeout, 2800*time.Millisecond)
	checkBracket(t, rep, FindingMaxConnectionIdle, 2800*time.Millisecond)
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Answered by a proxy: nginx", "cannot be seen from here", "the hop from the client to nginx"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// A server behind a connection limit: connections beyond it are a limit,
// not "not HTTP/2".
func TestConnectionLimit(t *testing.T) {
	t.Parallel()
	backend := startServer(t, options.DefaultServerPolicy())
	addr := startHAProxy(t, backend, time.Minute, 2)
	rep := runProbe(t, Config{Target: addr, Budget: 9 * time.Second, enforceLadder: []time.Duration{700 * time.Millisecond, 1100 * time.Millisecond}})
	joined := strings.Join(rep.Limits, " ")
	if !strings.Contains(joined, "connection limit") {
		t.Errorf("limits %q do not name a connection limit", rep.Limits)
	}
	for _, f := range rep.Findings {
		for _, e := range f.Evidence {
			if strings.Contains(e, "not an HTTP/2 server") {
				t.Errorf("%s evidence calls a confirmed gRPC server not HTTP/2: %s", f.Name, e)
			}
		}
	}
}

// SIGINT cuts the probe short: it says so and exits non-zero.
func TestInterrupted(t *testing.T) {
	t.Parallel()
	addr := startServer(t, options.DefaultServerPolicy())
	var out, errb bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	progress := &lineWatcher{want: "ping enforcement:", seen: make(chan struct{})}
	go func() {
		<-progress.seen
		cancel()
	}()
	defer cancel()
	code := command2(ctx, []string{"--budget", "30s", addr}, &out, progress)
	if code != ExitInterrupted {
		t.Errorf("exit %d, want %d", code, ExitInterrupted)
	}
	if !strings.Contains(out.String(), "INTERRUPTED") || !strings.Contains(progress.String(), "interrupted") {
		t.Errorf("report does not say it was interrupted:\n%s\n%s", out.String(), progress.String())
	}
	_ = errb
}

// A server that dies during the probe: the probe says so and exits
// non-zero.
func TestServerGone(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	addr := startStoppableServer(t, stop)
	progress := &lineWatcher{want: "ping enforcement:", seen: make(chan struct{})}
	go func() {
		<-progress.seen
		close(stop)
	}()
	var out bytes.Buffer
	code := command2(context.Background(), []string{"--budget", "20s", addr}, &out, progress)
	if code != 1 || !strings.Contains(out.String(), "STOPPED") {
		t.Errorf("exit %d, report:\n%s\nstderr:\n%s", code, out.String(), progress.String())
	}
}
