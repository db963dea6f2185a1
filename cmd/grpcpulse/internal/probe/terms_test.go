package probe

import (
	"strings"
	"testing"
	"time"
)

// Findings are titled in the words of what answered, and in grpc-go's and
// the others' where the wire did not say.
func TestFindingTitles(t *testing.T) {
	for _, tc := range []struct {
		peer    Peer
		finding string
		want    string
	}{
		{Peer{Implementation: ImplGo}, FindingMinTime, "Minimum ping interval (grpc-go keepalive.EnforcementPolicy.MinTime)"},
		{Peer{Implementation: ImplCCore}, FindingMinTime, "Minimum ping interval (gRPC C-core grpc.http2.min_ping_interval_without_data_ms)"},
		{Peer{Implementation: ImplJava}, FindingPermitWithoutStream, "Pings without calls (grpc-java NettyServerBuilder.permitKeepAliveWithoutCalls)"},
		{Peer{Implementation: ImplJS}, FindingMinTime, "Minimum ping interval (grpc-js has no such setting: it enforces no minimum and answers every PING)"},
		{Peer{Implementation: ImplJS}, FindingMaxConnectionIdle, "Idle limit (grpc-js grpc.max_connection_idle_ms)"},
		{Peer{Implementation: ImplJava}, FindingServerKeepalive, "Keepalive PINGs from the server (grpc-java NettyServerBuilder.keepAliveTime)"},
		{Peer{Implementation: ImplNginx, Proxy: true}, FindingMaxConnectionIdle, "Idle limit (nginx keepalive_timeout)"},
		{Peer{Implementation: ImplNginx, Proxy: true}, FindingServerKeepalive, "Keepalive PINGs from nginx (nginx has no such setting: it sends no keepalive PINGs)"},
		{Peer{Implementation: ImplNginx, Proxy: true}, FindingStreamIdleTimeout, "Silent stream timeout (nginx grpc_read_timeout)"},
		{Peer{Implementation: ImplOther}, FindingMaxConnectionAge,
			"Connection age limit (grpc-go keepalive.ServerParameters.MaxConnectionAge, C-core and grpc-js grpc.max_connection_age_ms, grpc-java NettyServerBuilder.maxConnectionAge)"},
		{Peer{Implementation: ImplOther}, FindingMinTime,
			"Minimum ping interval (grpc-go keepalive.EnforcementPolicy.MinTime, C-core grpc.http2.min_ping_interval_without_data_ms, grpc-java NettyServerBuilder.permitKeepAliveTime)"},
	} {
		if got := findingTitle(tc.finding, tc.peer); got != tc.want {
			t.Errorf("%s for %s:\n got %s\nwant %s", tc.finding, tc.peer.Implementation, got, tc.want)
		}
	}
}

// Each path idle connection is one rung, judged once: a PING that a FIN
// without GOAWAY follows is a close at the path's timer, not a drop as
// well, and the connection is not counted again among the others.
func TestPathIdleCountsEachRungOnce(t *testing.T) {
	p := &prober{rtt: time.Millisecond, peer: Peer{Implementation: ImplGo}}
	rep := &Report{Peer: p.peer}
	o := &pathIdleOutcome{rungs: []idleResult{
		{Target: time.Second, Silence: time.Second, Verdict: idleAnswered, Note: "PING answered in 100µs"},
		{Target: 2 * time.Second, Silence: 2 * time.Second, Verdict: idleAnswered, Note: "PING answered in 100µs"},
		// The PING went out at 3.97s of silence; the FIN came at 4.01s.
		{Target: 3970 * time.Millisecond, Silence: 4010 * time.Millisecond, Verdict: idleClosed, Note: "closed (FIN, no GOAWAY) 40ms after the PING"},
		{Target: 8 * time.Second, Silence: 4 * time.Second, Verdict: idleClosed, Note: "closed (FIN, no GOAWAY) after 4s of silence"},
	}}
	views := []connView{
		// The rungs' own connections: already judged.
		{role: rolePathIdle, end: endEOF, silenceAtEnd: 40 * time.Millisecond},
		{role: rolePathIdle, end: endEOF, silenceAtEnd: 4 * time.Second},
		// Others the path closed.
		{role: "ping enforcement", end: endEOF, silenceAtEnd: 4 * time.Second},
		{role: "ping enforcement", end: endEOF, silenceAtEnd: 4010 * time.Millisecond},
		{role: watchHeld, end: endEOF, silenceAtEnd: 4 * time.Second},
	}
	f := p.analyzePathIdle(rep, o, views, Finding{})
	if !f.Observed || !f.Contains(4*time.Second) {
		t.Errorf("bracket %q (%v, %v] does not contain 4s", f.Result, f.Low, f.High)
	}
	if strings.Contains(f.Note, "forgets") || strings.Contains(f.Note, "both") {
		t.Errorf("note %q: nothing was dropped", f.Note)
	}
	joined := strings.Join(f.Evidence, "\n")
	for _, want := range []string{
		"idle 4s: closed (FIN, no GOAWAY) 40ms after the PING",
		"idle 8s: closed (FIN, no GOAWAY) after 4s of silence",
		"2 connection(s) held for ping enforcement closed (FIN, no GOAWAY) after 4s of silence",
		"1 connection(s) held for the age (a stream held open) closed (FIN, no GOAWAY) after 4s of silence",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("evidence lacks %q:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "unanswered") || strings.Contains(joined, "path idle") {
		t.Errorf("a rung counted twice, or as a drop:\n%s", joined)
	}
}

func TestFmtDur(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{400 * time.Microsecond, "400µs"},
		{300 * time.Millisecond, "300ms"},
		{2400 * time.Millisecond, "2.4s"},
		{59960 * time.Millisecond, "1m"},
		{90 * time.Second, "1m30s"},
		{330 * time.Second, "5m30s"},
		{2 * time.Hour, "2h"},
	} {
		if got := fmtDur(tc.d); got != tc.want {
			t.Errorf("fmtDur(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
