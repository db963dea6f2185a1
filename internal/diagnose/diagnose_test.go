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
			[]string{"every 10s", "MinTime (1m)", "the client's keepalive time (grpc-go ClientParameters.Time; C-core and grpc-js grpc.keepalive_time_ms; grpc-java ManagedChannelBuilder.keepAliveTime) to at least 1m6s", "this server's EnforcementPolicy.MinTime to at most 9s"}},
		{"server: pings without RPCs against PermitWithoutStream false",
			Facts{Side: pulse.SideServer, Reason: pulse.ReasonTooManyPings, PingIntervals: []time.Duration{time.Minute}, Enforcement: enforcement(time.Minute, false)},
			[]string{"no RPC in flight", "ClientParameters.PermitWithoutStream; C-core and grpc-js grpc.keepalive_permit_without_calls; grpc-java ManagedChannelBuilder.keepAliveWithoutCalls) to false", "EnforcementPolicy.PermitWithoutStream to true"}},
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
			[]string{"ClientParameters.Time (10s)", "every 20s", "this client's ClientParameters.Time to at least 1m6s", "EnforcementPolicy.MinTime is 1m", "the server's EnforcementPolicy.MinTime to at most 9s"}},
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
			[]string{"reconnect and resume", "grpc-go ServerParameters.MaxConnectionAgeGrace; C-core and grpc-js grpc.max_connection_age_grace_ms; grpc-java NettyServerBuilder.maxConnectionAgeGrace) to at least 36s"}},
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

// The cases that once went wrong, and each implementation's words.
func TestAdviceCases(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name      string
		f         Facts
		want, not []string
	}{
		{"a client flooding pings with no RPC: only changes that would have prevented it",
			Facts{Side: pulse.SideServer, Reason: pulse.ReasonTooManyPings, PingIntervals: []time.Duration{10 * ms, 10 * ms, 10 * ms}, Enforcement: enforcement(time.Minute, false)},
			[]string{"every 10ms with no RPC in flight", "faster than any grpc-go or grpc-java keepalive can",
				"grpc-java ManagedChannelBuilder.keepAliveWithoutCalls) to false and the client's keepalive time", "to at least 1m6s"},
			[]string{"this server's EnforcementPolicy.PermitWithoutStream to true", "MinTime to at most"}},
		{"a sub-millisecond interval is printed as such",
			Facts{Side: pulse.SideServer, Reason: pulse.ReasonTooManyPings, ActiveRPCs: 1, PingIntervals: []time.Duration{300 * time.Microsecond}, Enforcement: enforcement(5*time.Second, true)},
			[]string{"every 300µs"}, []string{"every 0s"}},
		{"grpcurl list: the peer process ended with its stream open",
			Facts{Side: pulse.SideServer, Reason: pulse.ReasonPeerClosed, Initiator: pulse.InitiatorPeer, ActiveRPCs: 1, Lifetime: 5 * ms, Idle: 2400 * time.Microsecond,
				CutRPCs: []pulse.CutRPC{{Method: "grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Ran: 3 * ms}}},
			[]string{"closed the connection without a GOAWAY 5ms after it opened, 2.4ms after the last frame it sent", "far too soon", "peer process ended", "No keepalive setting is involved"},
			[]string{"middlebox on its behalf", "Set ", "set "}},
		{"a reset just as soon is the peer's too",
			Facts{Side: pulse.SideClient, Reason: pulse.ReasonConnectionReset, ActiveRPCs: 2, Lifetime: time.Minute, Idle: 40 * ms},
			[]string{"reset the connection", "No keepalive setting is involved"}, []string{"set "}},
		{"a reset after a long silence may be a middlebox: ping within it, as the server allows",
			Facts{Side: pulse.SideClient, Reason: pulse.ReasonConnectionReset, Peer: pulse.ImplementationCCore, ActiveRPCs: 1, Lifetime: time.Hour, Idle: 350 * time.Second,
				Client: &keepalive.ClientParameters{Time: 5*time.Minute + 30*time.Second}},
			[]string{"middlebox on its behalf", "this client's ClientParameters.Time to at most 2m55s", "the server's grpc.http2.min_ping_interval_without_data_ms to at most 159000 (2m39s)"}, nil},
		{"server: a C-core client is told its channel arguments",
			Facts{Side: pulse.SideServer, Reason: pulse.ReasonTooManyPings, Peer: pulse.ImplementationCCore, ActiveRPCs: 1,
				PingIntervals: []time.Duration{time.Second, time.Second}, Enforcement: enforcement(time.Minute, true)},
			[]string{"every 1s", "the client's grpc.keepalive_time_ms to at least 66000 (1m6s)"},
			[]string{"ClientParameters.Time", "faster than", "MinTime to at most"}},
		{"server: a C-core client at its one-second floor, measured a little early, pings no faster than C-core can",
			Facts{Side: pulse.SideServer, Reason: pulse.ReasonTooManyPings, Peer: pulse.ImplementationCCore, ActiveRPCs: 1,
				PingIntervals: []time.Duration{995 * ms, 998 * ms}, Enforcement: enforcement(5*time.Second, true)},
			[]string{"every 998ms", "grpc.keepalive_time_ms to at least 6000 (6s)"}, []string{"faster than"}},
		{"server: a grpc-js client is told its channel options",
			Facts{Side: pulse.SideServer, Reason: pulse.ReasonTooManyPings, Peer: pulse.ImplementationJS, PingIntervals: []time.Duration{200 * ms, 200 * ms}, Enforcement: enforcement(time.Minute, false)},
			[]string{"every 200ms", "the client's grpc.keepalive_permit_without_calls to 0 and the client's grpc.keepalive_time_ms to at least 66000 (1m6s)"}, nil},
		{"server: a grpc-java client is told its builder's methods",
			Facts{Side: pulse.SideServer, Reason: pulse.ReasonTooManyPings, Peer: pulse.ImplementationJava, ActiveRPCs: 1,
				PingIntervals: []time.Duration{10 * time.Second}, Enforcement: enforcement(time.Minute, true)},
			[]string{"the client's ManagedChannelBuilder.keepAliveTime to at least 1m6s"}, []string{"ClientParameters"}},
		{"client: a C-core server's channel arguments, at C-core's defaults",
			Facts{Side: pulse.SideClient, Reason: pulse.ReasonTooManyPings, Peer: pulse.ImplementationCCore, ActiveRPCs: 1, PingsSent: 3, Client: &keepalive.ClientParameters{Time: time.Minute}},
			[]string{"At C-core's defaults, the server's grpc.http2.min_ping_interval_without_data_ms is 5m", "this client's ClientParameters.Time to at least 5m30s",
				"the server's grpc.http2.min_ping_interval_without_data_ms to at most 54000 (54s)"}, nil},
		{"client: a grpc-java server's builder",
			Facts{Side: pulse.SideClient, Reason: pulse.ReasonTooManyPings, Peer: pulse.ImplementationJava, ActiveRPCs: 1, PingsSent: 3, Client: &keepalive.ClientParameters{Time: time.Minute}},
			[]string{"the server's NettyServerBuilder.permitKeepAliveTime to at most 54s"}, nil},
		{"client: a server stricter than its defaults",
			Facts{Side: pulse.SideClient, Reason: pulse.ReasonTooManyPings, Peer: pulse.ImplementationGo, ActiveRPCs: 1, PingsSent: 3, Client: &keepalive.ClientParameters{Time: 6 * time.Minute}},
			[]string{"must be stricter: its minimum is above 6m", "at least 6m"}, nil},
		{"client: max age of a grpc-js server",
			Facts{Side: pulse.SideClient, Reason: pulse.ReasonMaxConnectionAge, Peer: pulse.ImplementationJS, ActiveRPCs: 1, CutRPCs: []pulse.CutRPC{{Method: "pkg.S/Watch", Ran: 30 * time.Second}}},
			[]string{"set the server's grpc.max_connection_age_grace_ms to at least 36000 (36s)"}, nil},
		{"keepalive timeout: a longer Timeout keeps it below Time",
			Facts{Side: pulse.SideServer, Reason: pulse.ReasonKeepaliveTimeout, Idle: time.Minute, LastRTT: 3 * time.Second,
				Server: &keepalive.ServerParameters{Time: 20 * time.Second, Timeout: 5 * time.Second}},
			[]string{"this server's ServerParameters.Timeout to at least 30s and this server's ServerParameters.Time to at least 1m"}, nil},
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
