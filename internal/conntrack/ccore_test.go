package conntrack

import (
	"testing"

	"github.com/grpcpulse/grpcpulse/internal/wire"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

func goAwayLast(dir wire.Direction, last, code uint32, debug string) event {
	return func(j *Journal) { j.GoAway(dir, last, code, []byte(debug)) }
}

func recvPing(data [8]byte) event {
	return func(j *Journal) { j.Ping(wire.Received, false, data) }
}

// The frame sequences a grpc-go client sees from a gRPC C-core 1.51 server
// (internal/peers/ccore), replayed through a journal: the verdicts the
// ccore.go table states.
func TestCCoreServerVerdicts(t *testing.T) {
	const max = 1<<31 - 1
	drainPing := recvPing([8]byte{7: 1}) // C-core's PING payload is a counter
	tests := []struct {
		name       string
		events     []event
		reason     pulse.Reason
		initiator  pulse.Initiator
		disconnect string
		goAways    int
	}{
		{"max age: empty drain, trailers, RST, EOF", []event{
			goAwayLast(wire.Received, max, codeNo, ""), drainPing,
			goAwayLast(wire.Received, 1, codeNo, ""), end(wire.EndEOF)},
			pulse.ReasonServerDrain, pulse.InitiatorPeer, "GOAWAY NO_ERROR", 1},
		{"stop(0): empty drain, then INTERNAL_ERROR Cancelling all calls", []event{
			goAwayLast(wire.Received, max, codeNo, ""), drainPing,
			goAwayLast(wire.Received, 1, codeInternal, "Cancelling all calls"), end(wire.EndLocalClose)},
			pulse.ReasonServerDrain, pulse.InitiatorPeer, "GOAWAY NO_ERROR", 2},
		{"max idle 1.51: GOAWAY INTERNAL_ERROR enter idle", []event{
			goAwayLast(wire.Received, 1, codeInternal, "enter idle"), end(wire.EndEOF)},
			pulse.ReasonMaxConnectionIdle, pulse.InitiatorPeer, "GOAWAY INTERNAL_ERROR", 1},
		{"max idle later releases: connection idle", []event{
			goAwayLast(wire.Received, 1, codeInternal, "connection idle"), end(wire.EndEOF)},
			pulse.ReasonMaxConnectionIdle, pulse.InitiatorPeer, "GOAWAY INTERNAL_ERROR", 1},
		{"too many pings", []event{
			goAwayLast(wire.Received, 1, codeEYC, "too_many_pings"), end(wire.EndEOF)},
			pulse.ReasonTooManyPings, pulse.InitiatorPeer, "GOAWAY ENHANCE_YOUR_CALM", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &Journal{side: pulse.SideClient}
			for _, e := range tt.events {
				e(j)
			}
			s := j.Snapshot()
			if r, i := Classify(s); r != tt.reason || i != tt.initiator {
				t.Errorf("Classify = (%v, %v), want (%v, %v)", r, i, tt.reason, tt.initiator)
			}
			if got := DisconnectError(s); got != tt.disconnect {
				t.Errorf("DisconnectError = %q, want %q", got, tt.disconnect)
			}
			if s.GoAways != tt.goAways {
				t.Errorf("%d GOAWAY events, want %d", s.GoAways, tt.goAways)
			}
		})
	}
}

// A C-core client's idle close sends GOAWAY INTERNAL_ERROR "enter idle" too;
// read by its sender's role it is no server's max idle.
func TestCCoreIdleTextByRole(t *testing.T) {
	if got := ClassifyGoAway(pulse.SideClient, codeInternal, []byte("enter idle")); got != GoAwayOther {
		t.Errorf("client's enter idle = %v, want other", got)
	}
	if got := GoAwayCloseReason(pulse.SideClient, codeInternal, GoAwayOther); got != pulse.ReasonGoAway {
		t.Errorf("client's GOAWAY INTERNAL_ERROR = %v, want goaway", got)
	}
	if got := ClassifyGoAway(pulse.SideServer, codeInternal, []byte("enter idle")); got != GoAwayMaxIdle {
		t.Errorf("server's enter idle = %v, want max_idle", got)
	}
}

func TestIsTeardownStatus(t *testing.T) {
	for msg, want := range map[string]bool{
		"enter idle": true, "max connection age": true, "connection idle": true,
		"Cancelling all calls": true, "Too many pings": true,
		"": false, "overloaded": false, "enter idle ": false, "cancelling all calls": false,
		"max_age": false, "Socket closed": false,
	} {
		if got := IsTeardownStatus(msg); got != want {
			t.Errorf("IsTeardownStatus(%q) = %v, want %v", msg, got, want)
		}
	}
}
