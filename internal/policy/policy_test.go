package policy

import (
	"testing"
	"time"

	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Each implementation's settings, read with its defaults and clamps.
func TestModels(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"C-core client at its defaults", CCoreClient(nil), Client{Impl: pulse.ImplementationCCore, Time: Infinity, Timeout: 20 * time.Second, MaxPingsWithoutData: 2}},
		{"C-core client: at most a PING a second", CCoreClient(map[string]int{ArgKeepaliveTime: 100, ArgPermitWithoutCalls: 1, ArgMaxPingsWithoutData: 0}),
			Client{Impl: pulse.ImplementationCCore, Time: time.Second, Timeout: 20 * time.Second, Permit: true}},
		{"C-core client: INT_MAX is off", CCoreClient(map[string]int{ArgKeepaliveTime: 2147483647}).Enabled(), false},
		{"C-core client: 0 turns keepalive on", CCoreClient(map[string]int{ArgKeepaliveTime: 0}).Time, time.Second},
		{"C-core server at its defaults", CCoreServer(nil), Server{Impl: pulse.ImplementationCCore, Time: 2 * time.Hour, Timeout: 20 * time.Second,
			MinTime: 5 * time.Minute, MaxPingStrikes: 2, MaxConnectionIdle: Infinity, MaxConnectionAge: Infinity, MaxConnectionAgeGrace: Infinity}},
		{"C-core server: strikes 0 is no enforcement", CCoreServer(map[string]int{ArgMaxPingStrikes: 0}).Enforces(), false},
		{"grpc-js client at its defaults", JSClient(nil), Client{Impl: pulse.ImplementationJS, Time: Infinity, Timeout: 20 * time.Second}},
		{"grpc-js client: no floor", JSClient(map[string]int{ArgKeepaliveTime: 10}).Time, 10 * time.Millisecond},
		{"grpc-js client: permit only for 1", JSClient(map[string]int{ArgKeepaliveTime: 10, ArgPermitWithoutCalls: 2}).Permit, false},
		{"grpc-js server enforces nothing", JSServer(nil).Enforces(), false},
		{"grpc-java client at its defaults", JavaClient(0, 0, false), Client{Impl: pulse.ImplementationJava, Time: Infinity, Timeout: 20 * time.Second}},
		{"grpc-java client: raised to 10s", JavaClient(time.Second, time.Millisecond, true), Client{Impl: pulse.ImplementationJava, Time: 10 * time.Second, Timeout: 10 * time.Millisecond, Permit: true}},
		{"grpc-java server at its defaults", JavaServer(JavaServerSettings{}), Server{Impl: pulse.ImplementationJava, Time: 2 * time.Hour, Timeout: 20 * time.Second,
			MinTime: 5 * time.Minute, MaxPingStrikes: 2, MaxConnectionIdle: Infinity, MaxConnectionAge: Infinity, MaxConnectionAgeGrace: Infinity}},
		{"grpc-java server: 1000 days is off", JavaServer(JavaServerSettings{KeepAliveTime: 1000 * 24 * time.Hour, MaxConnectionAge: 500 * time.Millisecond}),
			Server{Impl: pulse.ImplementationJava, Time: Infinity, Timeout: 20 * time.Second, MinTime: 5 * time.Minute, MaxPingStrikes: 2,
				MaxConnectionIdle: Infinity, MaxConnectionAge: time.Second, MaxConnectionAgeGrace: Infinity}},
		{"grpc-go server at its defaults", GoServer(keepalive.ServerParameters{}, keepalive.EnforcementPolicy{}), DefaultServer(pulse.ImplementationGo)},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
}

func durations(ds ...time.Duration) []time.Duration { return ds }

// Each implementation's enforcement, replayed.
func TestEnforce(t *testing.T) {
	s := time.Second
	goServer := GoServer(keepalive.ServerParameters{}, keepalive.EnforcementPolicy{MinTime: 10 * s})
	java := JavaServer(JavaServerSettings{PermitKeepAliveTime: 10 * s})
	for _, tc := range []struct {
		name   string
		server Server
		sit    Situation
		pings  []time.Duration
		want   int
	}{
		{"grpc-go: the first is free, the third strike ends it", goServer, QuietRPC, durations(5*s, 10*s, 15*s, 20*s), 3},
		{"grpc-go: at MinTime exactly, no strike", goServer, QuietRPC, durations(10*s, 20*s, 30*s, 40*s), -1},
		{"grpc-go: a late ping does not forgive strikes", goServer, QuietRPC, durations(5*s, 10*s, 30*s, 35*s, 40*s), 4},
		{"grpc-go: no RPC, no permit: any ping within 2h", goServer, NoRPC, durations(time.Hour, 2*time.Hour-s, 3*time.Hour-2*s, 4*time.Hour-3*s), 3},
		{"grpc-java: the first is measured from the start", java, QuietRPC, durations(5*s, 7*s, 9*s), 2},
		{"grpc-java: an accepted ping resets the clock, strikes stay", java, QuietRPC, durations(5*s, 11*s, 16*s, 22*s, 27*s), 4},
		{"C-core: five strikes tolerated", CCoreServer(map[string]int{ArgMinRecvPingInterval: 10000, ArgMaxPingStrikes: 5}), QuietRPC,
			durations(1*s, 2*s, 3*s, 4*s, 5*s, 6*s, 7*s), 6},
		{"grpc-js: none", JSServer(nil), QuietRPC, durations(1, 2, 3, 4, 5), -1},
	} {
		if got := Enforce(tc.server, tc.sit, tc.pings); got != tc.want {
			t.Errorf("%s: Enforce = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// Each implementation's client schedule.
func TestClientPings(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name string
		c    Client
		sit  Situation
		want []time.Duration
	}{
		{"grpc-go: every Time", EffectiveClient(keepalive.ClientParameters{Time: 30 * s}), QuietRPC, durations(30*s, 60*s, 90*s)},
		{"grpc-go: none without an RPC unless permitted", EffectiveClient(keepalive.ClientParameters{Time: 30 * s}), NoRPC, nil},
		{"C-core: two, then silence until data comes", CCoreClient(map[string]int{ArgKeepaliveTime: 100}), QuietRPC, durations(s, 2*s)},
		{"C-core without the limit", CCoreClient(map[string]int{ArgKeepaliveTime: 100, ArgMaxPingsWithoutData: 0}), QuietRPC, durations(s, 2*s, 3*s)},
		{"off", JSClient(nil), QuietRPC, nil},
	} {
		got := ClientPings(tc.c, tc.sit, 3)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
	}
}

// Settings are named and their values written as each implementation takes
// them.
func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		c    Change
		impl pulse.Implementation
		want string
	}{
		{Change{Knob: KnobClientTime, Op: AtLeast, Value: 66 * time.Second}, pulse.ImplementationGo, "ClientParameters.Time to at least 1m6s"},
		{Change{Knob: KnobClientTime, Op: AtLeast, Value: 66*time.Second + time.Microsecond}, pulse.ImplementationCCore, "grpc.keepalive_time_ms to at least 66001 (1m6.001s)"},
		{Change{Knob: KnobServerMinTime, Op: AtMost, Value: 9 * time.Second}, pulse.ImplementationCCore, "grpc.http2.min_ping_interval_without_data_ms to at most 9000 (9s)"},
		{Change{Knob: KnobClientPermitWithoutStream, Op: Set}, pulse.ImplementationJS, "grpc.keepalive_permit_without_calls to 0"},
		{Change{Knob: KnobServerPermitWithoutStream, Op: Set, On: true}, pulse.ImplementationJava, "NettyServerBuilder.permitKeepAliveWithoutCalls to true"},
		{Change{Knob: KnobClientTime, Op: AtLeast, Value: time.Minute}, pulse.ImplementationUnknown,
			"keepalive time (grpc-go ClientParameters.Time; C-core and grpc-js grpc.keepalive_time_ms; grpc-java ManagedChannelBuilder.keepAliveTime) to at least 1m"},
		{Change{Knob: KnobClientMaxPingsWithoutData, Op: Set}, pulse.ImplementationOther, "limit of pings without data (C-core grpc.http2.max_pings_without_data) to 0"},
	} {
		if got := Describe(tc.c, tc.impl); got != tc.want {
			t.Errorf("Describe(%+v, %s) = %q, want %q", tc.c, tc.impl, got, tc.want)
		}
	}
	if Has(KnobServerMinTime, pulse.ImplementationJS) || !Has(KnobServerMinTime, pulse.ImplementationUnknown) {
		t.Error("Has: grpc-js has no ping policy; an unknown implementation may")
	}
}

// Opposite changes conflict, compatible ones do not.
func TestConflicts(t *testing.T) {
	atLeast := func(v time.Duration) Change { return Change{Knob: KnobClientTimeout, Op: AtLeast, Value: v} }
	atMost := func(v time.Duration) Change { return Change{Knob: KnobClientTimeout, Op: AtMost, Value: v} }
	set := func(v time.Duration) Change { return Change{Knob: KnobClientTimeout, Op: Set, Value: v} }
	for _, tc := range []struct {
		a, b Change
		want bool
	}{
		{atLeast(5 * time.Second), atMost(500 * time.Millisecond), true},
		{atLeast(5 * time.Second), set(5 * time.Second), false},
		{set(5 * time.Second), set(6 * time.Second), true},
		{atMost(10 * time.Second), atLeast(5 * time.Second), false},
		{Change{Knob: KnobClientPermitWithoutStream, Op: Set}, Change{Knob: KnobClientPermitWithoutStream, Op: Set, On: true}, true},
		{atLeast(5 * time.Second), Change{Knob: KnobClientTime, Op: AtMost, Value: time.Second}, false},
	} {
		if got := Conflicts(tc.a, tc.b); got != tc.want {
			t.Errorf("Conflicts(%+v, %+v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
