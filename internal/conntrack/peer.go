package conntrack

import (
	"encoding/binary"
	"strings"
	"time"

	"github.com/grpcpulse/grpcpulse/internal/wire"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Which gRPC implementation the peer runs, and which of its PINGs are
// keepalives.
//
// A server learns its client's implementation from the user-agent of the
// client's first RPC (ImplementationFromUserAgent). The wire tells either
// side, from the peer's first SETTINGS frame and its PINGs, as the tables
// in ccore.go, grpcjs.go and java.go record them per implementation; an
// implementation is claimed only on evidence no other implementation
// produces, and the first claim stands:
//
//	claimed      evidence
//	-----------  ------------------------------------------------------------
//	c-core       a SETTINGS frame carrying C-core's own setting 0xfe03
//	             (GRPC_ALLOW_TRUE_BINARY_METADATA): no other implementation
//	             sends it
//	go           a PING with grpc-go's BDP or drain payload (constants of
//	             grpc-go), from a peer whose SETTINGS have grpc-go's shape: a
//	             server's open with MAX_FRAME_SIZE 16384, a client's hold at
//	             most INITIAL_WINDOW_SIZE and MAX_HEADER_LIST_SIZE
//	java         a PING with one of grpc-java's payloads (1234 flow control,
//	             1111 client keepalive, 0xDEAD server keepalive, 0x97ACEF001
//	             graceful shutdown) from a peer whose SETTINGS have
//	             grpc-java's shape: MAX_CONCURRENT_STREAMS,
//	             INITIAL_WINDOW_SIZE, MAX_HEADER_LIST_SIZE (a client's
//	             preceded by ENABLE_PUSH); other Netty-based servers share
//	             the shape, not the payloads
//	             or a server's GOAWAY whose debug data is grpc-java's
//	             "app_requested" (its shutdown), from a peer of that shape
//	js           two PINGs whose payloads are Node's little-endian
//	             nanosecond clock: their difference is the time between
//	             them (grpc-js pings through Node's http2 session.ping,
//	             which stamps its payload so); or a server's max-age drain
//	             whose GOAWAY "max_age" is followed by one with no debug
//	             data (grpc-js's session.goaway, then Node's
//	             session.close; grpc-go and grpc-java repeat "max_age",
//	             C-core sends none)
//
// Keepalive PINGs are told from a peer's other PINGs by the peer's
// implementation, when it is known:
//   - grpc-go's keepalive PING carries 8 zero bytes; its BDP and drain PINGs
//     carry known payloads.
//   - grpc-java's flow-control and graceful-shutdown PINGs carry known
//     payloads; its keepalives carry others.
//   - grpc-js sends only keepalive PINGs (Node's http2 has no flow-control
//     PINGs).
//   - gRPC C-core's PINGs all carry a counter, whatever they are for, so
//     they are told apart by behaviour. C-core resets its keepalive timer
//     whenever it reads anything, so its keepalive PING comes after
//     keepalive_time in which this side wrote nothing. Its flow-control
//     (BDP) PING answers DATA it received: it is sent when that DATA arrives,
//     or, while its estimator waits between probes, when the wait ends (at
//     most about 10.2 s, the longest delay C-core's BdpEstimator grows to).
//     So a C-core PING is a flow-control PING when this side wrote DATA
//     since the peer's previous PING and within cCoreBDPWindow before it,
//     and a keepalive otherwise. What it cannot tell: with the BDP probe off
//     (grpc.http2.bdp_probe=0) and a keepalive_time under cCoreBDPWindow,
//     the first keepalive after a burst of DATA is taken for flow control.
//   - Of an unknown peer, every PING counts but those with a payload known
//     to be something else (wire.IsKeepalivePing).
//
// Whatever the implementation, the first PING after a server's GOAWAY with
// last-stream-id 2^31-1 is the drain's PING (grpc-go's, grpc-java's and
// C-core's two-phase drains all send one) and is no keepalive.

// cCoreBDPWindow is how long after DATA this side wrote a C-core peer's PING
// may come and still be taken for flow control: the longest delay between
// probes C-core's BdpEstimator grows to (10 s plus at most 200 ms), and a
// second for the round trip.
const cCoreBDPWindow = 11200 * time.Millisecond

// drainLastStreamID is the last-stream-id of the first GOAWAY of a
// two-phase drain: "no stream refused yet".
const drainLastStreamID = 1<<31 - 1

// cCoreKeepalive reports whether a C-core peer's PING that arrived at now is
// a keepalive, given when this side last wrote DATA and when the peer's
// previous PING arrived (zero Times: never).
func cCoreKeepalive(lastData, prevPing, now time.Time) bool {
	if lastData.IsZero() || (!prevPing.IsZero() && lastData.Before(prevPing)) {
		return true
	}
	return now.Sub(lastData) >= cCoreBDPWindow
}

// ImplementationFromUserAgent returns the gRPC implementation a client's
// user-agent names: C-core for any token of gRPC C-core ("grpc-c/...") or of
// the languages wrapping it (grpc-python, grpc-c++, grpc-ruby, grpc-php,
// grpc-csharp, grpc-objc), which decides over a wrapper's or application's
// other tokens; otherwise the first of grpc-go ("grpc-go/"), grpc-js
// ("grpc-node-js/") and grpc-java ("grpc-java-netty/", "grpc-java-okhttp/",
// ...); ImplementationOther for a user-agent naming none of them, and
// ImplementationUnknown for none at all. It allocates nothing, and never
// keeps a version.
func ImplementationFromUserAgent(ua string) pulse.Implementation {
	if ua == "" {
		return pulse.ImplementationUnknown
	}
	found := pulse.ImplementationOther
	for ua != "" {
		var tok string
		tok, ua, _ = strings.Cut(ua, " ")
		switch {
		case strings.HasPrefix(tok, "grpc-c/"), strings.HasPrefix(tok, "grpc-python/"), strings.HasPrefix(tok, "grpc-c++/"),
			strings.HasPrefix(tok, "grpc-ruby/"), strings.HasPrefix(tok, "grpc-php/"), strings.HasPrefix(tok, "grpc-csharp/"),
			strings.HasPrefix(tok, "grpc-objc/"):
			return pulse.ImplementationCCore
		case found != pulse.ImplementationOther:
		case strings.HasPrefix(tok, "grpc-go/"):
			found = pulse.ImplementationGo
		case strings.HasPrefix(tok, "grpc-node-js/"):
			found = pulse.ImplementationJS
		case strings.HasPrefix(tok, "grpc-java-"):
			found = pulse.ImplementationJava
		}
	}
	return found
}

// The settings the fingerprints read (RFC 9113 §6.5.2), and C-core's own.
const (
	settingHeaderTableSize   = 0x1
	settingEnablePush        = 0x2
	settingMaxConcurrent     = 0x3
	settingInitialWindowSize = 0x4
	settingMaxFrameSize      = 0x5
	settingMaxHeaderListSize = 0x6
	settingCCoreTrueBinary   = 0xfe03 // GRPC_ALLOW_TRUE_BINARY_METADATA
)

// compat is a set of implementations a peer's SETTINGS are consistent with.
type compat uint8

const (
	compatGo compat = 1 << iota
	compatJava
	compatJS
)

// fingerprint is what the wire has shown of the peer's implementation.
type fingerprint struct {
	nodeVal  uint64        // the payload of the peer's last PING of no known kind, as Node writes its clock
	nodeAt   time.Duration // when it arrived (since pingEpoch); 0: none yet
	impl     pulse.Implementation
	compat   compat
	settings bool // the peer's SETTINGS were seen
}

// settings reads the peer's first SETTINGS frame: the peer is a server
// when this side is a client.
func (f *fingerprint) readSettings(peer pulse.Side, payload []byte) {
	f.settings = true
	var ids [wire.MaxDebugData/6 + 2]uint16
	n := 0
	for i := 0; i+6 <= len(payload) && n < len(ids); i += 6 {
		id := binary.BigEndian.Uint16(payload[i:])
		if id == settingCCoreTrueBinary {
			f.impl = pulse.ImplementationCCore
			return
		}
		ids[n] = id
		n++
	}
	got := ids[:n]
	f.compat = compatJS
	if peer == pulse.SideServer {
		if n > 0 && got[0] == settingMaxFrameSize && binary.BigEndian.Uint32(payload[2:]) == 16384 &&
			subsequence(got[1:], settingMaxConcurrent, settingInitialWindowSize, settingMaxHeaderListSize, settingHeaderTableSize) {
			f.compat |= compatGo
		}
		if equalIDs(got, settingMaxConcurrent, settingInitialWindowSize, settingMaxHeaderListSize) {
			f.compat |= compatJava
		}
		return
	}
	if subsequence(got, settingInitialWindowSize, settingMaxHeaderListSize) {
		f.compat |= compatGo
	}
	if equalIDs(got, settingEnablePush, settingMaxConcurrent, settingInitialWindowSize, settingMaxHeaderListSize) {
		f.compat |= compatJava
	}
}

// readPing reads a PING the peer sent, at now (since pingEpoch).
func (f *fingerprint) readPing(data [8]byte, now time.Duration) {
	if !f.settings {
		return
	}
	switch data {
	case wire.BDPPingData, wire.DrainPingData:
		if f.compat&compatGo != 0 {
			f.impl = pulse.ImplementationGo
		}
		return
	case wire.JavaBDPPingData, wire.JavaGracefulShutdownPingData, wire.JavaClientKeepalivePingData, wire.JavaServerKeepalivePingData:
		if f.compat&compatJava != 0 {
			f.impl = pulse.ImplementationJava
		}
		return
	}
	v := binary.LittleEndian.Uint64(data[:])
	if f.nodeAt != 0 && f.compat&compatJS != 0 && nodeClock(v-f.nodeVal, now-f.nodeAt) {
		f.impl = pulse.ImplementationJS
		return
	}
	f.nodeVal, f.nodeAt = v, now
}

// readGoAway reads a GOAWAY the peer, a server, sent: reason is its class,
// prev the previous one it sent (if valid), debug its debug data.
func (f *fingerprint) readGoAway(prev goAwayKey, reason GoAwayReason, debug []byte) {
	if !f.settings {
		return
	}
	switch {
	case string(debug) == "app_requested" && f.compat&compatJava != 0:
		f.impl = pulse.ImplementationJava
	case prev.valid && prev.reason == GoAwayMaxAge && reason == GoAwayNone && f.compat&compatJS != 0:
		f.impl = pulse.ImplementationJS
	}
}

// nodeClock reports whether two PINGs dt apart whose payloads, read as
// little-endian numbers, differ by dv carry Node's nanosecond clock: dv is
// dt, give or take the delays of the path and of both event loops. Both
// must span at least a tenth of a second, so that a counter (C-core's
// PINGs, read the wrong way round) cannot pass by being small.
func nodeClock(dv uint64, dt time.Duration) bool {
	const least = 100 * time.Millisecond
	if dt < least || dv < uint64(least) || dv > 1<<62 {
		return false
	}
	diff := time.Duration(dv) - dt
	return diff.Abs() <= 50*time.Millisecond+dt/10
}

// subsequence reports whether ids appear in the order of allowed, each at
// most once.
func subsequence(ids []uint16, allowed ...uint16) bool {
	for _, id := range ids {
		for len(allowed) > 0 && allowed[0] != id {
			allowed = allowed[1:]
		}
		if len(allowed) == 0 {
			return false
		}
		allowed = allowed[1:]
	}
	return true
}

// equalIDs reports whether ids are exactly want, in order.
func equalIDs(ids []uint16, want ...uint16) bool {
	if len(ids) != len(want) {
		return false
	}
	for i := range ids {
		if ids[i] != want[i] {
			return false
		}
	}
	return true
}
