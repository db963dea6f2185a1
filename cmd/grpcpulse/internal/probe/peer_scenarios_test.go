package probe

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/peers/foreign"
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
	addr := foreign.StartCCoreServer(t, foreign.CCoreServerConfig{Args: foreign.Args{
		"grpc.max_connection_age_ms": 3500, "grpc.max_connection_age_grace_ms": 1200,
	}}).Addr
	rep := runProbe(t, Config{Target: addr, Budget: 9 * time.Second, enforceLadder: []time.Duration{700 * time.Millisecond}})
	checkPeer(t, rep, ImplCCore)
	checkBracket(t, rep, FindingMaxConnectionAge, 3500*time.Millisecond)
	checkBracket(t, rep, FindingMaxConnectionGrace, 1200*time.Millisecond)
	// Its keepalive Time is 2h: flow-control PINGs must not pass for it.
	checkUnobserved(t, rep, FindingServerKeepalive, "a server that sends none")
	// Connections without streams drained at an age jittered down are
	// the age, not an idle limit it does not have.
	checkUnobserved(t, rep, FindingMaxConnectionIdle, "a server without one")
}

// C-core closes an idle connection with GOAWAY INTERNAL_ERROR "enter
// idle", checking once per idle period.
func TestCCoreIdle(t *testing.T) {
	t.Parallel()
	addr := foreign.StartCCoreServer(t, foreign.CCoreServerConfig{Args: foreign.Args{
		"grpc.max_connection_idle_ms": 2600, "grpc.keepalive_time_ms": 1700,
	}}).Addr
	rep := runProbe(t, Config{Target: addr, Budget: 9 * time.Second, enforceLadder: []time.Duration{}})
	checkBracket(t, rep, FindingMaxConnectionIdle, 2600*time.Millisecond)
	checkBracket(t, rep, FindingServerKeepalive, 1700*time.Millisecond)
	checkUnobserved(t, rep, FindingMaxConnectionAge, "a server without one")
}

// C-core enforces its minimum ping interval with strikes, as grpc-go
// does, and without calls allows a PING only every two hours unless
// grpc.keepalive_permit_without_calls is set. The report names C-core's
// channel arguments.
func TestCCoreEnforcement(t *testing.T) {
	t.Parallel()
	addr := foreign.StartCCoreServer(t, foreign.CCoreServerConfig{Args: foreign.Args{
		"grpc.http2.min_ping_interval_without_data_ms": 1300,
	}}).Addr
	rep := runProbe(t, Config{Target: addr, Budget: 12 * time.Second, Client: ImplGo,
		enforceLadder: []time.Duration{700 * time.Millisecond, 1600 * time.Millisecond}})
	checkBracket(t, rep, FindingMinTime, 1300*time.Millisecond)
	checkPermit(t, rep, false)
	text := reportText(t, rep)
	checkReportHas(t, text,
		"Minimum ping interval (gRPC C-core grpc.http2.min_ping_interval_without_data_ms)",
		"Pings without calls (gRPC C-core grpc.keepalive_permit_without_calls)",
		"Connection age limit (gRPC C-core grpc.max_connection_age_ms)",
		"Keepalive PINGs from the server (gRPC C-core grpc.keepalive_time_ms)",
	)
	if strings.Contains(text, "EnforcementPolicy") || strings.Contains(text, "MaxConnection") {
		t.Errorf("the report on a C-core server speaks grpc-go's field names:\n%s", text)
	}
}

// HAProxy in TCP mode closes flows idle for its timeout with a FIN: the
// probe brackets that as the path's idle timeout, counts each connection
// once (a PING that a FIN follows is a close, not a drop), and the advice
// pings under it, without calls, where the client can.
func TestHAProxyPathIdle(t *testing.T) {
	t.Parallel()
	truth := options.ServerPolicy{Enforcement: keepalive.EnforcementPolicy{MinTime: 1500 * time.Millisecond, PermitWithoutStream: false}}
	addr := startHAProxy(t, startServer(t, truth), 2700*time.Millisecond, 0)
	// Rungs on both sides of the timeout and near it, where the PING and
	// HAProxy's FIN cross.
	rep := runProbe(t, Config{Target: addr, Budget: 9 * time.Second, Client: ImplCCore, enforceLadder: []time.Duration{},
		idleLadder: []time.Duration{time.Second, 2 * time.Second, 2650 * time.Millisecond, 2700 * time.Millisecond, 2750 * time.Millisecond, 4 * time.Second}})
	checkBracket(t, rep, FindingPathIdleTimeout, 2700*time.Millisecond)
	f := rep.Finding(FindingPathIdleTimeout)
	for _, e := range f.Evidence {
		if strings.Contains(e, "unanswered") {
			t.Errorf("HAProxy closes idle flows, it drops nothing; evidence: %s", e)
		}
	}
	if strings.Contains(f.Note, "forgets") || strings.Contains(f.Note, "both") {
		t.Errorf("note %q says the path drops flows", f.Note)
	}
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
	goAdvice := advise(ImplGo, rep)
	if goAdvice.Helps || !strings.Contains(strings.Join(goAdvice.Reasons, " "), "10s") {
		t.Errorf("grpc-go advice through a 2.7s path: %+v", goAdvice)
	}
}

// nginx terminates HTTP/2: the probe says a proxy answered, reports its
// timers as its own in its own words (keepalive_timeout for idle
// connections, client_header_timeout before the first request,
// grpc_read_timeout for silent streams), does not read its PING answers
// as a server's, and its advice says what nginx accepts without
// inverting it.
func TestNginxProxy(t *testing.T) {
	t.Parallel()
	backend := startServer(t, options.ServerPolicy{Enforcement: keepalive.EnforcementPolicy{MinTime: time.Minute}})
	addr := foreign.StartNginx(t, foreign.NginxConfig{Backend: backend,
		GRPCReadTimeout: 3100 * time.Millisecond, KeepaliveTimeout: 2200 * time.Millisecond, ClientHeaderTimeout: 5 * time.Second}).Addr
	rep := runProbe(t, Config{Target: addr, Budget: 9 * time.Second, enforceLadder: []time.Duration{700 * time.Millisecond},
		idleLadder: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}})
	if !rep.Peer.Proxy || rep.Peer.Implementation != ImplNginx {
		t.Fatalf("peer %+v, want the nginx proxy", rep.Peer)
	}
	checkBracket(t, rep, FindingStreamIdleTimeout, 3100*time.Millisecond)
	checkBracket(t, rep, FindingMaxConnectionIdle, 2200*time.Millisecond)
	checkUnobserved(t, rep, FindingServerKeepalive, "nginx, which sends none")
	text := reportText(t, rep)
	checkReportHas(t, text,
		"Answered by a proxy: nginx",
		"Minimum ping interval (nginx has no such setting: it enforces no minimum and answers every PING): none: pings 700ms apart",
		"Pings without calls (nginx has no such setting",
		"Idle limit (nginx keepalive_timeout): between",
		"nginx's client_header_timeout",
		"Keepalive PINGs from nginx (nginx has no such setting: it sends no keepalive PINGs): none",
		"Silent stream timeout (nginx grpc_read_timeout): about ",
		"cannot be seen from here",
		"the hop from the client to nginx",
		"Time 5m30s: grpcpulse's default (options.DefaultClientParameters), under AWS NLB's 350s idle timeout; nginx enforces no minimum and answers every PING (pings 700ms apart, the shortest interval tried, were accepted)",
		"nginx closes a connection without calls when it has been idle for its keepalive_timeout (measured: between",
		"nginx ends streams that carry nothing for about ",
		"no client keepalive prevents that (nginx answers the client's PINGs itself",
		"raise grpc_read_timeout above the longest silence of your streams",
	)
	for _, wrong := range []string{"at least every", "the server's minimum ping interval", "EnforcementPolicy", "ServerParameters", "needs --budget"} {
		if strings.Contains(text, wrong) {
			t.Errorf("report says %q", wrong)
		}
	}
}

// checkReportHas fails the test for each of wants that text lacks.
func checkReportHas(t *testing.T, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// reportText writes the report for people.
func reportText(t *testing.T, rep *Report) string {
	t.Helper()
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// A server behind a connection limit: connections beyond it are a limit,
// not "not HTTP/2".
func TestConnectionLimit(t *testing.T) {
	t.Parallel()
	backend := startServer(t, options.DefaultServerPolicy())
	addr := startHAProxy(t, backend, time.Minute, 2)
	// 13s does not fit the budget: while connections are limited, more
	// budget would not help, and the report must not ask for it.
	rep := runProbe(t, Config{Target: addr, Budget: 9 * time.Second, enforceLadder: []time.Duration{700 * time.Millisecond, 1100 * time.Millisecond, 13 * time.Second}})
	joined := strings.Join(rep.Limits, " ")
	if !strings.Contains(joined, "connection limit") {
		t.Errorf("limits %q do not name a connection limit", rep.Limits)
	}
	for _, o := range rep.Open {
		if strings.Contains(o, "--budget") {
			t.Errorf("left open asks for more budget against a connection limit: %s", o)
		}
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
