package operators

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/spans"
	"github.com/grpcpulse/grpcpulse/internal/wire"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// goAwayFrame is a GOAWAY's code and debug data.
type goAwayFrame struct {
	code  http2.ErrCode
	debug string
}

// grpcGoSends is every GOAWAY grpc-go v1.85 writes, by the role of the side
// that writes it: what a grpcpulse process (always grpc-go) can send.
// Server: internal/transport/http2_server.go (Drain("max_idle"),
// Drain("max_age"), the ping policy's too_many_pings, a PROTOCOL_ERROR
// with the error's text when the client's headers are invalid), server.go
// (Drain("graceful_stop"), and Drain("") for a connection that arrives
// during GracefulStop) and the xDS server's Drain("draining").
// Client: http2_client.go's "client transport shutdown", the only GOAWAY
// it writes.
var grpcGoSends = map[pulse.Side][]goAwayFrame{
	pulse.SideServer: {
		{http2.ErrCodeNo, "max_age"},
		{http2.ErrCodeNo, "max_idle"},
		{http2.ErrCodeNo, "graceful_stop"},
		{http2.ErrCodeNo, ""},
		{http2.ErrCodeNo, "draining"},
		{http2.ErrCodeEnhanceYourCalm, "too_many_pings"},
		{http2.ErrCodeProtocol, "transport: invalid stream ID"},
	},
	pulse.SideClient: {
		{http2.ErrCodeNo, "client transport shutdown"},
	},
}

// peerDebugData is debug data a peer may send: every text the classifier
// knows, and one it does not. A peer chooses the code and the debug data of
// what this side receives; TestBudgetCoversGoAwayReasons checks that these
// reach every grpc.goaway.reason value.
var peerDebugData = []string{
	"", "too_many_pings", "max_age", "max_idle", "enter idle", "connection idle",
	"graceful_stop", "client transport shutdown", "draining", "whatever the peer says",
}

// peerCodes is every GOAWAY code a peer may send: RFC 9113's and one
// outside it.
func peerCodes() []uint32 {
	var cs []uint32
	for c := uint32(0); c <= uint32(http2.ErrCodeHTTP11Required); c++ {
		cs = append(cs, c)
	}
	return append(cs, 0xff)
}

// closeCombo is the attributes of a grpc.transport.closes series, but
// grpc.close.active_rpcs (true or false for every combination).
type closeCombo struct{ reason, initiator, disconnect string }

// goAwayCombo is the attributes of a grpc.transport.goaways series.
type goAwayCombo struct{ dir, code, reason string }

// reachable is what the code can record, per side ("client", "server").
type reachable struct {
	closes   map[string]map[closeCombo]bool
	reasons  map[string]map[string]bool // grpc.transport.lifetime's reasons
	failures map[string]map[string]bool // grpc.rpc.transport_failures' reasons
	goaways  map[string]map[goAwayCombo]bool
	statuses map[string]map[string]bool // grpc.rpc.transport_failures' status codes
}

// event is one of the journal's first events, which decide a close: a
// GOAWAY sent, a GOAWAY received, a protocol violation received, or the
// first sign of closing.
type event struct {
	slot  int // events in one slot exclude each other: the journal keeps the first
	apply func(s *conntrack.Snapshot, seq uint64)
	// for a GOAWAY: its sender's role, code and class
	goAway        bool
	sender        pulse.Side
	code          uint32
	goAwayReason  conntrack.GoAwayReason
	clientGoodbye bool // this side's own client-shutdown GOAWAY: a mark of closing, never a cause
}

// endKinds lists every wire.EndKind.
func endKinds() []wire.EndKind {
	var ks []wire.EndKind
	seen := map[string]bool{}
	for k := range 256 {
		if n := wire.EndKind(k).String(); !seen[n] {
			seen[n] = true
			ks = append(ks, wire.EndKind(k))
		}
	}
	return ks
}

// events lists every first event a connection of side s can record.
func events(s pulse.Side) []event {
	peer := pulse.SideClient
	if s == pulse.SideClient {
		peer = pulse.SideServer
	}
	var evs []event
	for _, f := range grpcGoSends[s] {
		g := conntrack.GoAwayRecord{Valid: true, Code: uint32(f.code), Reason: conntrack.ClassifyGoAway(s, uint32(f.code), []byte(f.debug))}
		evs = append(evs, event{slot: 0, goAway: true, sender: s, code: g.Code, goAwayReason: g.Reason,
			clientGoodbye: g.Reason == conntrack.GoAwayClientShutdown,
			apply:         func(sn *conntrack.Snapshot, seq uint64) { g.Seq = seq; sn.GoAwaySent = g }})
	}
	for _, code := range peerCodes() {
		for _, d := range peerDebugData {
			g := conntrack.GoAwayRecord{Valid: true, Code: code, Reason: conntrack.ClassifyGoAway(peer, code, []byte(d))}
			evs = append(evs, event{slot: 1, goAway: true, sender: peer, code: code, goAwayReason: g.Reason,
				apply: func(sn *conntrack.Snapshot, seq uint64) { g.Seq = seq; sn.GoAwayReceived = g }})
		}
	}
	evs = append(evs, event{slot: 2, apply: func(sn *conntrack.Snapshot, seq uint64) {
		sn.Violation = conntrack.ViolationRecord{Seq: seq, Valid: true}
	}})
	for _, k := range endKinds() {
		for _, ping := range []bool{false, true} {
			for _, wf := range []bool{false, true} {
				c := conntrack.Closing{Valid: true, Kind: k, PingOutstanding: ping, WriteFailed: wf}
				evs = append(evs, event{slot: 3, apply: func(sn *conntrack.Snapshot, seq uint64) { c.Seq = seq; sn.Closing = c }})
			}
		}
	}
	return evs
}

// enumerate classifies every snapshot of up to two first events, in either
// order, with the reader quit or not, on both sides, and the connection
// without a journal. The classifier reads the earliest event that counts
// (and a received GOAWAY against a failed write), so a third event changes
// nothing.
func enumerate() reachable {
	r := reachable{
		closes: map[string]map[closeCombo]bool{}, reasons: map[string]map[string]bool{},
		failures: map[string]map[string]bool{}, goaways: map[string]map[goAwayCombo]bool{},
		statuses: map[string]map[string]bool{},
	}
	for _, s := range []pulse.Side{pulse.SideClient, pulse.SideServer} {
		side := s.String()
		r.closes[side], r.reasons[side], r.failures[side], r.goaways[side], r.statuses[side] =
			map[closeCombo]bool{}, map[string]bool{}, map[string]bool{}, map[goAwayCombo]bool{}, map[string]bool{}
		record := func(sn conntrack.Snapshot, first *event, second *event) {
			reason, initiator := conntrack.Classify(sn)
			name := reason.String()
			r.closes[side][closeCombo{name, initiator.String(), conntrack.DisconnectError(sn)}] = true
			r.reasons[side][name] = true
			// The RPC layer's rules (internal/rpclink): a client's call
			// failed with its transport when the transport was ending;
			// a server's handler, when the transport was closing.
			if (s == pulse.SideClient && sn.Ending()) || (s == pulse.SideServer && sn.Closing.Valid) {
				r.failures[side][name] = true
			}
		}
		record(conntrack.Snapshot{Side: s}, nil, nil) // no journal: credentials not wrapped
		evs := events(s)
		for _, quit := range []bool{false, true} {
			base := conntrack.Snapshot{Observed: true, Side: s, ReaderQuit: quit}
			record(base, nil, nil)
			for i := range evs {
				sn := base
				evs[i].apply(&sn, 1)
				record(sn, &evs[i], nil)
				for j := range evs {
					if evs[j].slot == evs[i].slot {
						continue
					}
					sn := base
					evs[i].apply(&sn, 1)
					evs[j].apply(&sn, 2)
					record(sn, &evs[i], &evs[j])
				}
			}
		}
		for _, e := range evs {
			if !e.goAway {
				continue
			}
			dir := "received"
			if e.slot == 0 {
				dir = "sent"
			}
			r.goaways[side][goAwayCombo{dir, conntrack.GoAwayCodeName(e.code), e.goAwayReason.String()}] = true
		}
	}
	// A client without a journal falls back to grpc-go's error text.
	for _, msg := range clientErrorTexts() {
		if reason, ok := conntrack.ClassifyErrorText(msg); ok {
			r.failures["client"][reason.String()] = true
		}
	}
	// A client counts a call only with UNAVAILABLE (rpclink.ClientCause);
	// a server counts whatever status its handler returned.
	r.statuses["client"][spans.CodeName(codes.Unavailable)] = true
	for c := range 256 {
		r.statuses["server"][spans.CodeName(codes.Code(c))] = true
	}
	return r
}

// clientErrorTexts are the error texts grpc-go v1.85 gives a client's RPC
// when its transport ends, as conntrack's fallback reads them.
func clientErrorTexts() []string {
	msgs := []string{
		"keepalive ping failed to receive ACK within timeout",
		"error reading from server: read: connection reset by peer",
		"transport: failed to write: write: broken pipe",
		"error reading from server: read: connection timed out",
		"error reading from server: EOF",
		"error reading from server: read: i/o timeout",
		"transport is closing",
		"the connection is draining",
	}
	for _, c := range peerCodes() {
		for _, d := range peerDebugData {
			msgs = append(msgs, fmt.Sprintf("closing transport due to: x, received prior goaway: code: %s, debug data: %q", conntrack.GoAwayCodeName(c), d))
		}
	}
	return msgs
}

// TestBudgetCoversGoAwayReasons checks that peerDebugData reaches every
// grpc.goaway.reason value, so that the budget counts every class a peer
// can make a GOAWAY fall in.
func TestBudgetCoversGoAwayReasons(t *testing.T) {
	reached := map[string]bool{}
	for _, d := range peerDebugData {
		reached[conntrack.ClassifyGoAwayDebug([]byte(d)).String()] = true
	}
	for g := range 256 {
		if n := conntrack.GoAwayReason(g).String(); !reached[n] {
			t.Errorf("grpc.goaway.reason %q is reached by none of peerDebugData: add the debug data that gives it", n)
		}
	}
}

// TestBudget computes, from the classifier, the RPC layer's rules and the
// instruments' real bucket boundaries, how many series one process exports
// at most, and checks that README.md's budget says exactly that.
func TestBudget(t *testing.T) {
	r := enumerate()
	lifetimeBounds, rttBounds := instrumentBuckets(t)
	histogram := func(bounds int) int { return bounds + 3 } // the finite buckets, +Inf, _sum, _count

	n := func(side string, m any) int {
		switch m := m.(type) {
		case map[string]map[closeCombo]bool:
			return len(m[side])
		case map[string]map[string]bool:
			return len(m[side])
		case map[string]map[goAwayCombo]bool:
			return len(m[side])
		}
		panic("unreachable")
	}
	sent := func(side string) (k int) {
		for g := range r.goaways[side] {
			if g.dir == "sent" {
				k++
			}
		}
		return k
	}
	closes := 2 * (n("client", r.closes) + n("server", r.closes))
	lifetime := (n("client", r.reasons) + n("server", r.reasons)) * histogram(lifetimeBounds)
	goaways := n("client", r.goaways) + n("server", r.goaways)
	rtt := 2 * histogram(rttBounds)
	fixed := 2 + closes + lifetime + goaways + 4 + rtt
	perServed := n("server", r.failures) * n("server", r.statuses)
	perCalled := n("client", r.failures) * n("client", r.statuses)

	want := strings.Join([]string{
		"| metric | series, at most | from |",
		"| --- | --- | --- |",
		"| `grpc.transport.connections` | 2 | `grpc.side` |",
		fmt.Sprintf("| `grpc.transport.closes` | %d | the (`grpc.close.reason`, `grpc.close.initiator`, `grpc.disconnect_error`) the classifier can give: %d on a client, %d on a server; × `grpc.close.active_rpcs` |",
			closes, n("client", r.closes), n("server", r.closes)),
		fmt.Sprintf("| `grpc.transport.lifetime` | %d | the reasons a side can give: %d on a client, %d on a server; × (%d boundaries + `+Inf` + `_sum` + `_count`) |",
			lifetime, n("client", r.reasons), n("server", r.reasons), lifetimeBounds),
		fmt.Sprintf("| `grpc.transport.goaways` | %d | sent, what grpc-go writes: %d on a client, %d on a server; received, any code with the reasons the sender's role allows: %d on a client, %d on a server |",
			goaways, sent("client"), sent("server"), n("client", r.goaways)-sent("client"), n("server", r.goaways)-sent("server")),
		"| `grpc.keepalive.pings` | 4 | `grpc.side` × `grpc.ping.direction` |",
		fmt.Sprintf("| `grpc.keepalive.rtt` | %d | `grpc.side` × (%d boundaries + 3) |", rtt, rttBounds),
		fmt.Sprintf("| `grpc.rpc.transport_failures` | %d × (S + 1) + %d × (C + 1) | a server: %d reasons × %d status codes (whatever its handler returned) × its S registered methods and `_OTHER`; a client: %d reasons × `UNAVAILABLE` × the C methods it calls through generated code and `_OTHER` |",
			perServed, perCalled, n("server", r.failures), n("server", r.statuses), n("client", r.failures)),
		fmt.Sprintf("| **total** | **%d + %d × (S + 1) + %d × (C + 1)** | |", fixed, perServed, perCalled),
	}, "\n")

	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- budget: go test ./examples/operators checks this table -->", "<!-- /budget -->"
	doc := string(b)
	i := strings.Index(doc, begin)
	j := strings.Index(doc[max(i, 0):], end)
	if i < 0 || j < 0 {
		t.Fatalf("README.md lacks the budget table between %q and %q", begin, end)
	}
	if got := strings.TrimSpace(doc[i+len(begin) : i+j]); got != want {
		t.Errorf("README.md's budget table is not what the code exports; it should read:\n%s\n\nit reads:\n%s", want, got)
	}
	// The worked example under the table.
	if ex := fmt.Sprintf("%d + %d × 11 + %d × 11 = %d", fixed, perServed, perCalled, fixed+11*(perServed+perCalled)); !strings.Contains(doc, ex) {
		t.Errorf("README.md's example of a service with 10 methods served and 10 called should read %q", ex)
	}
	t.Logf("at most %d + %d × (S + 1) + %d × (C + 1) series per process", fixed, perServed, perCalled)
}

// instrumentBuckets returns the number of bucket boundaries of the
// grpc.transport.lifetime and grpc.keepalive.rtt histograms, as a real
// server exports them: the server pings a quiet connection after a second,
// and the client then closes it.
func instrumentBuckets(t *testing.T) (lifetime, rtt int) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(options.Server(
		options.WithMeterProvider(mp),
		options.WithErrorHandler(func(error) {}), // Validate's warnings about a Time this short
		options.WithServerParameters(keepalive.ServerParameters{Time: time.Second, Timeout: 5 * time.Second}),
	)...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() {
		srv.Stop()
		<-served
	}()
	cc, err := grpc.NewClient(lis.Addr().String(), options.Client(options.WithMeterProvider(mp))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	bounds := func(name string) []float64 {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == name && len(h.DataPoints) > 0 {
					return h.DataPoints[0].Bounds
				}
			}
		}
		return nil
	}
	wait := func(name string) []float64 {
		deadline := time.Now().Add(30 * time.Second)
		for {
			if b := bounds(name); b != nil {
				return b
			}
			if time.Now().After(deadline) {
				t.Fatalf("the server recorded no %s in 30s", name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	rtt = len(wait(semconv.MetricRTT))
	_ = cc.Close()
	lifetime = len(wait(semconv.MetricLifetime))
	return lifetime, rtt
}
