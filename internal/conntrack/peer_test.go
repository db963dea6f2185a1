package conntrack

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/grpcpulse/grpcpulse/internal/wire"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// The user-agents of real clients, and what they say.
func TestImplementationFromUserAgent(t *testing.T) {
	for _, tc := range []struct {
		ua   string
		want pulse.Implementation
	}{
		{"grpc-go/1.85.0", pulse.ImplementationGo},
		{"myapp/2.0 grpc-go/1.85.0", pulse.ImplementationGo},
		{"grpcurl/1.9.1 grpc-go/1.61.0", pulse.ImplementationGo},
		{"grpc-python/1.51.1 grpc-c/29.0.0 (linux; chttp2)", pulse.ImplementationCCore},
		{"grpc-c++/1.60.0 grpc-c/37.0.0 (linux; chttp2)", pulse.ImplementationCCore},
		{"grpc-ruby/1.62.0 grpc-c/39.0.0 (osx; chttp2)", pulse.ImplementationCCore},
		{"grpc-php/1.58.0 grpc-c/35.0.0 (linux; chttp2)", pulse.ImplementationCCore},
		{"grpc-csharp/2.46.6 grpc-c/29.0.0 (windows; chttp2)", pulse.ImplementationCCore},
		{"grpc-python-asyncio/1.51.1 grpc-c/29.0.0 (linux; chttp2)", pulse.ImplementationCCore},
		{"grpc-node-js/1.14.7", pulse.ImplementationJS},
		{"app/1 grpc-node-js/1.9.0", pulse.ImplementationJS},
		{"grpc-java-netty/1.41.3", pulse.ImplementationJava},
		{"grpc-java-okhttp/1.60.0", pulse.ImplementationJava},
		{"grpc-dotnet/2.60.0 (.NET 8.0.0; CLR 8.0.0; net8.0; linux; x64)", pulse.ImplementationOther},
		{"tonic/0.11.0", pulse.ImplementationOther},
		{"curl/8.0.1", pulse.ImplementationOther},
		{"", pulse.ImplementationUnknown},
	} {
		if got := ImplementationFromUserAgent(tc.ua); got != tc.want {
			t.Errorf("ImplementationFromUserAgent(%q) = %v, want %v", tc.ua, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		ImplementationFromUserAgent("grpc-python/1.51.1 grpc-c/29.0.0 (linux; chttp2)")
	}); n != 0 {
		t.Errorf("ImplementationFromUserAgent allocates %v times", n)
	}
}

func settings(ss ...http2.Setting) []byte {
	b := []byte{}
	for _, s := range ss {
		b = binary.BigEndian.AppendUint16(b, uint16(s.ID))
		b = binary.BigEndian.AppendUint32(b, s.Val)
	}
	return b
}

// The first SETTINGS of each implementation, as captured from the real
// peers (grpc-go 1.85, C-core 1.51 through python3-grpcio, grpc-js 1.14.7 on
// Node 20, grpc-java 1.41 on Netty 4.1.48), by the role that sends them.
var (
	goServerSettings    = settings(http2.Setting{ID: 5, Val: 16384})
	goClientSettings    = settings()
	cCoreServerSettings = settings(http2.Setting{ID: 4, Val: 4194303}, http2.Setting{ID: 5, Val: 4194303}, http2.Setting{ID: 6, Val: 8192}, http2.Setting{ID: 0xfe03, Val: 1})
	cCoreClientSettings = settings(http2.Setting{ID: 2, Val: 0}, http2.Setting{ID: 3, Val: 0}, http2.Setting{ID: 4, Val: 4194303},
		http2.Setting{ID: 5, Val: 4194303}, http2.Setting{ID: 6, Val: 8192}, http2.Setting{ID: 0xfe03, Val: 1})
	jsServerSettings   = settings()
	jsClientSettings   = settings(http2.Setting{ID: 4, Val: 65535})
	javaServerSettings = settings(http2.Setting{ID: 3, Val: 2147483647}, http2.Setting{ID: 4, Val: 1048576}, http2.Setting{ID: 6, Val: 8192})
	javaClientSettings = settings(http2.Setting{ID: 2, Val: 0}, http2.Setting{ID: 3, Val: 0}, http2.Setting{ID: 4, Val: 1048576}, http2.Setting{ID: 6, Val: 8192})
	// nginx 1.22's grpc_pass front: not a gRPC implementation.
	nginxSettings = settings(http2.Setting{ID: 3, Val: 128}, http2.Setting{ID: 4, Val: 65536}, http2.Setting{ID: 5, Val: 16777215})
)

// nodePing is a PING payload as Node's http2 stamps it: its clock in
// nanoseconds, little-endian.
func nodePing(clock time.Duration) [8]byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(clock))
	return b
}

func counterPing(n uint64) [8]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b
}

type timedPing struct {
	at   time.Duration
	data [8]byte
}

// What the wire shows of each implementation, and what is claimed from it.
func TestFingerprint(t *testing.T) {
	const boot = 1790 * time.Second // Node's clock: time since its host booted
	for _, tc := range []struct {
		name     string
		peer     pulse.Side
		settings []byte
		pings    []timedPing
		want     pulse.Implementation
	}{
		{"c-core server: its SETTINGS alone", pulse.SideServer, cCoreServerSettings, nil, pulse.ImplementationCCore},
		{"c-core client: its SETTINGS alone", pulse.SideClient, cCoreClientSettings, nil, pulse.ImplementationCCore},
		{"grpc-go server: SETTINGS and its BDP PING", pulse.SideServer, goServerSettings, []timedPing{{1, wire.BDPPingData}}, pulse.ImplementationGo},
		{"grpc-go server: its drain PING", pulse.SideServer, goServerSettings, []timedPing{{1, wire.DrainPingData}}, pulse.ImplementationGo},
		{"grpc-go client: SETTINGS and its BDP PING", pulse.SideClient, goClientSettings, []timedPing{{1, wire.BDPPingData}}, pulse.ImplementationGo},
		{"grpc-go server: keepalive PINGs alone do not tell", pulse.SideServer, goServerSettings, []timedPing{{1, wire.KeepalivePingData}, {2 * time.Second, wire.KeepalivePingData}}, pulse.ImplementationUnknown},
		{"grpc-go's payload from a server of another shape", pulse.SideServer, nginxSettings, []timedPing{{1, wire.BDPPingData}}, pulse.ImplementationUnknown},
		{"grpc-java server: SETTINGS and its BDP PING", pulse.SideServer, javaServerSettings, []timedPing{{1, wire.JavaBDPPingData}}, pulse.ImplementationJava},
		{"grpc-java server: its graceful shutdown PING", pulse.SideServer, javaServerSettings, []timedPing{{1, wire.JavaGracefulShutdownPingData}}, pulse.ImplementationJava},
		{"grpc-java client: its keepalive PING", pulse.SideClient, javaClientSettings, []timedPing{{1, wire.JavaClientKeepalivePingData}}, pulse.ImplementationJava},
		{"a Netty server that is not grpc-java: the shape alone does not tell", pulse.SideServer, javaServerSettings, []timedPing{{1, wire.KeepalivePingData}}, pulse.ImplementationUnknown},
		{"grpc-java's payload from a client of another shape", pulse.SideClient, goClientSettings, []timedPing{{1, wire.JavaBDPPingData}}, pulse.ImplementationUnknown},
		{"grpc-js server: two PINGs stamped with Node's clock", pulse.SideServer, jsServerSettings,
			[]timedPing{{3 * time.Second, nodePing(boot)}, {6*time.Second + 3*time.Millisecond, nodePing(boot + 3*time.Second + time.Millisecond)}}, pulse.ImplementationJS},
		{"grpc-js client", pulse.SideClient, jsClientSettings,
			[]timedPing{{2 * time.Second, nodePing(boot)}, {4 * time.Second, nodePing(boot + 2*time.Second)}}, pulse.ImplementationJS},
		{"one Node PING does not tell", pulse.SideServer, jsServerSettings, []timedPing{{3 * time.Second, nodePing(boot)}}, pulse.ImplementationUnknown},
		{"stamps that do not follow the time between the PINGs", pulse.SideServer, jsServerSettings,
			[]timedPing{{3 * time.Second, nodePing(boot)}, {6 * time.Second, nodePing(boot + 9*time.Second)}}, pulse.ImplementationUnknown},
		{"a counter read as Node's clock", pulse.SideServer, jsServerSettings,
			[]timedPing{{1 * time.Millisecond, counterPing(1)}, {2 * time.Millisecond, counterPing(2)}, {5 * time.Second, counterPing(3)}}, pulse.ImplementationUnknown},
		{"nginx", pulse.SideServer, nginxSettings, []timedPing{{1, wire.KeepalivePingData}}, pulse.ImplementationUnknown},
		{"PINGs before any SETTINGS", pulse.SideServer, nil, []timedPing{{1, wire.BDPPingData}}, pulse.ImplementationUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f fingerprint
			if tc.settings != nil {
				f.readSettings(tc.peer, tc.settings)
			}
			for _, p := range tc.pings {
				if f.impl == pulse.ImplementationUnknown {
					f.readPing(p.data, p.at)
				}
			}
			if f.impl != tc.want {
				t.Errorf("claimed %v, want %v", f.impl, tc.want)
			}
		})
	}
}

// A server's drains: grpc-js's max age and grpc-java's shutdown say which
// they are; grpc-go's and C-core's do not add to what their SETTINGS say.
func TestFingerprintByDrain(t *testing.T) {
	const all = drainLastStreamID
	for _, tc := range []struct {
		name     string
		settings []byte
		goaways  []struct {
			last  uint32
			debug string
		}
		want pulse.Implementation
	}{
		{"grpc-js max age: max_age, then Node's empty GOAWAY", jsServerSettings, []struct {
			last  uint32
			debug string
		}{{all, "max_age"}, {13, ""}}, pulse.ImplementationJS},
		{"grpc-go max age repeats max_age", goServerSettings, []struct {
			last  uint32
			debug string
		}{{all, "max_age"}, {13, "max_age"}}, pulse.ImplementationUnknown},
		{"grpc-java shutdown", javaServerSettings, []struct {
			last  uint32
			debug string
		}{{all, "app_requested"}}, pulse.ImplementationJava},
		{"app_requested from a server of another shape", nginxSettings, []struct {
			last  uint32
			debug string
		}{{all, "app_requested"}}, pulse.ImplementationUnknown},
		{"an empty drain alone says nothing", jsServerSettings, []struct {
			last  uint32
			debug string
		}{{3, ""}, {3, ""}}, pulse.ImplementationUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &Journal{side: pulse.SideClient}
			j.Settings(tc.settings)
			for _, g := range tc.goaways {
				j.GoAway(wire.Received, g.last, codeNo, []byte(g.debug))
			}
			if got := j.Snapshot().Peer; got != tc.want {
				t.Errorf("Peer = %v, want %v", got, tc.want)
			}
		})
	}
}

// A journal claims the peer's implementation once, and keeps the first
// claim; the snapshot carries it.
func TestJournalClaimsPeer(t *testing.T) {
	j := &Journal{side: pulse.SideClient}
	j.Settings(cCoreServerSettings)
	j.Ping(wire.Received, false, wire.JavaBDPPingData)
	if got := j.Snapshot().Peer; got != pulse.ImplementationCCore {
		t.Errorf("Peer = %v, want c-core", got)
	}
	j = &Journal{side: pulse.SideServer}
	j.Settings(javaClientSettings)
	j.Settings(cCoreServerSettings) // a later SETTINGS frame: only the first is read
	j.Ping(wire.Received, false, wire.JavaClientKeepalivePingData)
	if got := j.Snapshot().Peer; got != pulse.ImplementationJava {
		t.Errorf("Peer = %v, want java", got)
	}
}

// parseSettings reads a SETTINGS payload.
func parseSettings(b []byte) []http2.Setting {
	var ss []http2.Setting
	for i := 0; i+6 <= len(b); i += 6 {
		ss = append(ss, http2.Setting{ID: http2.SettingID(binary.BigEndian.Uint16(b[i:])), Val: binary.BigEndian.Uint32(b[i+2:])})
	}
	return ss
}

// A client's user-agent decides over its SETTINGS: a C-core client whose
// SETTINGS lack C-core's own setting is read by C-core's rules once its
// first RPC names it.
func TestUserAgentDecides(t *testing.T) {
	a, b := net.Pipe()
	go func() { _, _ = io.Copy(io.Discard, b) }()
	p := observeWith(t, a, b, http2.Setting{ID: 4, Val: 4194303})
	p.j.SetPeer(pulse.ImplementationCCore)
	if _, err := p.conn.Write([]byte{0, 0, 1, 0, 0, 0, 0, 0, 1, 'x'}); err != nil {
		t.Fatal(err)
	}
	p.j.Ping(wire.Received, false, counterPing(0))
	if s := p.j.Snapshot(); s.Peer != pulse.ImplementationCCore || s.PingsReceived != 0 {
		t.Errorf("Peer %v, %d keepalives; want c-core and its flow-control PING not counted", s.Peer, s.PingsReceived)
	}
	p.j.SetPeer(pulse.ImplementationOther)
	if s := p.j.Snapshot(); s.Peer != pulse.ImplementationCCore {
		t.Errorf("a user-agent naming no implementation replaced the claim: %v", s.Peer)
	}
}

// Which of a peer's PINGs are keepalives, by its implementation, as the
// journal counts them; DATA this side wrote is what tells a C-core peer's
// flow-control PINGs from its keepalives.
func TestPeerPingKinds(t *testing.T) {
	type step struct {
		data      bool // this side writes DATA first
		ping      [8]byte
		keepalive bool
	}
	c := counterPing
	for _, tc := range []struct {
		name     string
		settings []byte
		steps    []step
	}{
		{"grpc-go client: BDP PINGs are not keepalives", goClientSettings, []step{
			{true, wire.BDPPingData, false}, {false, wire.KeepalivePingData, true}, {true, wire.BDPPingData, false}}},
		{"grpc-java client: BDP PINGs are not, 1111 is", javaClientSettings, []step{
			{true, wire.JavaBDPPingData, false}, {false, wire.JavaClientKeepalivePingData, true}}},
		{"c-core client: a PING after DATA is flow control, one after silence a keepalive", cCoreClientSettings, []step{
			{true, c(0), false}, {false, c(1), true}, {false, c(2), true}, {true, c(3), false}, {true, c(4), false}, {false, c(5), true}}},
		{"c-core client: its counter reaching grpc-java's payloads", cCoreClientSettings, []step{
			{false, c(1111), true}, {true, c(1234), false}}},
		{"unknown client: every PING but known non-keepalive payloads", nginxSettings, []step{
			{true, c(0), true}, {true, wire.BDPPingData, false}, {true, wire.JavaBDPPingData, false}, {false, c(7), true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			go func() { _, _ = io.Copy(io.Discard, b) }()
			p := observeWith(t, a, b, parseSettings(tc.settings)...)
			var want int64
			for i, s := range tc.steps {
				if s.data {
					if _, err := p.conn.Write([]byte{0, 0, 1, 0, 0, 0, 0, 0, 1, 'x'}); err != nil {
						t.Fatal(err)
					}
				}
				p.j.Ping(wire.Received, false, s.ping)
				if s.keepalive {
					want++
				}
				if got := p.j.Snapshot().PingsReceived; got != want {
					t.Fatalf("after PING %d (%x): %d keepalives counted, want %d", i, s.ping, got, want)
				}
			}
		})
	}
}

// cCoreKeepalive decides by the last DATA this side wrote, the peer's
// previous PING and the window: at its edges.
func TestCCoreKeepaliveWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name           string
		data, prev, at time.Duration // since t0; data < 0: none written
		want           bool
	}{
		{"no DATA written", -1, 0, time.Second, true},
		{"DATA, then the first PING", 0, -1, time.Millisecond, false},
		{"DATA before the previous PING", time.Second, 2 * time.Second, 3 * time.Second, true},
		{"DATA since the previous PING, just within the window", 2 * time.Second, time.Second, 2*time.Second + cCoreBDPWindow - time.Millisecond, false},
		{"DATA since the previous PING, beyond the window", 2 * time.Second, time.Second, 2*time.Second + cCoreBDPWindow, true},
	} {
		var data time.Time
		if tc.data >= 0 {
			data = t0.Add(tc.data)
		}
		var prev time.Time
		if tc.prev >= 0 {
			prev = t0.Add(tc.prev)
		}
		if got := cCoreKeepalive(data, prev, t0.Add(tc.at)); got != tc.want {
			t.Errorf("%s: keepalive = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// After a server's drain GOAWAY, its next PING is the drain's, whatever its
// payload; the PINGs after that count again.
func TestDrainPingIsNoKeepalive(t *testing.T) {
	j := &Journal{side: pulse.SideClient}
	j.Settings(cCoreServerSettings)
	j.GoAway(wire.Received, drainLastStreamID, codeNo, nil)
	j.Ping(wire.Received, false, counterPing(4))
	if n := j.Snapshot().PingsReceived; n != 0 {
		t.Fatalf("the drain's PING counted as a keepalive")
	}
	j.Ping(wire.Received, false, counterPing(5))
	if n := j.Snapshot().PingsReceived; n != 1 {
		t.Fatalf("a PING after the drain's: %d keepalives, want 1", n)
	}
	// A client's GOAWAY is no drain.
	j = &Journal{side: pulse.SideServer}
	j.GoAway(wire.Received, drainLastStreamID, codeNo, nil)
	j.Ping(wire.Received, false, counterPing(4))
	if n := j.Snapshot().PingsReceived; n != 1 {
		t.Fatalf("a PING after a client's GOAWAY: %d keepalives, want 1", n)
	}
}
