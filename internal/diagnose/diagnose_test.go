package diagnose

import (
	"strings"
	"testing"
	"time"

	"github.com/grpcpulse/grpcpulse/stats/pulse"
	"google.golang.org/grpc/keepalive"
)

func enforcement(minTime time.Duration, permit bool) *keepalive.EnforcementPolicy {
	return &keepalive.EnforcementPolicy{MinTime: minTime, PermitWithoutStream: permit}
}

// Each row: the advice names the parameter to change and a value that
// would have prevented the end.
func TestAdvice(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    Facts
		want []string
	}{
		{"server: a client pinging every 10s against MinTime 1m is told 1m6s, the server the MinTime that admits 10s",
			Facts{Side: pulse.SideServer, Reason: pulse.ReasonTooManyPings, ActiveRPCs: 1,
				PingIntervals: []time.Duration{10 * time.Second, 10 * time.Second, 10 * time.Second}, Enforcement: enforcement(time.Minute, false)},
			[]string{"every 10s", "MinTime (1m)", "ClientParameters.Time to at least 1m6s", "EnforcementPolicy.MinTime to at most 9s"}},
		{"server: pings without RPCs against PermitWithoutStream false",
			Facts{Side: pulse.SideServer, Reason: pulse.ReasonTooManyPings, PingIntervals: []time.Duration{time.Minute}, Enforcement: enforcement(time.Minute, false)},
			[]string{"no RPC in flight", "ClientParameters.PermitWithoutStream to false", "EnforcementPolicy.PermitWithoutStream to true"}},
		{"server: pings faster than any grpc-go keepalive",
			Facts{Side: pulse.SideServer, Reason: pulse.ReasonTooManyPings, ActiveRPCs: 1, PingIntervals: []time.Duration{time.Millisecond}, Enforcement: enforcement(5*time.Second, true)},
			[]string{"every 1ms", "faster than any grpc-go", "at least 6s"}},
		{"client: pings this client did not send",
			Facts{Side: pulse.SideClient, Reason: pulse.ReasonTooManyPings, ActiveRPCs: 1, Client: &keepalive.ClientParameters{Time: 5*time.Minute + 30*time.Second}},
			[]string{"sent no keepalive PING", "something else on the path"}},
		{"keepalive timeout at grpc-go's lowest Time",
			Facts{Side: pulse.SideServer, Reason: pulse.ReasonKeepaliveTimeout, Idle: time.Second, Server: &keepalive.ServerParameters{Time: time.Second, Timeout: time.Second}},
			[]string{"already as low as grpc-go allows", "fix the path"}},
		{"client: Time 10s against a server whose MinTime is 1m",
			Facts{Side: pulse.SideClient, Reason: pulse.ReasonTooManyPings, ActiveRPCs: 1, PingsSent: 3,
				Client: &keepalive.ClientParameters{Time: 10 * time.Second}, PeerEnforcement: enforcement(time.Minute, false)},
			[]string{"ClientParameters.Time (10s)", "every 20s", "at least 1m6s", "MinTime is 1m"}},
		{"client: Time 10s against a server it does not know: grpc's defaults",
			Facts{Side: pulse.SideClient, Reason: pulse.ReasonTooManyPings, ActiveRPCs: 1, PingsSent: 3, Client: &keepalive.ClientParameters{Time: 10 * time.Second}},
			[]string{"at least 5m30s", "grpc's defaults"}},
		{"client: idle pings",
			Facts{Side: pulse.SideClient, Reason: pulse.ReasonTooManyPings, PingsSent: 4, Client: &keepalive.ClientParameters{Time: time.Minute, PermitWithoutStream: true}},
			[]string{"no RPC in flight", "PermitWithoutStream to false"}},
		{"keepalive timeout after a silence: a middlebox idle timeout",
			Facts{Side: pulse.SideServer, Reason: pulse.ReasonKeepaliveTimeout, Idle: 2 * time.Minute, LastRTT: time.Millisecond,
				Server: &keepalive.ServerParameters{Time: 2 * time.Minute, Timeout: 20 * time.Second}},
			[]string{"After 2m with nothing read", "ServerParameters.Time to at most 1m"}},
		{"keepalive timeout with a Timeout close to the RTT",
			Facts{Side: pulse.SideClient, Reason: pulse.ReasonKeepaliveTimeout, Idle: time.Minute, LastRTT: 800 * time.Millisecond,
				Client: &keepalive.ClientParameters{Time: time.Minute, Timeout: 2 * time.Second}},
			[]string{"ClientParameters.Timeout (2s)", "800ms", "at least 8s"}},
		{"max age cut RPCs, server",
			Facts{Side: pulse.SideServer, Reason: pulse.ReasonMaxConnectionAge, Lifetime: 10 * time.Minute, ActiveRPCs: 2,
				CutRPCs: []pulse.CutRPC{{Method: "pkg.S/Watch", Ran: 5 * time.Minute}, {Method: "pkg.S/Watch", Ran: time.Minute}}, Server: &keepalive.ServerParameters{MaxConnectionAge: 10 * time.Minute, MaxConnectionAgeGrace: 2 * time.Minute}},
			[]string{"cut 2 RPC(s)", "MaxConnectionAgeGrace (2m)", "5m", "pkg.S/Watch", "ServerParameters.MaxConnectionAgeGrace above the longest RPC, at least 6m"}},
		{"max age cut RPCs, client",
			Facts{Side: pulse.SideClient, Reason: pulse.ReasonMaxConnectionAge, ActiveRPCs: 1, CutRPCs: []pulse.CutRPC{{Method: "pkg.S/Watch", Ran: 30 * time.Second}}},
			[]string{"reconnect and resume", "MaxConnectionAgeGrace must exceed them (at least 36s)"}},
		{"reset with RPCs in flight",
			Facts{Side: pulse.SideClient, Reason: pulse.ReasonConnectionReset, ActiveRPCs: 3, Lifetime: time.Hour, Idle: 350 * time.Second},
			[]string{"reset the connection", "cannot tell a peer restart from a middlebox", "5m50s after the last read"}},
		{"protocol error",
			Facts{Side: pulse.SideServer, Reason: pulse.ReasonProtocolError, Initiator: pulse.InitiatorLocal, Violation: "ping_length"},
			[]string{"malformed frame (ping_length)", "not a gRPC peer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := Diagnose(tc.f)
			if !ok {
				t.Fatal("no diagnosis")
			}
			for _, w := range tc.want {
				if !strings.Contains(d.Advice, w) {
					t.Errorf("advice %q\ndoes not say %q", d.Advice, w)
				}
			}
		})
	}
}

// Normal ends, and abnormal ones that cut nothing and need no setting, get
// no diagnosis.
func TestNoDiagnosis(t *testing.T) {
	for _, f := range []Facts{
		{Side: pulse.SideClient, Reason: pulse.ReasonClientShutdown},
		{Side: pulse.SideServer, Reason: pulse.ReasonServerShutdown, ActiveRPCs: 1},
		{Side: pulse.SideServer, Reason: pulse.ReasonMaxConnectionIdle},
		{Side: pulse.SideServer, Reason: pulse.ReasonMaxConnectionAge},
		{Side: pulse.SideClient, Reason: pulse.ReasonPeerClosed},
		{Side: pulse.SideClient, Reason: pulse.ReasonGoAway},
		{Side: pulse.SideClient, Reason: pulse.ReasonUnknown, ActiveRPCs: 2},
	} {
		if d, ok := Diagnose(f); ok {
			t.Errorf("%v/%v: diagnosis %q", f.Side, f.Reason, d.Advice)
		}
	}
}

// The first record of a reason goes through, then one a minute carrying the
// count held back; reasons are sampled apart.
func TestSampler(t *testing.T) {
	var s Sampler
	t0 := time.Unix(1000, 0)
	if n, ok := s.Allow(pulse.ReasonTooManyPings, t0); !ok || n != 0 {
		t.Fatalf("first: %d, %v", n, ok)
	}
	for i := range 199 {
		if _, ok := s.Allow(pulse.ReasonTooManyPings, t0.Add(time.Duration(i)*100*time.Millisecond)); ok {
			t.Fatalf("record %d within the minute went through", i+2)
		}
	}
	if _, ok := s.Allow(pulse.ReasonKeepaliveTimeout, t0.Add(time.Second)); !ok {
		t.Fatal("another reason was held back")
	}
	if n, ok := s.Allow(pulse.ReasonTooManyPings, t0.Add(Interval)); !ok || n != 199 {
		t.Fatalf("after a minute: %d, %v; want 199 suppressed", n, ok)
	}
}

// Considered lets the stats handler skip gathering facts: it must be true for
// every reason Diagnose can diagnose, on either side, with RPCs cut or not.
func TestConsideredCoversDiagnose(t *testing.T) {
	for _, r := range pulse.Reasons() {
		for _, side := range []pulse.Side{pulse.SideServer, pulse.SideClient} {
			for _, active := range []int{0, 1} {
				_, ok := Diagnose(Facts{Side: side, Reason: r, Initiator: pulse.InitiatorLocal, ActiveRPCs: active})
				if ok && !Considered(r) {
					t.Errorf("%s (%s, %d RPCs cut) is diagnosed but not Considered", r, side, active)
				}
			}
		}
	}
	if Considered(pulse.ReasonClientShutdown) || Considered(pulse.ReasonServerShutdown) {
		t.Error("an orderly shutdown is Considered: every close would gather a diagnosis's facts")
	}
}
