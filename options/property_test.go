package options

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/policy"
)

// pick returns one of vs at random.
func pick[T any](r *rand.Rand, vs ...T) T { return vs[r.IntN(len(vs))] }

// randomClient returns a client of a random implementation, with values at
// and around every default, clamp and threshold.
func randomClient(r *rand.Rand) ClientKeepalive {
	switch r.IntN(4) {
	case 0:
		return GoClient{
			Time:                pick(r, 0, time.Second, 5*time.Second, 10*time.Second, 11*time.Second, 30*time.Second, time.Minute, 5*time.Minute, 5*time.Minute+30*time.Second, 6*time.Minute, 2*time.Hour+5*time.Minute, 3*time.Hour, Infinity),
			Timeout:             pick(r, 0, time.Second, 5*time.Second, 20*time.Second, time.Minute),
			PermitWithoutStream: pick(r, false, true),
		}
	case 1:
		args := CCoreClient{}
		maybe(r, args, policy.ArgKeepaliveTime, 0, 100, 1000, 10000, 60000, 330000, 7500000, 2147483647)
		maybe(r, args, policy.ArgKeepaliveTimeout, 1000, 5000, 20000, 60000)
		maybe(r, args, policy.ArgPermitWithoutCalls, 0, 1)
		maybe(r, args, policy.ArgMaxPingsWithoutData, 0, 1, 2, 5)
		return args
	case 2:
		args := JSClient{}
		maybe(r, args, policy.ArgKeepaliveTime, 1, 10, 1000, 10000, 60000, 330000, 7500000)
		maybe(r, args, policy.ArgKeepaliveTimeout, 100, 5000, 20000)
		maybe(r, args, policy.ArgPermitWithoutCalls, 0, 1)
		return args
	}
	return JavaClient{
		KeepAliveTime:         pick(r, 0, time.Second, 10*time.Second, 30*time.Second, time.Minute, 5*time.Minute+30*time.Second, 6*time.Minute),
		KeepAliveTimeout:      pick(r, 0, time.Millisecond, time.Second, 20*time.Second),
		KeepAliveWithoutCalls: pick(r, false, true),
	}
}

// randomServer returns a server of a random implementation.
func randomServer(r *rand.Rand) ServerKeepalive {
	switch r.IntN(4) {
	case 0:
		return ServerPolicy{
			Parameters: keepalive.ServerParameters{
				Time:                  pick(r, 0, time.Second, 10*time.Second, 2*time.Minute, 5*time.Minute, Infinity),
				Timeout:               pick(r, 0, time.Second, 10*time.Second, 20*time.Second),
				MaxConnectionAge:      pick(r, 0, time.Minute, 10*time.Minute, Infinity),
				MaxConnectionAgeGrace: pick(r, 0, time.Second, 2*time.Minute, Infinity),
			},
			Enforcement: keepalive.EnforcementPolicy{
				MinTime:             pick(r, 0, time.Millisecond, 5*time.Second, 10*time.Second, time.Minute, 5*time.Minute, Infinity),
				PermitWithoutStream: pick(r, false, true),
			},
			LongestRPC: pick(r, 0, time.Minute, 5*time.Minute, Infinity),
		}
	case 1:
		args := CCoreServer{}
		maybe(r, args, policy.ArgKeepaliveTime, 1000, 60000, 120000, 7200000, 2147483647)
		maybe(r, args, policy.ArgKeepaliveTimeout, 1000, 20000)
		maybe(r, args, policy.ArgPermitWithoutCalls, 0, 1)
		maybe(r, args, policy.ArgMinRecvPingInterval, 0, 1000, 10000, 60000, 300000)
		maybe(r, args, policy.ArgMaxPingStrikes, 0, 1, 2, 5)
		maybe(r, args, policy.ArgMaxConnectionAge, 60000, 600000)
		maybe(r, args, policy.ArgMaxConnectionAgeGrac, 1000, 120000)
		return args
	case 2:
		args := JSServer{}
		maybe(r, args, policy.ArgKeepaliveTime, 1000, 60000, 7200000)
		maybe(r, args, policy.ArgKeepaliveTimeout, 1000, 20000)
		maybe(r, args, policy.ArgMaxConnectionAge, 60000, 600000)
		maybe(r, args, policy.ArgMaxConnectionAgeGrac, 0, 1000, 120000)
		return args
	}
	return JavaServer{
		KeepAliveTime:               pick(r, 0, time.Second, 2*time.Minute, 5*time.Minute),
		KeepAliveTimeout:            pick(r, 0, time.Second, 20*time.Second),
		PermitKeepAliveTime:         pick(r, 0, time.Nanosecond, 5*time.Second, time.Minute, 10*time.Minute),
		PermitKeepAliveWithoutCalls: pick(r, false, true),
		MaxConnectionAge:            pick(r, 0, time.Minute),
		MaxConnectionAgeGrace:       pick(r, 0, time.Second),
	}
}

// maybe sets key to one of vs, or leaves it out.
func maybe(r *rand.Rand, args map[string]int, key string, vs ...int) {
	if r.IntN(len(vs)+1) > 0 {
		args[key] = pick(r, vs...)
	}
}

// The property of Validate's advice: for thousands of client and server
// configurations of every implementation, paired every way,
//   - no two findings ask for opposite changes of one setting, in any of
//     their alternatives;
//   - every change a finding about the pair proposes, applied to the
//     client's and server's models, leaves the client's PINGs, replayed
//     through the server's enforcement, without a strike-out, even with
//     each PING early by the margin, in the situation the finding is about
//     and in the RPC case;
//   - every change a finding about one side's keepalive proposes, applied
//     to that side's model, makes its check pass;
//   - no message prints a zero interval or a rule's fix it does not carry.
func TestValidateAdviceProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 3))
	zero := regexp.MustCompile(`every 0s|to (at least |at most )?0 \(0s\)`)
	checked := map[string]int{}
	for i := range 20000 {
		client, server := randomClient(r), randomServer(r)
		if i%5 == 0 {
			server = nil
		} else if i%7 == 0 {
			client = nil
		}
		fs := Validate(client, server)
		name := fmt.Sprintf("Validate(%#v, %#v)", client, server)
		if msg := consistent(fs); msg != "" {
			t.Fatalf("%s: %s", name, msg)
		}
		for _, f := range fs {
			if zero.MatchString(f.Message) {
				t.Errorf("%s: %s prints a zero interval", name, f)
			}
			if strings.Contains(f.Message, "Set ") && f.fixes.n == 0 && f.rule != "server_negative" && f.rule != "server_age_panics" {
				t.Errorf("%s: %s proposes a change it does not carry", name, f)
			}
			checked[f.rule]++
			switch f.rule {
			case "too_many_pings", "too_many_pings_margin", "idle_pings", "idle_pings_margin":
				if f.fixes.n == 0 {
					t.Errorf("%s: %s proposes nothing", name, f)
				}
				c, s := client.clientModel(), server.serverModel()
				sit := policy.QuietRPC
				if strings.HasPrefix(f.rule, "idle") {
					sit = policy.NoRPC
				}
				for _, fix := range f.fixes.list() {
					c2, s2 := fix.ApplyClient(c), fix.ApplyServer(s)
					if policy.StrikesOut(c2, s2, sit) || policy.Marginal(c2, s2, sit) {
						t.Errorf("%s: %s: the change %v still strikes out", name, f, fix)
					}
				}
			case "timeout_not_below_time", "tcp_user_timeout", "client_idle_pings_slow", "ccore_pings_without_data":
				if f.server() {
					s := server.serverModel()
					for _, fix := range f.fixes.list() {
						if ruleFires(serverModelFindings(fix.ApplyServer(s), server.longestRPC()), f) {
							t.Errorf("%s: %s: the change %v does not satisfy the check", name, f, fix)
						}
					}
					continue
				}
				c := client.clientModel()
				var sm *policy.Server
				if server != nil {
					m := server.serverModel()
					sm = &m
				}
				for _, fix := range f.fixes.list() {
					c2 := fix.ApplyClient(c)
					if ruleFires(clientModelFindings(c2, sm), f) {
						t.Errorf("%s: %s: the change %v does not satisfy the check", name, f, fix)
					}
					for _, sit := range []policy.Situation{policy.QuietRPC, policy.NoRPC} {
						if sm != nil && policy.StrikesOut(fix.ApplyClient(c2), fix.ApplyServer(*sm), sit) && !policy.StrikesOut(c, *sm, sit) {
							t.Errorf("%s: %s: the change %v makes the server strike the client out (%s)", name, f, fix, sit)
						}
					}
				}
			case "server_time_idle", "grace_infinite", "grace_short":
				s := server.serverModel()
				for _, fix := range f.fixes.list() {
					if ruleFires(serverModelFindings(fix.ApplyServer(s), server.longestRPC()), f) {
						t.Errorf("%s: %s: the change %v does not satisfy the check", name, f, fix)
					}
				}
			}
		}
	}
	for _, rule := range []string{"too_many_pings", "too_many_pings_margin", "idle_pings", "idle_pings_margin", "timeout_not_below_time",
		"tcp_user_timeout", "client_idle_pings_slow", "ccore_pings_without_data", "server_time_idle", "grace_infinite"} {
		if checked[rule] == 0 {
			t.Errorf("no configuration produced a %s finding: the property was not checked for it", rule)
		}
	}
	t.Logf("findings checked per rule: %v", checked)
}

// ruleFires reports whether fs holds a finding of f's rule about f's field.
func ruleFires(fs []Finding, f Finding) bool {
	for _, g := range fs {
		if g.rule == f.rule && g.Field == f.Field {
			return true
		}
	}
	return false
}

// consistent checks that the findings do not ask for opposite changes: every
// alternative of every finding can be taken together with some alternative
// of every other finding, and one alternative of each can be taken all
// together. It returns what breaks that, or "".
func consistent(fs Findings) string {
	var all [][]policy.Fix
	for _, f := range fs {
		if f.fixes.n > 0 {
			all = append(all, f.fixes.list())
		}
	}
	for a := range all {
		for b := range all {
			if a == b {
				continue
			}
			for _, fa := range all[a] {
				ok := false
				for _, fb := range all[b] {
					ok = ok || !policy.FixesConflict(fa, fb)
				}
				if !ok {
					return fmt.Sprintf("the change %v of one finding contradicts every change of another:\n%s", fa, formatFindings(fs))
				}
			}
		}
	}
	var pickOne func(i int, chosen []policy.Fix) bool
	pickOne = func(i int, chosen []policy.Fix) bool {
		if i == len(all) {
			return true
		}
		for _, f := range all[i] {
			ok := true
			for _, c := range chosen {
				ok = ok && !policy.FixesConflict(f, c)
			}
			if ok && pickOne(i+1, append(chosen, f)) {
				return true
			}
		}
		return false
	}
	if !pickOne(0, nil) {
		return "no choice of one change per finding satisfies them all:\n" + formatFindings(fs)
	}
	return ""
}
