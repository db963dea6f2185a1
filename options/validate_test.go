package options

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/policy"
)

// want describes one expected finding: its severity, its field and words its
// message must contain (the numbers it names, the fix it proposes).
type want struct {
	sev      Severity
	field    string
	contains []string
}

// checkFindings fails t unless got holds exactly the wanted findings, in order.
func checkFindings(t *testing.T, got []Finding, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Errorf("got %d findings, want %d:\n%s", len(got), len(wants), formatFindings(got))
		return
	}
	for i, w := range wants {
		f := got[i]
		if f.Severity != w.sev || f.Field != w.field {
			t.Errorf("finding %d = %s %s, want %s %s:\n%s", i, f.Severity, f.Field, w.sev, w.field, formatFindings(got))
			continue
		}
		for _, s := range w.contains {
			if !strings.Contains(f.Message, s) {
				t.Errorf("finding %d (%s) message lacks %q:\n%s", i, f.Field, s, f.Message)
			}
		}
	}
}

func formatFindings(fs []Finding) string {
	if len(fs) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.String() + "\n")
	}
	return b.String()
}

// serverWith returns DefaultServerPolicy (which alone has no findings) changed
// by edit, so that a row exercises one check only.
func serverWith(edit func(*ServerPolicy)) ServerPolicy {
	p := DefaultServerPolicy()
	edit(&p)
	return p
}

// idleWarning is the finding every server whose keepalive Time is 4 minutes or
// more gets, grpc's defaults included.
var idleWarning = want{Warning, "ServerParameters.Time", []string{"Azure Load Balancer", "TCP keepalive", "2m (DefaultServerPolicy)"}}

func TestValidateClient(t *testing.T) {
	tests := []struct {
		name string
		c    keepalive.ClientParameters
		want []want
	}{
		{"DefaultClientParameters", DefaultClientParameters(), nil},
		{"LossyNetworkClientParameters", LossyNetworkClientParameters(), nil},
		{"GRPCDefaultClientParameters", GRPCDefaultClientParameters(), nil},
		{"keepalive off ignores Timeout", keepalive.ClientParameters{Time: Infinity, Timeout: time.Second, PermitWithoutStream: true}, nil},
		{"Time at grpc's 10s floor", keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second}, nil},
		{"PermitWithoutStream with Time below idle timeouts", keepalive.ClientParameters{Time: 3 * time.Minute, Timeout: 20 * time.Second, PermitWithoutStream: true}, nil},
		{
			"zero value turns keepalive on at 10s",
			keepalive.ClientParameters{},
			[]want{
				{Warning, "ClientParameters.Time", []string{"is 0", "raises it to 10s", "Infinity", "5m30s"}},
				{Warning, "ClientParameters.Timeout", []string{"(20s) is not below Time (10s)", "Time+Timeout = 30s", "5s"}},
			},
		},
		{
			"Time below 10s is raised",
			keepalive.ClientParameters{Time: 5 * time.Second, Timeout: 5 * time.Second},
			[]want{{Warning, "ClientParameters.Time", []string{"is 5s", "raises anything below 10s to 10s"}}},
		},
		{
			"negative Time",
			keepalive.ClientParameters{Time: -time.Second, Timeout: 5 * time.Second},
			[]want{{Error, "ClientParameters.Time", []string{"negative (-1s)", "5m30s", "Infinity"}}},
		},
		{
			"negative Timeout",
			keepalive.ClientParameters{Time: time.Minute, Timeout: -time.Second},
			[]want{{Fatal, "ClientParameters.Timeout", []string{"negative (-1s)", "20s"}}},
		},
		{
			"Timeout not below Time",
			keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 30 * time.Second},
			[]want{{Warning, "ClientParameters.Timeout", []string{"(30s) is not below Time (30s)", "Time+Timeout = 1m", "e.g. to 15s"}}},
		},
		{
			"Timeout too short for TCP_USER_TIMEOUT",
			keepalive.ClientParameters{Time: time.Minute, Timeout: time.Second},
			[]want{{Warning, "ClientParameters.Timeout", []string{"is 1s", "TCP_USER_TIMEOUT", "5s or more"}}},
		},
		{
			"idle pings slower than idle timeouts",
			keepalive.ClientParameters{Time: 6 * time.Minute, Timeout: 20 * time.Second, PermitWithoutStream: true},
			[]want{{Warning, "ClientParameters.Time", []string{"is 6m", "Azure Load Balancer (default 4m) and AWS NLB (350s)", "below 4m", "PermitWithoutStream to false"}}},
		},
		{
			"slow pings without PermitWithoutStream are not an idle-flow problem of the client",
			keepalive.ClientParameters{Time: 30 * time.Minute, Timeout: 20 * time.Second},
			nil,
		},
		{
			"several findings: errors first",
			keepalive.ClientParameters{Time: 5 * time.Minute, Timeout: -1, PermitWithoutStream: true},
			[]want{
				{Fatal, "ClientParameters.Timeout", []string{"negative"}},
			},
		},
		{
			"warnings in a fixed order",
			keepalive.ClientParameters{Time: 5 * time.Minute, Timeout: time.Second, PermitWithoutStream: true},
			[]want{
				{Warning, "ClientParameters.Timeout", []string{"TCP_USER_TIMEOUT"}},
				{Warning, "ClientParameters.Time", []string{"PermitWithoutStream true"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFindings(t, Validate(GoClient(tt.c), nil), tt.want)
		})
	}
}

func TestValidateServer(t *testing.T) {
	tests := []struct {
		name string
		p    ServerPolicy
		want []want
	}{
		{"DefaultServerPolicy", DefaultServerPolicy(), nil},
		{"LoadBalancedServerPolicy", LoadBalancedServerPolicy(), nil},
		{"GRPCDefaultServerPolicy", GRPCDefaultServerPolicy(), []want{idleWarning}},
		{"zero ServerPolicy is grpc's default", ServerPolicy{}, []want{idleWarning}},
		{"Time just below the shortest idle timeout", serverWith(func(p *ServerPolicy) { p.Parameters.Time = 4*time.Minute - time.Second }), nil},
		{
			"Time at an idle timeout",
			serverWith(func(p *ServerPolicy) { p.Parameters.Time = 4 * time.Minute }),
			[]want{{Warning, "ServerParameters.Time", []string{"is 4m", "the idle timeout of Azure Load Balancer (default 4m):", "connections without RPCs and quiet RPCs", "MaxConnectionIdle below 4m"}}},
		},
		{
			"server pings off",
			serverWith(func(p *ServerPolicy) { p.Parameters.Time = Infinity; p.Parameters.Timeout = time.Second }),
			[]want{{Warning, "ServerParameters.Time", []string{"is infinity", "Google Cloud's firewall connection tracking (10m)"}}},
		},
		{
			"MaxConnectionIdle covers idle connections but not quiet RPCs",
			serverWith(func(p *ServerPolicy) {
				p.Parameters.Time = 5 * time.Minute
				p.Parameters.MaxConnectionIdle = 3 * time.Minute
			}),
			[]want{{Warning, "ServerParameters.Time", []string{"quiet RPCs (connections without RPCs are closed first by MaxConnectionIdle, 3m)"}}},
		},
		{
			"Time below 1s is raised",
			serverWith(func(p *ServerPolicy) { p.Parameters.Time = 500 * time.Millisecond; p.Parameters.Timeout = 0 }),
			[]want{
				{Warning, "ServerParameters.Time", []string{"is 500ms", "raises anything below 1s to 1s"}},
				{Warning, "ServerParameters.Timeout", []string{"(20s) is not below Time (1s)"}},
			},
		},
		{
			"Time 1s and Timeout 1s: both findings propose the same Timeout and Time, which satisfy both",
			serverWith(func(p *ServerPolicy) { p.Parameters.Time = time.Second; p.Parameters.Timeout = time.Second }),
			[]want{
				{Warning, "ServerParameters.Timeout", []string{"(1s) is not below Time (1s)", "e.g. to 5s and Time to 10s"}},
				{Warning, "ServerParameters.Timeout", []string{"is 1s", "TCP_USER_TIMEOUT", "e.g. Timeout 5s and Time 10s"}},
			},
		},
		{
			"Time 1s and Timeout 20s: Timeout stays at least 5s",
			serverWith(func(p *ServerPolicy) { p.Parameters.Time = time.Second; p.Parameters.Timeout = 20 * time.Second }),
			[]want{{Warning, "ServerParameters.Timeout", []string{"(20s) is not below Time (1s)", "e.g. to 5s and Time to 10s"}}},
		},
		{
			"Timeout not below Time",
			serverWith(func(p *ServerPolicy) { p.Parameters.Time = 10 * time.Second; p.Parameters.Timeout = 10 * time.Second }),
			[]want{{Warning, "ServerParameters.Timeout", []string{"(10s) is not below Time (10s)", "Time+Timeout = 20s", "e.g. to 5s"}}},
		},
		{
			"Timeout too short for TCP_USER_TIMEOUT",
			serverWith(func(p *ServerPolicy) { p.Parameters.Timeout = 2 * time.Second }),
			[]want{{Warning, "ServerParameters.Timeout", []string{"is 2s", "TCP_USER_TIMEOUT", "5s or more"}}},
		},
		{
			"MaxConnectionAge below 10ns panics grpc-go",
			serverWith(func(p *ServerPolicy) { p.Parameters.MaxConnectionAge = 9 }),
			[]want{{Fatal, "ServerParameters.MaxConnectionAge", []string{"is 9ns", "panics", "10m"}}},
		},
		{"MaxConnectionAge of 10ns is fine for grpc-go", serverWith(func(p *ServerPolicy) {
			p.Parameters.MaxConnectionAge = 10
			p.Parameters.MaxConnectionAgeGrace = time.Minute
		}), nil},
		{
			"MaxConnectionAge with infinite grace",
			serverWith(func(p *ServerPolicy) { p.Parameters.MaxConnectionAge = 10 * time.Minute }),
			[]want{{Warning, "ServerParameters.MaxConnectionAgeGrace", []string{"infinite while MaxConnectionAge is 10m", "never rebalances", "2m", "LongestRPC"}}},
		},
		{
			"MaxConnectionAge with zero grace means infinite grace",
			serverWith(func(p *ServerPolicy) {
				p.Parameters.MaxConnectionAge = 10 * time.Minute
				p.Parameters.MaxConnectionAgeGrace = 0
			}),
			[]want{{Warning, "ServerParameters.MaxConnectionAgeGrace", []string{"infinite"}}},
		},
		{
			"infinite grace for RPCs meant to run forever",
			serverWith(func(p *ServerPolicy) { p.Parameters.MaxConnectionAge = 10 * time.Minute; p.LongestRPC = Infinity }),
			nil,
		},
		{
			"grace shorter than the longest RPC",
			serverWith(func(p *ServerPolicy) {
				p.Parameters.MaxConnectionAge = 10 * time.Minute
				p.Parameters.MaxConnectionAgeGrace = 2 * time.Minute
				p.LongestRPC = 5 * time.Minute
			}),
			[]want{{Error, "ServerParameters.MaxConnectionAgeGrace", []string{"is 2m but ServerPolicy.LongestRPC is 5m", "(10m, +/-10%)", "Unavailable 2m later", "at least 5m"}}},
		},
		{
			"finite grace for RPCs meant to run forever",
			serverWith(func(p *ServerPolicy) {
				p.Parameters.MaxConnectionAge = 10 * time.Minute
				p.Parameters.MaxConnectionAgeGrace = 2 * time.Minute
				p.LongestRPC = Infinity
			}),
			[]want{{Error, "ServerParameters.MaxConnectionAgeGrace", []string{"LongestRPC is infinity"}}},
		},
		{
			"grace equal to the longest RPC",
			serverWith(func(p *ServerPolicy) {
				p.Parameters.MaxConnectionAge = 10 * time.Minute
				p.Parameters.MaxConnectionAgeGrace = 2 * time.Minute
				p.LongestRPC = 2 * time.Minute
			}),
			nil,
		},
		{"LoadBalancedServerPolicy with LongestRPC within its grace", serverWith(func(p *ServerPolicy) { *p = LoadBalancedServerPolicy(); p.LongestRPC = time.Minute }), nil},
		{"grace without MaxConnectionAge is never used", serverWith(func(p *ServerPolicy) { p.Parameters.MaxConnectionAgeGrace = time.Second; p.LongestRPC = time.Hour }), nil},
	}
	negatives := []struct {
		sev   Severity
		field string
		edit  func(*ServerPolicy)
		say   string
	}{
		{Error, "ServerParameters.MaxConnectionIdle", func(p *ServerPolicy) { p.Parameters.MaxConnectionIdle = -time.Second }, "max_idle"},
		{Fatal, "ServerParameters.MaxConnectionAge", func(p *ServerPolicy) { p.Parameters.MaxConnectionAge = -time.Second }, "panics"},
		{Error, "ServerParameters.MaxConnectionAgeGrace", func(p *ServerPolicy) { p.Parameters.MaxConnectionAgeGrace = -time.Second }, "closes a connection hard"},
		{Error, "ServerParameters.Time", func(p *ServerPolicy) { p.Parameters.Time = -time.Second }, "busy loop"},
		{Fatal, "ServerParameters.Timeout", func(p *ServerPolicy) { p.Parameters.Timeout = -time.Second }, "TCP_USER_TIMEOUT"},
		{Error, "EnforcementPolicy.MinTime", func(p *ServerPolicy) { p.Enforcement.MinTime = -time.Second }, "enforcement is off"},
		{Error, "ServerPolicy.LongestRPC", func(p *ServerPolicy) { p.LongestRPC = -time.Second }, "0 if unknown"},
	}
	for _, n := range negatives {
		tests = append(tests, struct {
			name string
			p    ServerPolicy
			want []want
		}{"negative " + n.field, serverWith(n.edit), []want{{n.sev, n.field, []string{"is negative (-1s)", n.say, "Set it to"}}}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFindings(t, Validate(nil, tt.p), tt.want)
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		c    keepalive.ClientParameters
		s    ServerPolicy
		want []want
	}{
		// The presets, as they are meant to be paired.
		{"DefaultClientParameters vs DefaultServerPolicy", DefaultClientParameters(), DefaultServerPolicy(), nil},
		{"DefaultClientParameters vs LoadBalancedServerPolicy", DefaultClientParameters(), LoadBalancedServerPolicy(), nil},
		{"LossyNetworkClientParameters vs DefaultServerPolicy", LossyNetworkClientParameters(), DefaultServerPolicy(), nil},
		{"LossyNetworkClientParameters vs LoadBalancedServerPolicy", LossyNetworkClientParameters(), LoadBalancedServerPolicy(), nil},
		{"GRPCDefaultClientParameters vs GRPCDefaultServerPolicy", GRPCDefaultClientParameters(), GRPCDefaultServerPolicy(), []want{idleWarning}},
		{"keepalive off never collects strikes", GRPCDefaultClientParameters(), serverWith(func(p *ServerPolicy) { p.Enforcement = keepalive.EnforcementPolicy{MinTime: Infinity} }), nil},
		{
			"LossyNetworkClientParameters vs a server at grpc's defaults",
			LossyNetworkClientParameters(), GRPCDefaultServerPolicy(),
			[]want{
				{Error, "ClientParameters.Time", []string{"(30s) is below the server's EnforcementPolicy.MinTime (5m)", "too_many_pings", "at least 5m30s", "at most 27s", "lose 4 connections (Time 30s -> 1m -> 2m -> 4m -> 8m)"}},
				{Error, "ClientParameters.PermitWithoutStream", []string{"pings every 30s", "within 2h", "~2m idle", "too_many_pings", "PermitWithoutStream to false"}},
				idleWarning,
			},
		},
		{
			"client Time below MinTime",
			keepalive.ClientParameters{Time: time.Minute, Timeout: 20 * time.Second},
			serverWith(func(p *ServerPolicy) {
				p.Enforcement = keepalive.EnforcementPolicy{MinTime: 5 * time.Minute, PermitWithoutStream: true}
			}),
			[]want{{Error, "ClientParameters.Time", []string{
				"(1m) is below the server's EnforcementPolicy.MinTime (5m)", "a quiet stream or a slow unary call)",
				"third strike (grpc-go tolerates 2)", "GOAWAY ENHANCE_YOUR_CALM \"too_many_pings\"", "Unavailable",
				"doubles Time", "lose 3 connections (Time 1m -> 2m -> 4m -> 8m)", "at least 5m30s", "at most 54s",
			}}},
		},
		{
			"client Time below MinTime, idle pings permitted on both sides",
			keepalive.ClientParameters{Time: time.Minute, Timeout: 20 * time.Second, PermitWithoutStream: true},
			serverWith(func(p *ServerPolicy) {
				p.Enforcement = keepalive.EnforcementPolicy{MinTime: 2 * time.Minute, PermitWithoutStream: true}
			}),
			[]want{{Error, "ClientParameters.Time", []string{"or a connection with no RPC", "lose 1 connection (Time 1m -> 2m)", "at least 2m12s"}}},
		},
		{
			"client Time below an infinite MinTime",
			keepalive.ClientParameters{Time: time.Minute, Timeout: 20 * time.Second},
			serverWith(func(p *ServerPolicy) {
				p.Enforcement = keepalive.EnforcementPolicy{MinTime: Infinity, PermitWithoutStream: true}
			}),
			[]want{{Error, "ClientParameters.Time", []string{"MinTime (infinity)", "never clears an infinite MinTime"}}},
		},
		{
			"zero ClientParameters vs a server at grpc's defaults",
			keepalive.ClientParameters{}, ServerPolicy{},
			[]want{
				{Error, "ClientParameters.Time", []string{"(10s) is below the server's EnforcementPolicy.MinTime (5m)"}},
				{Warning, "ClientParameters.Time", []string{"is 0"}},
				{Warning, "ClientParameters.Timeout", []string{"not below Time"}},
				idleWarning,
			},
		},
		{
			"client Time equal to MinTime",
			keepalive.ClientParameters{Time: 5 * time.Minute, Timeout: 20 * time.Second},
			serverWith(func(p *ServerPolicy) { p.Enforcement.MinTime = 5 * time.Minute }),
			[]want{{Warning, "ClientParameters.Time", []string{"(5m) clears the server's EnforcementPolicy.MinTime (5m) by less than 30s", "grpc/grpc#28830", "at least 5m30s", "at most 4m32s"}}},
		},
		{
			"client Time within the margin above MinTime",
			keepalive.ClientParameters{Time: 5*time.Minute + 29*time.Second, Timeout: 20 * time.Second},
			serverWith(func(p *ServerPolicy) { p.Enforcement.MinTime = 5 * time.Minute }),
			[]want{{Warning, "ClientParameters.Time", []string{"by less than 30s"}}},
		},
		{
			"client Time just past the margin",
			keepalive.ClientParameters{Time: 5*time.Minute + 30*time.Second, Timeout: 20 * time.Second},
			serverWith(func(p *ServerPolicy) { p.Enforcement.MinTime = 5 * time.Minute }),
			nil,
		},
		{
			"the margin is at least 1s",
			keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second},
			serverWith(func(p *ServerPolicy) { p.Enforcement.MinTime = 10 * time.Second }),
			[]want{{Warning, "ClientParameters.Time", []string{"by less than 1s", "at least 11s", "at most 9s"}}},
		},
		{
			"1s above a 10s MinTime is enough",
			keepalive.ClientParameters{Time: 11 * time.Second, Timeout: 5 * time.Second},
			serverWith(func(p *ServerPolicy) { p.Enforcement.MinTime = 10 * time.Second }),
			nil,
		},
		{
			"MinTime compared after the client's 10s clamp",
			keepalive.ClientParameters{Time: time.Second, Timeout: 5 * time.Second},
			serverWith(func(p *ServerPolicy) { p.Enforcement.MinTime = 8 * time.Second }),
			[]want{{Warning, "ClientParameters.Time", []string{"raises anything below 10s"}}},
		},
		{
			"idle pings against a server that forbids them",
			keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 20 * time.Second, PermitWithoutStream: true},
			serverWith(func(p *ServerPolicy) { p.Enforcement.PermitWithoutStream = false }),
			[]want{{Error, "ClientParameters.PermitWithoutStream", []string{"pings every 30s", "within 2h", "~2m idle", "Doubling Time does not help", "EnforcementPolicy.PermitWithoutStream to true"}}},
		},
		{
			"idle pings just over 2h apart",
			keepalive.ClientParameters{Time: 2*time.Hour + 5*time.Minute, Timeout: 20 * time.Second, PermitWithoutStream: true},
			serverWith(func(p *ServerPolicy) { p.Enforcement.PermitWithoutStream = false }),
			[]want{
				{Warning, "ClientParameters.Time", []string{"PermitWithoutStream true"}},
				{Warning, "ClientParameters.PermitWithoutStream", []string{"at least 2h apart", "less than 12m"}},
			},
		},
		{
			"idle pings well over 2h apart",
			keepalive.ClientParameters{Time: 3 * time.Hour, Timeout: 20 * time.Second, PermitWithoutStream: true},
			serverWith(func(p *ServerPolicy) { p.Enforcement.PermitWithoutStream = false }),
			[]want{{Warning, "ClientParameters.Time", []string{"PermitWithoutStream true"}}},
		},
		{
			"no idle pings against a server that forbids them",
			keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 20 * time.Second},
			serverWith(func(p *ServerPolicy) { p.Enforcement.PermitWithoutStream = false }),
			nil,
		},
		{
			"a negative MinTime is reported once, on the server",
			keepalive.ClientParameters{Time: time.Minute, Timeout: 20 * time.Second},
			serverWith(func(p *ServerPolicy) { p.Enforcement.MinTime = -time.Second }),
			[]want{{Error, "EnforcementPolicy.MinTime", []string{"negative"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFindings(t, Validate(GoClient(tt.c), tt.s), tt.want)
		})
	}
}

// TestDefaultClientIsSafeAgainstGRPCDefaults is the proof that
// DefaultClientParameters may be used against any server left at grpc's
// default enforcement: no Error, and nothing at all about the client. The
// only finding is about that server's own keepalive Time.
func TestDefaultClientIsSafeAgainstGRPCDefaults(t *testing.T) {
	for _, s := range []ServerPolicy{GRPCDefaultServerPolicy(), {}} {
		fs := Validate(GoClient(DefaultClientParameters()), s)
		if err := fs.Err(); err != nil {
			t.Errorf("Validate(DefaultClientParameters(), %+v) has errors: %v", s, err)
		}
		for _, f := range fs {
			if strings.HasPrefix(f.Field, "ClientParameters.") {
				t.Errorf("Validate(DefaultClientParameters(), %+v) has a client finding: %s", s, f)
			}
		}
		checkFindings(t, fs, []want{idleWarning})
	}
}

// TestPresetsPairCleanly proves that each client preset is accepted, without
// any finding, by the server presets it is documented to pair with.
func TestPresetsPairCleanly(t *testing.T) {
	clients := map[string]keepalive.ClientParameters{
		"DefaultClientParameters":      DefaultClientParameters(),
		"LossyNetworkClientParameters": LossyNetworkClientParameters(),
		"GRPCDefaultClientParameters":  GRPCDefaultClientParameters(),
	}
	servers := map[string]ServerPolicy{
		"DefaultServerPolicy":      DefaultServerPolicy(),
		"LoadBalancedServerPolicy": LoadBalancedServerPolicy(),
	}
	for cn, c := range clients {
		for sn, s := range servers {
			if fs := Validate(GoClient(c), s); len(fs) != 0 {
				t.Errorf("Validate(%s(), %s()) =\n%s", cn, sn, formatFindings(fs))
			}
		}
	}
}

// TestEveryPresetAloneHasNoError checks each preset on its own.
func TestEveryPresetAloneHasNoError(t *testing.T) {
	for name, c := range map[string]keepalive.ClientParameters{
		"DefaultClientParameters":      DefaultClientParameters(),
		"LossyNetworkClientParameters": LossyNetworkClientParameters(),
		"GRPCDefaultClientParameters":  GRPCDefaultClientParameters(),
	} {
		if err := Validate(GoClient(c), nil).Err(); err != nil {
			t.Errorf("ValidateClient(%s()): %v", name, err)
		}
	}
	for name, s := range map[string]ServerPolicy{
		"DefaultServerPolicy":      DefaultServerPolicy(),
		"LoadBalancedServerPolicy": LoadBalancedServerPolicy(),
		"GRPCDefaultServerPolicy":  GRPCDefaultServerPolicy(),
	} {
		if err := Validate(nil, s).Err(); err != nil {
			t.Errorf("ValidateServer(%s()): %v", name, err)
		}
	}
}

// TestPresetValues pins the numbers the presets' documentation explains, so
// the two cannot drift apart.
func TestPresetValues(t *testing.T) {
	checks := []struct {
		name      string
		got, want any
	}{
		{"DefaultServerPolicy", DefaultServerPolicy(), ServerPolicy{
			Parameters:  keepalive.ServerParameters{MaxConnectionIdle: Infinity, MaxConnectionAge: Infinity, MaxConnectionAgeGrace: Infinity, Time: 2 * time.Minute, Timeout: 20 * time.Second},
			Enforcement: keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true},
		}},
		{"LoadBalancedServerPolicy", LoadBalancedServerPolicy(), ServerPolicy{
			Parameters:  keepalive.ServerParameters{MaxConnectionIdle: 3 * time.Minute, MaxConnectionAge: 10 * time.Minute, MaxConnectionAgeGrace: 2 * time.Minute, Time: time.Minute, Timeout: 20 * time.Second},
			Enforcement: keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true},
		}},
		{"GRPCDefaultServerPolicy", GRPCDefaultServerPolicy(), ServerPolicy{
			Parameters:  keepalive.ServerParameters{MaxConnectionIdle: Infinity, MaxConnectionAge: Infinity, MaxConnectionAgeGrace: Infinity, Time: 2 * time.Hour, Timeout: 20 * time.Second},
			Enforcement: keepalive.EnforcementPolicy{MinTime: 5 * time.Minute},
		}},
		{"DefaultClientParameters", DefaultClientParameters(), keepalive.ClientParameters{Time: 5*time.Minute + 30*time.Second, Timeout: 20 * time.Second}},
		{"LossyNetworkClientParameters", LossyNetworkClientParameters(), keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 20 * time.Second, PermitWithoutStream: true}},
		{"GRPCDefaultClientParameters", GRPCDefaultClientParameters(), keepalive.ClientParameters{Time: Infinity, Timeout: 20 * time.Second}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s() = %+v, want %+v", c.name, c.got, c.want)
		}
	}
}

// TestPresetsAreFresh checks that changing a returned preset does not change
// what the next caller gets.
func TestPresetsAreFresh(t *testing.T) {
	p := LoadBalancedServerPolicy()
	p.Parameters.MaxConnectionAge = time.Second
	p.Enforcement.MinTime = time.Hour
	if q := LoadBalancedServerPolicy(); q.Parameters.MaxConnectionAge != 10*time.Minute || q.Enforcement.MinTime != 5*time.Second {
		t.Errorf("LoadBalancedServerPolicy() changed after a caller edited its result: %+v", q)
	}
}

// TestNormalisation checks that zero values are read the way grpc-go reads
// them: the zero ServerPolicy is GRPCDefaultServerPolicy, and
// GRPCDefaultClientParameters means "no keepalive".
func TestNormalisation(t *testing.T) {
	zkp, zkep := effectiveServer(ServerPolicy{})
	dkp, dkep := effectiveServer(GRPCDefaultServerPolicy())
	if zkp != dkp || zkep != dkep {
		t.Errorf("effectiveServer(ServerPolicy{}) = %+v %+v, effectiveServer(GRPCDefaultServerPolicy()) = %+v %+v", zkp, zkep, dkp, dkep)
	}
	if g := GRPCDefaultServerPolicy(); dkp != g.Parameters || dkep != g.Enforcement {
		t.Errorf("GRPCDefaultServerPolicy() is not already normalised: %+v %+v", dkp, dkep)
	}
	if !reflect.DeepEqual(Validate(GoClient(DefaultClientParameters()), ServerPolicy{}), Validate(GoClient(DefaultClientParameters()), GRPCDefaultServerPolicy())) {
		t.Error("ServerPolicy{} and GRPCDefaultServerPolicy() validate differently")
	}
	if policy.EffectiveClient(GRPCDefaultClientParameters()).Enabled() {
		t.Error("GRPCDefaultClientParameters() enables keepalive")
	}
	for _, c := range []keepalive.ClientParameters{{}, {Time: -time.Second}, {Time: time.Second}} {
		if e := policy.EffectiveClient(c); !e.Enabled() || e.Time != 10*time.Second || e.Timeout != 20*time.Second {
			t.Errorf("policy.EffectiveClient(%+v) = %+v, want keepalive on at 10s with a 20s Timeout", c, e)
		}
	}
	if kp, _ := effectiveServer(ServerPolicy{Parameters: keepalive.ServerParameters{Time: time.Millisecond}}); kp.Time != time.Second {
		t.Errorf("server Time 1ms normalised to %v, want 1s", kp.Time)
	}
}

// TestValidateIncludesEachSide checks that Validate reports each side's own
// findings too.
func TestValidateIncludesEachSide(t *testing.T) {
	c := keepalive.ClientParameters{Time: 5 * time.Second, Timeout: 20 * time.Second}
	s := serverWith(func(p *ServerPolicy) { p.Parameters.Timeout = time.Second })
	got := Validate(GoClient(c), s)
	for _, f := range append(Validate(GoClient(c), nil), Validate(nil, s)...) {
		found := false
		for _, g := range got {
			found = found || g == f
		}
		if !found {
			t.Errorf("Validate lacks %s", f)
		}
	}
}

func TestSeverityString(t *testing.T) {
	for s, want := range map[Severity]string{Warning: "warning", Error: "error", 0: "Severity(0)", 7: "Severity(7)"} {
		if got := s.String(); got != want {
			t.Errorf("Severity(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}

func TestFindingString(t *testing.T) {
	f := Finding{Severity: Error, Field: "ClientParameters.Time", Message: "is wrong."}
	const want = "error: ClientParameters.Time: is wrong."
	if f.String() != want || f.Error() != want {
		t.Errorf("String() = %q, Error() = %q, want %q", f.String(), f.Error(), want)
	}
}

func TestErr(t *testing.T) {
	warn := Finding{Severity: Warning, Field: "ServerParameters.Time", Message: "is slow."}
	e1 := Finding{Severity: Error, Field: "ClientParameters.Time", Message: "is early."}
	e2 := Finding{Severity: Error, Field: "ClientParameters.PermitWithoutStream", Message: "is on."}
	if err := Findings(nil).Err(); err != nil {
		t.Errorf("Findings(nil).Err() = %v", err)
	}
	if err := (Findings{warn}).Err(); err != nil {
		t.Errorf("Err(warning only) = %v", err)
	}
	err := Findings{warn, e1, e2}.Err()
	if err == nil {
		t.Fatal("Err(with errors) = nil")
	}
	if got, want := err.Error(), e1.String()+"\n"+e2.String(); got != want {
		t.Errorf("Err(...).Error() = %q, want %q", got, want)
	}
	var f Finding
	if !errors.As(err, &f) || f != e1 {
		t.Errorf("errors.As(Err(...)) = %v, %+v; want the first Error finding", errors.As(err, &f), f)
	}
	if err := Validate(GoClient(LossyNetworkClientParameters()), GRPCDefaultServerPolicy()).Err(); err == nil {
		t.Error("Err(Validate(LossyNetworkClientParameters(), GRPCDefaultServerPolicy())) = nil, want the too_many_pings errors")
	}
}

func TestFmtDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                               "0s",
		500 * time.Millisecond:          "500ms",
		5 * time.Minute:                 "5m",
		5*time.Minute + 30*time.Second:  "5m30s",
		2 * time.Hour:                   "2h",
		2*time.Hour + 5*time.Minute:     "2h5m",
		time.Hour + time.Second:         "1h0m1s",
		-time.Second:                    "-1s",
		Infinity:                        "infinity",
		350 * time.Second:               "5m50s",
		4*time.Minute + 32*time.Second:  "4m32s",
		10*time.Minute + 10*time.Second: "10m10s",
	} {
		if got := policy.Format(d); got != want {
			t.Errorf("policy.Format(%d) = %q, want %q", int64(d), got, want)
		}
	}
}

func TestCeilSecondAndMargins(t *testing.T) {
	if got := policy.CeilSecond(Infinity); got != Infinity {
		t.Errorf("policy.CeilSecond(Infinity) = %v", got)
	}
	if got := policy.CeilSecond(1500 * time.Millisecond); got != 2*time.Second {
		t.Errorf("policy.CeilSecond(1.5s) = %v", got)
	}
	if got := policy.SatAdd(Infinity, time.Second); got != Infinity {
		t.Errorf("policy.SatAdd(Infinity, 1s) = %v", got)
	}
	// The suggested largest MinTime must itself pass the margin check.
	for _, tm := range []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, 5*time.Minute + 30*time.Second, 3 * time.Hour} {
		m := policy.MaxMinTimeFor(tm)
		if m+policy.PingMargin(m) > tm {
			t.Errorf("policy.MaxMinTimeFor(%v) = %v, but %v + margin %v > %v", tm, m, m, policy.PingMargin(m), tm)
		}
		if n := m + time.Second; n+policy.PingMargin(n) <= tm {
			t.Errorf("policy.MaxMinTimeFor(%v) = %v is not the largest whole second: %v passes too", tm, m, n)
		}
	}
}

func effectiveServer(p ServerPolicy) (keepalive.ServerParameters, keepalive.EnforcementPolicy) {
	return policy.EffectiveServer(p.Parameters, p.Enforcement)
}
