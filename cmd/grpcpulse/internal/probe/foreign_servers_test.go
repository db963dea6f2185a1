package probe

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpcpulse/grpcpulse/internal/peers/foreign"
)

// grpc-js drains for age and idle with GOAWAY NO_ERROR and no debug data
// (max age names itself only in its first GOAWAY), enforces no ping
// policy, and pings every keepalive time whatever the traffic.
func TestJSLifetime(t *testing.T) {
	t.Parallel()
	addr := foreign.StartJSServer(t, foreign.JSServerConfig{Args: foreign.Args{
		"grpc.max_connection_age_ms": 4300, "grpc.max_connection_age_grace_ms": 1300,
	}}).Addr
	rep := runProbe(t, Config{Target: addr, Budget: 9 * time.Second, enforceLadder: []time.Duration{700 * time.Millisecond}})
	checkPeer(t, rep, ImplJS)
	checkBracket(t, rep, FindingMaxConnectionAge, 4300*time.Millisecond)
	checkBracket(t, rep, FindingMaxConnectionGrace, 1300*time.Millisecond)
	checkUnobserved(t, rep, FindingMaxConnectionIdle, "a server without one")
}

func TestJSIdleAndKeepalive(t *testing.T) {
	t.Parallel()
	addr := foreign.StartJSServer(t, foreign.JSServerConfig{Args: foreign.Args{
		"grpc.max_connection_idle_ms": 2300, "grpc.keepalive_time_ms": 1900,
	}}).Addr
	rep := runProbe(t, Config{Target: addr, Budget: 9 * time.Second, enforceLadder: []time.Duration{}})
	checkBracket(t, rep, FindingMaxConnectionIdle, 2300*time.Millisecond)
	checkBracket(t, rep, FindingServerKeepalive, 1900*time.Millisecond)
	checkUnobserved(t, rep, FindingMaxConnectionAge, "a server without one")
}

func TestJavaLifetime(t *testing.T) {
	t.Parallel()
	addr := startJavaServer(t, foreign.JavaServerConfig{
		MaxConnectionAge: 4700 * time.Millisecond, MaxConnectionAgeGrace: 1400 * time.Millisecond, MaxConnectionIdle: 2200 * time.Millisecond,
	})
	rep := runProbe(t, Config{Target: addr, Budget: 10 * time.Second, enforceLadder: []time.Duration{700 * time.Millisecond}})
	checkPeer(t, rep, ImplJava)
	checkBracket(t, rep, FindingMaxConnectionAge, 4700*time.Millisecond)
	checkBracket(t, rep, FindingMaxConnectionGrace, 1400*time.Millisecond)
	checkBracket(t, rep, FindingMaxConnectionIdle, 2200*time.Millisecond)
}

// grpc-java raises a server keepAliveTime under 10s to 10s: the probe
// reports what the server does, and says why it differs from what was
// configured. grpc-java judges a PING against the last one it accepted,
// or the connection's start, so its first PING may be a strike; the
// ladder judges its permitKeepAliveTime right all the same.
func TestJavaKeepaliveAndEnforcement(t *testing.T) {
	t.Parallel()
	addr := startJavaServer(t, foreign.JavaServerConfig{KeepAliveTime: 2500 * time.Millisecond, PermitKeepAliveTime: 1300 * time.Millisecond})
	rep := runProbe(t, Config{Target: addr, Budget: 15 * time.Second,
		enforceLadder: []time.Duration{700 * time.Millisecond, 1600 * time.Millisecond}})
	checkBracket(t, rep, FindingServerKeepalive, 10*time.Second)
	if f := rep.Finding(FindingServerKeepalive); !strings.Contains(f.Note, "10s") {
		t.Errorf("keepalive note %q does not say grpc-java raises the setting to 10s", f.Note)
	}
	checkBracket(t, rep, FindingMinTime, 1300*time.Millisecond)
	checkPermit(t, rep, false)
	if f := rep.Finding(FindingMinTime); !strings.Contains(f.Note, "permitKeepAliveTime") {
		t.Errorf("note %q does not say how grpc-java counts strikes", f.Note)
	}
}

// javaStarts lets one JVM start at a time: each takes seconds of CPU to
// start, and several at once starve the timers of the processes the
// other tests measure on two cores.
var javaStarts sync.Mutex

// startJavaServer starts a grpc-java server once no other JVM of these
// tests is starting, and returns its address.
func startJavaServer(t *testing.T, cfg foreign.JavaServerConfig) string {
	t.Helper()
	javaStarts.Lock()
	defer javaStarts.Unlock()
	return foreign.StartJavaServer(t, cfg).Addr
}
