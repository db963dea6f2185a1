package conntrack

import (
	"testing"

	"golang.org/x/net/http2"

	"github.com/grpcpulse/grpcpulse/internal/wire"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// events builds a Snapshot by replaying wire events through a real Journal,
// so the table exercises the journal's bookkeeping and the classifier
// together, in the order the events happen on a connection.
type event func(j *Journal)

func sentPing(j *Journal)      { j.Ping(wire.Sent, false, wire.KeepalivePingData) }
func recvPingAck(j *Journal)   { j.Ping(wire.Received, true, wire.KeepalivePingData) }
func sentBDPPing(j *Journal)   { j.Ping(wire.Sent, false, wire.BDPPingData) }
func sentDrainPing(j *Journal) { j.Ping(wire.Sent, false, wire.DrainPingData) }

func goAway(dir wire.Direction, code uint32, debug string) event {
	return func(j *Journal) { j.GoAway(dir, 1<<31-1, code, []byte(debug)) }
}

func violation(v wire.Violation) event {
	return func(j *Journal) { j.Violation(wire.Received, v) }
}

func end(k wire.EndKind) event { return func(j *Journal) { j.End(wire.End{Kind: k}) } }

const (
	codeNo  = 0x0
	codeEYC = 0xb
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name       string
		side       pulse.Side
		events     []event
		reason     pulse.Reason
		initiator  pulse.Initiator
		disconnect string
	}{
		{"server max age then client shutdown and EOF", pulse.SideServer,
			[]event{goAway(wire.Sent, codeNo, "max_age"), sentDrainPing, goAway(wire.Sent, codeNo, "max_age"),
				goAway(wire.Received, codeNo, "client transport shutdown"), end(wire.EndEOF)},
			pulse.ReasonMaxConnectionAge, pulse.InitiatorLocal, "GOAWAY NO_ERROR"},
		{"server max age, grace expires, hard close", pulse.SideServer,
			[]event{goAway(wire.Sent, codeNo, "max_age"), end(wire.EndLocalClose)},
			pulse.ReasonMaxConnectionAge, pulse.InitiatorLocal, "GOAWAY NO_ERROR"},
		{"client receives max age", pulse.SideClient,
			[]event{goAway(wire.Received, codeNo, "max_age"), goAway(wire.Sent, codeNo, "client transport shutdown"), end(wire.EndLocalClose)},
			pulse.ReasonMaxConnectionAge, pulse.InitiatorPeer, "GOAWAY NO_ERROR"},
		{"max idle", pulse.SideClient,
			[]event{goAway(wire.Received, codeNo, "max_idle"), end(wire.EndEOF)},
			pulse.ReasonMaxConnectionIdle, pulse.InitiatorPeer, "GOAWAY NO_ERROR"},
		{"server keepalive timeout", pulse.SideServer,
			[]event{sentPing, recvPingAck, sentPing, end(wire.EndLocalClose)},
			pulse.ReasonKeepaliveTimeout, pulse.InitiatorLocal, "connection timed out"},
		{"client keepalive timeout writes its shutdown GOAWAY first", pulse.SideClient,
			[]event{sentPing, goAway(wire.Sent, codeNo, "client transport shutdown"), end(wire.EndLocalClose)},
			pulse.ReasonKeepaliveTimeout, pulse.InitiatorLocal, "connection timed out"},
		{"client keepalive timeout surfacing as ETIMEDOUT", pulse.SideClient,
			[]event{sentPing, end(wire.EndTimedOut)},
			pulse.ReasonKeepaliveTimeout, pulse.InitiatorLocal, "connection timed out"},
		{"client keepalive timeout after the 1s close read deadline", pulse.SideClient,
			[]event{sentPing, end(wire.EndDeadline)},
			pulse.ReasonKeepaliveTimeout, pulse.InitiatorLocal, "connection timed out"},
		{"acked ping then shutdown is not a timeout", pulse.SideClient,
			[]event{sentPing, recvPingAck, goAway(wire.Sent, codeNo, "client transport shutdown"), end(wire.EndLocalClose)},
			pulse.ReasonClientShutdown, pulse.InitiatorLocal, "subchannel shutdown"},
		{"unanswered BDP ping is not keepalive", pulse.SideServer,
			[]event{sentBDPPing, end(wire.EndLocalClose)},
			pulse.ReasonServerShutdown, pulse.InitiatorLocal, "subchannel shutdown"},
		{"server enforces too_many_pings", pulse.SideServer,
			[]event{goAway(wire.Sent, codeEYC, "too_many_pings"), end(wire.EndLocalClose)},
			pulse.ReasonTooManyPings, pulse.InitiatorLocal, "GOAWAY ENHANCE_YOUR_CALM"},
		{"client told too_many_pings", pulse.SideClient,
			[]event{goAway(wire.Received, codeEYC, "too_many_pings"), goAway(wire.Sent, codeNo, "client transport shutdown"), end(wire.EndLocalClose)},
			pulse.ReasonTooManyPings, pulse.InitiatorPeer, "GOAWAY ENHANCE_YOUR_CALM"},
		{"graceful stop, server", pulse.SideServer,
			[]event{goAway(wire.Sent, codeNo, "graceful_stop"), goAway(wire.Received, codeNo, "client transport shutdown"), end(wire.EndEOF)},
			pulse.ReasonServerShutdown, pulse.InitiatorLocal, "GOAWAY NO_ERROR"},
		{"graceful stop, client", pulse.SideClient,
			[]event{goAway(wire.Received, codeNo, "graceful_stop"), end(wire.EndEOF)},
			pulse.ReasonServerShutdown, pulse.InitiatorPeer, "GOAWAY NO_ERROR"},
		{"server Stop: local close without GOAWAY", pulse.SideServer,
			[]event{end(wire.EndLocalClose)},
			pulse.ReasonServerShutdown, pulse.InitiatorLocal, "subchannel shutdown"},
		{"client sees Stop as EOF", pulse.SideClient,
			[]event{end(wire.EndEOF)},
			pulse.ReasonPeerClosed, pulse.InitiatorPeer, "unknown"},
		{"client Close", pulse.SideClient,
			[]event{goAway(wire.Sent, codeNo, "client transport shutdown"), end(wire.EndLocalClose)},
			pulse.ReasonClientShutdown, pulse.InitiatorLocal, "subchannel shutdown"},
		{"server sees client Close", pulse.SideServer,
			[]event{goAway(wire.Received, codeNo, "client transport shutdown"), end(wire.EndEOF)},
			pulse.ReasonClientShutdown, pulse.InitiatorPeer, "GOAWAY NO_ERROR"},
		{"server drain without debug data (C-core, grpc-js)", pulse.SideClient,
			[]event{goAway(wire.Received, codeNo, ""), end(wire.EndEOF)},
			pulse.ReasonServerDrain, pulse.InitiatorPeer, "GOAWAY NO_ERROR"},
		{"other GOAWAY", pulse.SideClient,
			[]event{goAway(wire.Received, 0x2, "internal failure, see logs")},
			pulse.ReasonGoAway, pulse.InitiatorPeer, "GOAWAY INTERNAL_ERROR"},
		{"GOAWAY code out of range is UNKNOWN", pulse.SideClient,
			[]event{goAway(wire.Received, 0xdead, "")},
			pulse.ReasonGoAway, pulse.InitiatorPeer, "GOAWAY UNKNOWN"},
		{"reset", pulse.SideClient,
			[]event{end(wire.EndReset)},
			pulse.ReasonConnectionReset, pulse.InitiatorPeer, "connection reset"},
		{"reset after a GOAWAY keeps the GOAWAY", pulse.SideClient,
			[]event{goAway(wire.Received, codeNo, "max_age"), end(wire.EndReset)},
			pulse.ReasonMaxConnectionAge, pulse.InitiatorPeer, "GOAWAY NO_ERROR"},
		{"timed out without a ping is an io error", pulse.SideServer,
			[]event{end(wire.EndTimedOut)},
			pulse.ReasonIOError, pulse.InitiatorUnknown, "connection timed out"},
		{"aborted", pulse.SideServer,
			[]event{end(wire.EndAborted)},
			pulse.ReasonIOError, pulse.InitiatorUnknown, "connection aborted"},
		{"other error", pulse.SideServer,
			[]event{end(wire.EndError)},
			pulse.ReasonIOError, pulse.InitiatorUnknown, "socket error"},
		{"nothing observed yet", pulse.SideServer, nil, pulse.ReasonUnknown, pulse.InitiatorUnknown, "unknown"},
		{"peer broke HTTP/2, server closed", pulse.SideServer,
			[]event{violation(wire.ViolationFrameLength), end(wire.EndLocalClose)},
			pulse.ReasonProtocolError, pulse.InitiatorLocal, "unknown"},
	}
	seen := map[pulse.Reason]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &Journal{side: tt.side}
			for _, e := range tt.events {
				e(j)
			}
			s := j.Snapshot()
			r, i := Classify(s)
			if r != tt.reason || i != tt.initiator {
				t.Errorf("Classify = (%v, %v), want (%v, %v)", r, i, tt.reason, tt.initiator)
			}
			if got := DisconnectError(s); got != tt.disconnect {
				t.Errorf("DisconnectError = %q, want %q", got, tt.disconnect)
			}
		})
		seen[tt.reason] = true
	}
	for _, r := range pulse.Reasons() {
		if !seen[r] {
			t.Errorf("no table entry yields %v", r)
		}
	}
}

func TestClassifyWithoutJournal(t *testing.T) {
	r, i := Classify(Snapshot{})
	if r != pulse.ReasonUnknown || i != pulse.InitiatorUnknown || DisconnectError(Snapshot{}) != "unknown" {
		t.Fatalf("unobserved connection: got %v %v", r, i)
	}
}

func TestDrainCountedOnce(t *testing.T) {
	j := &Journal{side: pulse.SideServer}
	goAway(wire.Sent, codeNo, "graceful_stop")(j)
	sentDrainPing(j)
	goAway(wire.Sent, codeNo, "graceful_stop")(j)
	goAway(wire.Received, codeNo, "client transport shutdown")(j)
	if s := j.Snapshot(); s.GoAways != 2 {
		t.Fatalf("GoAways = %d, want 2 (one drain, one client shutdown)", s.GoAways)
	}
	if s := j.Snapshot(); s.PingsSent != 0 {
		t.Fatalf("drain PING counted as keepalive: PingsSent = %d", s.PingsSent)
	}
}

// grpc-js and C-core follow a drain's first GOAWAY with frames of the same
// code and no debug data: still one drain, and its reason stays. A GOAWAY
// with another code is a new event.
func TestDrainWithoutDebugDataCountedOnce(t *testing.T) {
	j := &Journal{side: pulse.SideClient}
	goAway(wire.Received, codeNo, "max_age")(j)
	goAway(wire.Received, codeNo, "")(j)
	goAway(wire.Received, codeNo, "")(j)
	s := j.Snapshot()
	if s.GoAways != 1 || s.GoAwayReceived.Reason != GoAwayMaxAge {
		t.Fatalf("GoAways = %d, first reason %v; want 1 event, max_age", s.GoAways, s.GoAwayReceived.Reason)
	}
	goAway(wire.Received, uint32(http2.ErrCodeEnhanceYourCalm), "")(j)
	if s := j.Snapshot(); s.GoAways != 2 {
		t.Fatalf("GoAways = %d after a GOAWAY with another code, want 2", s.GoAways)
	}
}

func TestGoAwayCodeNameBounded(t *testing.T) {
	for code, want := range map[uint32]string{0: "NO_ERROR", 0xb: "ENHANCE_YOUR_CALM", 0xd: "HTTP_1_1_REQUIRED", 0xe: "UNKNOWN", 1 << 31: "UNKNOWN"} {
		if got := GoAwayCodeName(code); got != want {
			t.Errorf("GoAwayCodeName(%#x) = %q, want %q", code, got, want)
		}
	}
}

func TestClassifyGoAwayDebug(t *testing.T) {
	for debug, want := range map[string]GoAwayReason{
		"": GoAwayNone, "too_many_pings": GoAwayTooManyPings, "max_age": GoAwayMaxAge, "max_idle": GoAwayMaxIdle,
		"graceful_stop": GoAwayGracefulStop, "app_requested": GoAwayGracefulStop,
		"client transport shutdown": GoAwayClientShutdown, "max_age ": GoAwayOther,
	} {
		if got := ClassifyGoAwayDebug([]byte(debug)); got != want {
			t.Errorf("ClassifyGoAwayDebug(%q) = %v, want %v", debug, got, want)
		}
	}
}

// The GOAWAY values of DisconnectError come from a table; it must say what
// the concatenation would, for every code a peer can send.
func TestGoAwayDisconnectError(t *testing.T) {
	for _, c := range []uint32{0, 1, 0xb, 0xd, 0xe, 0xff, 1 << 31, 1<<32 - 1} {
		if got, want := goAwayDisconnectError(c), "GOAWAY "+GoAwayCodeName(c); got != want {
			t.Errorf("code %#x: %q, want %q", c, got, want)
		}
	}
}

// A GOAWAY with an error code is a connection error, whose sender closes
// the connection at once: sent or received, it is the first sign of the
// end, before the conn's close, and the first cause still. A draining
// GOAWAY is not.
func TestErrorGoAwayMarksClosing(t *testing.T) {
	for _, tt := range []struct {
		side    pulse.Side
		dir     wire.Direction
		code    uint32
		debug   string
		closing bool
		reason  pulse.Reason
		init    pulse.Initiator
	}{
		{pulse.SideServer, wire.Sent, codeEYC, "too_many_pings", true, pulse.ReasonTooManyPings, pulse.InitiatorLocal},
		{pulse.SideServer, wire.Sent, uint32(http2.ErrCodeProtocol), "received an illegal stream id", true, pulse.ReasonProtocolError, pulse.InitiatorLocal},
		{pulse.SideServer, wire.Sent, codeNo, "max_age", false, pulse.ReasonMaxConnectionAge, pulse.InitiatorLocal},
		{pulse.SideClient, wire.Received, codeEYC, "too_many_pings", true, pulse.ReasonTooManyPings, pulse.InitiatorPeer},
		{pulse.SideClient, wire.Received, uint32(http2.ErrCodeInternal), "Cancelling all calls", true, pulse.ReasonGoAway, pulse.InitiatorPeer},
		{pulse.SideClient, wire.Received, codeNo, "", false, pulse.ReasonServerDrain, pulse.InitiatorPeer},
	} {
		j := &Journal{side: tt.side}
		goAway(tt.dir, tt.code, tt.debug)(j)
		s := j.Snapshot()
		if s.Closing.Valid != tt.closing {
			t.Errorf("%v %v %q: Closing.Valid = %v after the GOAWAY, want %v", tt.side, tt.dir, tt.debug, s.Closing.Valid, tt.closing)
		}
		end(wire.EndEOF)(j)
		if r, i := Classify(j.Snapshot()); r != tt.reason || i != tt.init {
			t.Errorf("%v %v %q: Classify = %v %v, want %v %v", tt.side, tt.dir, tt.debug, r, i, tt.reason, tt.init)
		}
	}
}
