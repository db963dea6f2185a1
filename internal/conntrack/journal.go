package conntrack

import (
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/grpcpulse/grpcpulse/internal/wire"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Hooks receives the journal's events as they happen, so that counters and
// span events are recorded live rather than only at the connection's end.
// Calls are made without the journal's lock held and must not block.
type Hooks interface {
	// KeepalivePing is called for every keepalive PING (not ACK) sent or
	// received.
	KeepalivePing(j *Journal, dir Direction)
	// KeepaliveRTT is called when a keepalive PING this side sent is acked.
	KeepaliveRTT(j *Journal, rtt time.Duration)
	// GoAway is called once per GOAWAY event: the repeated frames of one
	// graceful drain (same code and debug data) are one event.
	GoAway(j *Journal, g GoAway)
	// Closing is called once, at the first sign that the connection is
	// ending (a local close, a failed read or write, the client's own
	// shutdown GOAWAY), before grpc-go fails the RPCs on it: what is in
	// flight then is what the end cut.
	Closing(j *Journal)
}

// GoAway is one GOAWAY event.
type GoAway struct {
	Dir          Direction
	Code         uint32
	Reason       GoAwayReason
	LastStreamID uint32
	seq          uint64
}

// Journal is the record of one connection. It implements wire.Sink. All
// methods are safe for concurrent use.
type Journal struct {
	hooks Hooks
	reg   *Registry
	// conn is the observed conn, for its addresses, ReaderQuit and
	// LastRead; nil in tests that drive the journal directly.
	conn *wire.Conn

	mu  sync.Mutex
	seq uint64
	rec Record // the classifier's input, kept current

	// keepalive state
	pingSentAt time.Time
	peerPings  [4]time.Duration // the peer's last keepalive PINGs (since pingEpoch), a ring indexed by PingsReceived
	pingData   [8]byte
	lastGoAway [2]goAwayKey  // per direction, for de-duplicating drains
	peerPingAt time.Duration // when the peer's last PING of any kind arrived (since pingEpoch)
	fp         fingerprint
	unclaimed  *time.Timer // frees the journal if no handler claims it
	tag        any

	side            pulse.Side
	pingOutstanding bool
	// pingRestarted: the outstanding PING's time is not its own but that
	// of a later keepalive PING sent after reads (see Ping), so its ACK
	// times no round trip.
	pingRestarted bool
	claimed       bool
	forgotten     bool // freed unclaimed: a late Claim must fail
	// drainPing: the peer server's drain GOAWAY came and no PING since;
	// the next PING is the drain's.
	drainPing bool
	// peerPreface: the peer's connection preface, its first SETTINGS,
	// was read in full (see Closed).
	peerPreface bool
}

type goAwayKey struct {
	code   uint32
	valid  bool
	reason GoAwayReason
}

// Ping implements wire.Sink.
func (j *Journal) Ping(dir wire.Direction, ack bool, data [8]byte) {
	var (
		keepalive bool
		rtt       time.Duration
	)
	switch {
	case !ack && dir == wire.Sent && wire.IsKeepalivePing(data):
		// This side is grpc-go: its PINGs say what they are.
		keepalive = true
		now := time.Now()
		j.mu.Lock()
		j.rec.PingsSent++
		switch {
		case !j.pingOutstanding:
			j.pingOutstanding, j.pingData, j.pingSentAt, j.pingRestarted = true, data, now, false
		case j.conn != nil && j.conn.LastRead().After(j.pingSentAt):
			// The outstanding PING is unanswered, yet bytes came in
			// after it: the path was alive then, and the keepalive
			// timer has begun again (grpc-go restarts it on any
			// read). The silence that matters if the connection
			// dies now is the one before this PING, so its time
			// stands for the outstanding one.
			j.pingData, j.pingSentAt, j.pingRestarted = data, now, true
		}
		j.mu.Unlock()
	case !ack && dir == wire.Received:
		j.mu.Lock()
		keepalive = j.peerPingLocked(data)
		j.mu.Unlock()
	case ack && dir == wire.Received:
		// Only an ACK of this side's keepalive PING is timed; the clock
		// is read only then.
		j.mu.Lock()
		if j.pingOutstanding && data == j.pingData {
			j.pingOutstanding = false
			if !j.pingRestarted {
				// An ACK answers the oldest PING: a restarted one's
				// time is not when the PING it answers was sent.
				rtt = time.Since(j.pingSentAt)
				j.rec.LastRTT = rtt
			}
			j.pingRestarted = false
		}
		j.mu.Unlock()
	}
	if j.hooks == nil {
		return
	}
	if keepalive {
		j.hooks.KeepalivePing(j, dir)
	}
	if rtt > 0 {
		j.hooks.KeepaliveRTT(j, rtt)
	}
}

// peerPingLocked reads a PING the peer sent (see peer.go): it feeds the
// fingerprint, and records and reports whether the PING is a keepalive.
// The clock is read only for a PING whose payload does not say what it
// is.
func (j *Journal) peerPingLocked(data [8]byte) bool {
	impl := j.fp.impl
	if impl == pulse.ImplementationGo && !j.drainPing {
		// The busiest case, a grpc-go peer's BDP PING per burst of DATA,
		// is decided by its payload alone.
		if data != wire.KeepalivePingData {
			return false
		}
	}
	now := time.Since(pingEpoch)
	prev := j.peerPingAt
	j.peerPingAt = now
	if impl == pulse.ImplementationUnknown {
		j.fp.readPing(data, now)
		if j.fp.impl != impl {
			j.claimedLocked()
		}
	}
	if j.drainPing {
		j.drainPing = false
		return false
	}
	var keepalive bool
	switch j.fp.impl {
	case pulse.ImplementationGo:
		keepalive = data == wire.KeepalivePingData
	case pulse.ImplementationJS:
		keepalive = true
	case pulse.ImplementationCCore:
		keepalive = true
		if j.conn != nil {
			var prevAt time.Time
			if prev > 0 {
				prevAt = pingEpoch.Add(prev)
			}
			keepalive = cCoreKeepalive(j.conn.LastDataWrite(), prevAt, pingEpoch.Add(now))
		}
	default:
		keepalive = wire.IsKeepalivePing(data)
	}
	if keepalive {
		j.rec.PingsReceived++
		j.peerPings[j.rec.PingsReceived%int64(len(j.peerPings))] = now
	}
	return keepalive
}

// claimedLocked records the implementation the fingerprint just claimed.
func (j *Journal) claimedLocked() {
	j.rec.Peer = j.fp.impl
	if j.fp.impl == pulse.ImplementationCCore && j.conn != nil {
		// C-core's PINGs are told apart by the DATA this side wrote
		// before them.
		j.conn.TrackDataWrites()
	}
}

// SetPeer records the implementation a client's user-agent names, on a
// server: it decides over the wire's evidence, so that the client's PINGs
// are read by its implementation's rules even where its SETTINGS did not
// show it (C-core with grpc.http2.true_binary off omits its own setting).
func (j *Journal) SetPeer(impl pulse.Implementation) {
	if impl == pulse.ImplementationUnknown || impl == pulse.ImplementationOther {
		return
	}
	j.mu.Lock()
	if j.fp.impl != impl {
		j.fp.impl = impl
		j.claimedLocked()
	}
	j.mu.Unlock()
}

// Settings implements wire.Sink: the first completes the peer's preface,
// and its settings are the first evidence of the peer's implementation.
func (j *Journal) Settings(payload []byte) {
	j.mu.Lock()
	j.peerPreface = true
	if !j.fp.settings && j.fp.impl == pulse.ImplementationUnknown {
		j.fp.readSettings(peerOf(j.side), payload)
		if j.fp.impl != pulse.ImplementationUnknown {
			j.claimedLocked()
		}
	}
	j.mu.Unlock()
}

// GoAway implements wire.Sink.
func (j *Journal) GoAway(dir wire.Direction, lastStreamID, code uint32, debug []byte) {
	// A GOAWAY is read by the role of the side that sent it: only a
	// server drains or answers too_many_pings, only a client shuts down.
	g := GoAway{Dir: dir, Code: code, Reason: ClassifyGoAway(sender(j.side, dir), code, debug), LastStreamID: lastStreamID}
	key := goAwayKey{valid: true, code: code, reason: g.Reason}
	j.mu.Lock()
	if dir == wire.Received && j.side == pulse.SideClient {
		if lastStreamID == drainLastStreamID {
			j.drainPing = true
		}
		if j.fp.impl == pulse.ImplementationUnknown {
			j.fp.readGoAway(j.lastGoAway[dir], g.Reason, debug)
			if j.fp.impl != pulse.ImplementationUnknown {
				j.claimedLocked()
			}
		}
	}
	if prev := j.lastGoAway[dir]; prev == key || (prev.valid && prev.code == code && g.Reason == GoAwayNone) {
		// A later frame of the same drain: grpc-go's two-phase drain
		// repeats code and debug data; grpc-js and C-core repeat the code
		// with empty debug data (Node's session.close). Either only lowers
		// last-stream-id, and one drain is one event.
		j.mu.Unlock()
		return
	}
	j.lastGoAway[dir] = key
	j.seq++
	g.seq = j.seq
	first := &j.rec.GoAwayReceived
	closing := false
	switch {
	case dir == wire.Sent && g.Reason == GoAwayClientShutdown:
		// grpc-go's client writes this GOAWAY from Close, whatever made
		// it close: it marks the local close, not a cause.
		closing = j.markClosingLocked(wire.EndLocalClose)
	case code != uint32(http2.ErrCodeNo):
		// A GOAWAY with an error code (too_many_pings, a protocol error)
		// is a connection error: its sender closes the connection at
		// once (RFC 9113 section 5.4.1). The end has begun, whichever
		// side sent it: a stream the peer resets after it (grpc-js
		// resets them all when it reads one) was cut by it, and so was
		// one that gRPC C-core, after its too_many_pings GOAWAY, ends
		// with a status of its own before it closes.
		kind := wire.EndLocalClose
		if dir == wire.Received {
			kind = wire.EndEOF
		}
		closing = j.markClosingLocked(kind)
	}
	if dir == wire.Sent {
		first = &j.rec.GoAwaySent
	}
	j.rec.GoAways++
	if !first.Valid {
		*first = GoAwayRecord{Valid: true, Seq: g.seq, Code: code, Reason: g.Reason, LastStreamID: lastStreamID}
	}
	j.mu.Unlock()
	if j.hooks != nil {
		if closing {
			j.hooks.Closing(j)
		}
		j.hooks.GoAway(j, g)
	}
}

// RSTStream implements wire.Sink. A stream reset ends one RPC, not the
// connection, and the RPC layer sees it for itself: the journal keeps
// nothing of it.
func (j *Journal) RSTStream(wire.Direction, uint32, uint32) {}

// Violation implements wire.Sink: the peer broke HTTP/2 in a way grpc-go
// answers by closing the transport.
func (j *Journal) Violation(dir wire.Direction, v wire.Violation) {
	if dir != wire.Received {
		return
	}
	j.mu.Lock()
	if !j.rec.Violation.Valid {
		j.seq++
		j.rec.Violation = ViolationRecord{Valid: true, Seq: j.seq, Kind: v}
	}
	j.mu.Unlock()
}

// End implements wire.Sink.
func (j *Journal) End(e wire.End) {
	j.mu.Lock()
	if j.rec.Ended {
		// The failure that a read's EOF stood for (see wire.Sink.End):
		// it is the end and, if that EOF was the first sign of the end,
		// the first sign, as the write that saw it would have recorded.
		j.rec.EndKind = e.Kind
		if c := &j.rec.Closing; c.Valid && c.Kind == wire.EndEOF {
			c.Kind, c.WriteFailed = e.Kind, e.Dir == wire.Sent
		}
		j.mu.Unlock()
		return
	}
	j.rec.Ended = true
	j.rec.EndKind = e.Kind
	closing := j.markClosingLocked(e.Kind)
	if closing && e.Dir == wire.Sent && e.Kind != wire.EndLocalClose && e.Kind != wire.EndDeadline {
		j.rec.Closing.WriteFailed = true
	}
	j.mu.Unlock()
	if closing && j.hooks != nil {
		j.hooks.Closing(j)
	}
	// An unclaimed journal is not freed at its end: grpc-go's server tags
	// a transport (TagConn) on another goroutine after its writer has
	// started, so a peer that goes away at once ends the conn first, and
	// its TagConn must still find the journal. Closed frees one that can
	// no longer be claimed.
}

// Closed implements wire.Sink. A journal that no stats handler claimed is
// freed when its conn is closed before the peer's connection preface was
// read: grpc-go makes a connection a transport, which it then tags
// (TagConn), only after reading that preface, and it reads nothing from a
// closed conn. Scanners and broken clients make such connections (TCP
// connected, the handshake of the wrapped credentials done, the HTTP/2
// preface never finished), and grpc-go closes them through this conn when
// it gives up on them.
//
// Nothing reads the conn while it is closed: grpc-go's server reads the
// preface and closes a conn whose preface failed on one goroutine, and its
// client tags a transport before it reads anything. A journal whose preface
// was read is left to be claimed, or to the unclaimed timer.
func (j *Journal) Closed() {
	j.mu.Lock()
	free := !j.claimed && !j.forgotten && !j.peerPreface
	j.mu.Unlock()
	if free {
		j.forgetUnclaimed()
	}
}

// pingEpoch anchors the monotonic times of the peer's keepalive PINGs: a
// Duration since it takes a third of a time.Time's room.
var pingEpoch = time.Now()

// unclaimedGrace is how long a journal waits to be claimed by a stats
// handler. grpc-go tags a transport microseconds after its handshake. A conn
// closed before its preface was read is freed at once (see Closed); this
// timer frees the journals of the few that are not: a client's conn that
// grpc-go closes through the raw conn after the handshake (its connect
// deadline expired), or a server's transport made while the server stops,
// which is never tagged.
const unclaimedGrace = 10 * time.Second

// forgetUnclaimed frees the journal unless a stats handler claimed it.
func (j *Journal) forgetUnclaimed() {
	j.mu.Lock()
	if j.claimed || j.forgotten {
		j.mu.Unlock()
		return
	}
	j.forgotten = true
	if j.unclaimed != nil {
		// Stopped, the timer no longer holds the journal.
		j.unclaimed.Stop()
		j.unclaimed = nil
	}
	j.mu.Unlock()
	if j.reg != nil {
		j.reg.forget(j)
	}
}

// markClosingLocked records the first sign that the connection is ending and
// whether a keepalive PING of this side was unanswered at that moment. It
// reports whether this was the first sign.
func (j *Journal) markClosingLocked(kind wire.EndKind) bool {
	if j.rec.Closing.Valid {
		return false
	}
	j.seq++
	j.rec.Closing = Closing{Valid: true, Seq: j.seq, Kind: kind, PingOutstanding: j.pingOutstanding, At: time.Now()}
	if j.pingOutstanding {
		j.rec.Closing.PingSentAt = j.pingSentAt
	}
	if j.conn != nil {
		j.rec.Closing.LastRead = j.conn.LastRead()
	}
	return true
}

// Snapshot returns a copy of the journal's current state. Once the conn is
// closed, it first lets a write that failed report its end (wire.Conn.Settle).
func (j *Journal) Snapshot() Snapshot {
	if j.conn != nil {
		j.conn.Settle()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	s := Snapshot{Record: j.rec, Observed: true, Side: j.side}
	s.ReaderQuit = j.conn != nil && j.conn.ReaderQuit()
	// The intervals between the peer's last keepalive PINGs, oldest first.
	n := int(min(s.PingsReceived, int64(len(j.peerPings))))
	for i := 1; i < n; i++ {
		at := func(k int64) time.Duration { return j.peerPings[k%int64(len(j.peerPings))] }
		k := s.PingsReceived - int64(n) + int64(i)
		s.PeerPingIntervals[s.NPeerPingIntervals] = at(k+1) - at(k)
		s.NPeerPingIntervals++
	}
	return s
}

// Claim marks the journal as owned by a stats handler, which then frees it
// at ConnEnd. It reports false if the journal was already freed unclaimed
// and the journal was freed.
func (j *Journal) Claim(tag any) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.forgotten {
		return false
	}
	if j.unclaimed != nil {
		j.unclaimed.Stop()
		j.unclaimed = nil
	}
	j.claimed = true
	j.tag = tag
	return true
}

// Tag returns what Claim stored: the owner's per-connection state.
func (j *Journal) Tag() any {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.tag
}

// Release frees a claimed journal: after it, lookups no longer find it.
func (j *Journal) Release() {
	if j.reg != nil {
		j.reg.forget(j)
	}
}
