package conntrack

import (
	"testing"

	"golang.org/x/net/http2"

	"github.com/grpcpulse/grpcpulse/internal/wire"
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
		side       Side
		events     []event
		reason     Reason
		initiator  Initiator
		disconnect string
	}{
		{"server max age then client shutdown and EOF", Server,
			[]event{goAway(wire.Sent, codeNo, "max_age"), sentDrainPing, goAway(wire.Sent, codeNo, "max_age"),
				goAway(wire.Received, codeNo, "client transport shutdown"), end(wire.EndEOF)},
			ReasonMaxConnectionAge, InitiatorLocal, "GOAWAY NO_ERROR"},
		{"server max age, grace expires, hard close", Server,
			[]event{goAway(wire.Sent, codeNo, "max_age"), end(wire.EndLocalClose)},
			ReasonMaxConnectionAge, InitiatorLocal, "GOAWAY NO_ERROR"},
		{"client receives max age", Client,
			[]event{goAway(wire.Received, codeNo, "max_age"), goAway(wire.Sent, codeNo, "client transport shutdown"), end(wire.EndLocalClose)},
			ReasonMaxConnectionAge, InitiatorPeer, "GOAWAY NO_ERROR"},
		{"max idle", Client,
			[]event{goAway(wire.Received, codeNo, "max_idle"), end(wire.EndEOF)},
			ReasonMaxConnectionIdle, InitiatorPeer, "GOAWAY NO_ERROR"},
		{"server keepalive timeout", Server,
			[]event{sentPing, recvPingAck, sentPing, end(wire.EndLocalClose)},
			ReasonKeepaliveTimeout, InitiatorLocal, "connection timed out"},
		{"client keepalive timeout writes its shutdown GOAWAY first", Client,
			[]event{sentPing, goAway(wire.Sent, codeNo, "client transport shutdown"), end(wire.EndLocalClose)},
			ReasonKeepaliveTimeout, InitiatorLocal, "connection timed out"},
		{"client keepalive timeout surfacing as ETIMEDOUT", Client,
			[]event{sentPing, end(wire.EndTimedOut)},
			ReasonKeepaliveTimeout, InitiatorLocal, "connection timed out"},
		{"client keepalive timeout after the 1s close read deadline", Client,
			[]event{sentPing, end(wire.EndDeadline)},
			ReasonKeepaliveTimeout, InitiatorLocal, "connection timed out"},
		{"acked ping then shutdown is not a timeout", Client,
			[]event{sentPing, recvPingAck, goAway(wire.Sent, codeNo, "client transport shutdown"), end(wire.EndLocalClose)},
			ReasonClientShutdown, InitiatorLocal, "subchannel shutdown"},
		{"unanswered BDP ping is not keepalive", Server,
			[]event{sentBDPPing, end(wire.EndLocalClose)},
			ReasonServerShutdown, InitiatorLocal, "subchannel shutdown"},
		{"server enforces too_many_pings", Server,
			[]event{goAway(wire.Sent, codeEYC, "too_many_pings"), end(wire.EndLocalClose)},
			ReasonTooManyPings, InitiatorLocal, "GOAWAY ENHANCE_YOUR_CALM"},
		{"client told too_many_pings", Client,
			[]event{goAway(wire.Received, codeEYC, "too_many_pings"), goAway(wire.Sent, codeNo, "client transport shutdown"), end(wire.EndLocalClose)},
			ReasonTooManyPings, InitiatorPeer, "GOAWAY ENHANCE_YOUR_CALM"},
		{"graceful stop, server", Server,
			[]event{goAway(wire.Sent, codeNo, "graceful_stop"), goAway(wire.Received, codeNo, "client transport shutdown"), end(wire.EndEOF)},
			ReasonServerShutdown, InitiatorLocal, "GOAWAY NO_ERROR"},
		{"graceful stop, client", Client,
			[]event{goAway(wire.Received, codeNo, "graceful_stop"), end(wire.EndEOF)},
			ReasonServerShutdown, InitiatorPeer, "GOAWAY NO_ERROR"},
		{"server Stop: local close without GOAWAY", Server,
			[]event{end(wire.EndLocalClose)},
			ReasonServerShutdown, InitiatorLocal, "subchannel shutdown"},
		{"client sees Stop as EOF", Client,
			[]event{end(wire.EndEOF)},
			ReasonPeerClosed, InitiatorPeer, "unknown"},
		{"client Close", Client,
			[]event{goAway(wire.Sent, codeNo, "client transport shutdown"), end(wire.EndLocalClose)},
			ReasonClientShutdown, InitiatorLocal, "subchannel shutdown"},
		{"server sees client Close", Server,
			[]event{goAway(wire.Received, codeNo, "client transport shutdown"), end(wire.EndEOF)},
			ReasonClientShutdown, InitiatorPeer, "GOAWAY NO_ERROR"},
		{"other GOAWAY", Client,
			[]event{goAway(wire.Received, 0x2, "internal failure, see logs")},
			ReasonGoAway, InitiatorPeer, "GOAWAY INTERNAL_ERROR"},
		{"GOAWAY code out of range is UNKNOWN", Client,
			[]event{goAway(wire.Received, 0xdead, "")},
			ReasonGoAway, InitiatorPeer, "GOAWAY UNKNOWN"},
		{"reset", Client,
			[]event{end(wire.EndReset)},
			ReasonConnectionReset, InitiatorPeer, "connection reset"},
		{"reset after a GOAWAY keeps the GOAWAY", Client,
			[]event{goAway(wire.Received, codeNo, "max_age"), end(wire.EndReset)},
			ReasonMaxConnectionAge, InitiatorPeer, "GOAWAY NO_ERROR"},
		{"timed out without a ping is an io error", Server,
			[]event{end(wire.EndTimedOut)},
			ReasonIOError, InitiatorUnknown, "connection timed out"},
		{"aborted", Server,
			[]event{end(wire.EndAborted)},
			ReasonIOError, InitiatorUnknown, "connection aborted"},
		{"other error", Server,
			[]event{end(wire.EndError)},
			ReasonIOError, InitiatorUnknown, "socket error"},
		{"nothing observed yet", Server, nil, ReasonUnknown, InitiatorUnknown, "unknown"},
		{"peer broke HTTP/2, server closed", Server,
			[]event{violation(wire.ViolationFrameLength), end(wire.EndLocalClose)},
			ReasonProtocolError, InitiatorLocal, "unknown"},
	}
	seen := map[Reason]bool{}
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
	for _, r := range Reasons() {
		if !seen[r] {
			t.Errorf("no table entry yields %v", r)
		}
	}
}

func TestClassifyWithoutJournal(t *testing.T) {
	r, i := Classify(Snapshot{})
	if r != ReasonUnknown || i != InitiatorUnknown || DisconnectError(Snapshot{}) != "unknown" {
		t.Fatalf("unobserved connection: got %v %v", r, i)
	}
}

func TestDrainCountedOnce(t *testing.T) {
	j := &Journal{side: Server}
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
	j := &Journal{side: Client}
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
		"graceful_stop": GoAwayGracefulStop, "client transport shutdown": GoAwayClientShutdown, "max_age ": GoAwayOther,
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
