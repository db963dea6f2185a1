package conntrack

import (
	"net"
	"testing"
	"time"

	"github.com/grpcpulse/grpcpulse/internal/wire"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

const (
	codeProtocol    = 0x1
	codeInternal    = 0x2
	codeFlowControl = 0x3
	codeSettingsTO  = 0x4
	codeStreamClose = 0x5
	codeFrameSize   = 0x6
	codeRefused     = 0x7
	codeCompression = 0x9
)

// readerQuit marks the journal's connection as closed by this side after
// its reader stopped on its own (wire.Conn.ReaderQuit).
func endDir(k wire.EndKind, dir wire.Direction) event {
	return func(j *Journal) { j.End(wire.End{Kind: k, Dir: dir}) }
}

func readerQuit(j *Journal) { j.conn = quitConn() }

// quitConn returns a wire.Conn this side closed while nothing read it: its
// ReaderQuit is true.
func quitConn() *wire.Conn {
	c, peer := net.Pipe()
	peer.Close()
	wc := wire.NewConn(c, false, discard{})
	wc.Close()
	return wc
}

// discard is a wire.Sink that keeps nothing.
type discard struct{}

func (discard) Ping(wire.Direction, bool, [8]byte)            {}
func (discard) GoAway(wire.Direction, uint32, uint32, []byte) {}
func (discard) RSTStream(wire.Direction, uint32, uint32)      {}
func (discard) Violation(wire.Direction, wire.Violation)      {}
func (discard) End(wire.End)                                  {}
func (discard) Settings([]byte)                               {}
func (discard) Closed()                                       {}

// The verdicts a peer must not be able to choose, and the verdicts that need
// evidence: a GOAWAY is read by the role of its sender, a violation makes
// protocol_error, and a local close the reader did not see coming is
// unknown, not a shutdown.
func TestClassifyVerdicts(t *testing.T) {
	tests := []struct {
		name       string
		side       pulse.Side
		events     []event
		reason     pulse.Reason
		initiator  pulse.Initiator
		disconnect string
	}{
		// A server reads a received GOAWAY as the client going away,
		// whatever the debug data says.
		{"server receives max_age from a client", pulse.SideServer,
			[]event{goAway(wire.Received, codeNo, "max_age"), end(wire.EndEOF)},
			pulse.ReasonClientShutdown, pulse.InitiatorPeer, "GOAWAY NO_ERROR"},
		{"server receives max_idle from a client", pulse.SideServer,
			[]event{goAway(wire.Received, codeNo, "max_idle"), end(wire.EndEOF)},
			pulse.ReasonClientShutdown, pulse.InitiatorPeer, "GOAWAY NO_ERROR"},
		{"server receives graceful_stop from a client", pulse.SideServer,
			[]event{goAway(wire.Received, codeNo, "graceful_stop"), end(wire.EndEOF)},
			pulse.ReasonClientShutdown, pulse.InitiatorPeer, "GOAWAY NO_ERROR"},
		{"server receives too_many_pings from a client", pulse.SideServer,
			[]event{goAway(wire.Received, codeEYC, "too_many_pings"), end(wire.EndEOF)},
			pulse.ReasonGoAway, pulse.InitiatorPeer, "GOAWAY ENHANCE_YOUR_CALM"},
		{"server receives an empty NO_ERROR GOAWAY", pulse.SideServer,
			[]event{goAway(wire.Received, codeNo, ""), end(wire.EndEOF)},
			pulse.ReasonClientShutdown, pulse.InitiatorPeer, "GOAWAY NO_ERROR"},
		{"server receives INTERNAL_ERROR", pulse.SideServer,
			[]event{goAway(wire.Received, codeInternal, "max_age"), end(wire.EndEOF)},
			pulse.ReasonGoAway, pulse.InitiatorPeer, "GOAWAY INTERNAL_ERROR"},
		{"server told it broke HTTP/2", pulse.SideServer,
			[]event{goAway(wire.Received, codeProtocol, "max_age"), end(wire.EndEOF)},
			pulse.ReasonProtocolError, pulse.InitiatorPeer, "GOAWAY PROTOCOL_ERROR"},
		{"server told COMPRESSION_ERROR", pulse.SideServer,
			[]event{goAway(wire.Received, codeCompression, ""), end(wire.EndReset)},
			pulse.ReasonProtocolError, pulse.InitiatorPeer, "GOAWAY COMPRESSION_ERROR"},

		// A client reads a received GOAWAY as the server's.
		{"client receives client transport shutdown", pulse.SideClient,
			[]event{goAway(wire.Received, codeNo, "client transport shutdown"), goAway(wire.Sent, codeNo, "client transport shutdown"), end(wire.EndLocalClose)},
			pulse.ReasonGoAway, pulse.InitiatorPeer, "GOAWAY NO_ERROR"},
		{"client receives too_many_pings without ENHANCE_YOUR_CALM", pulse.SideClient,
			[]event{goAway(wire.Received, codeNo, "too_many_pings"), end(wire.EndEOF)},
			pulse.ReasonGoAway, pulse.InitiatorPeer, "GOAWAY NO_ERROR"},
		{"client told FLOW_CONTROL_ERROR", pulse.SideClient,
			[]event{goAway(wire.Received, codeFlowControl, ""), goAway(wire.Sent, codeNo, "client transport shutdown"), end(wire.EndLocalClose)},
			pulse.ReasonProtocolError, pulse.InitiatorPeer, "GOAWAY FLOW_CONTROL_ERROR"},
		{"client told FRAME_SIZE_ERROR", pulse.SideClient,
			[]event{goAway(wire.Received, codeFrameSize, "max_age"), end(wire.EndEOF)},
			pulse.ReasonProtocolError, pulse.InitiatorPeer, "GOAWAY FRAME_SIZE_ERROR"},
		{"client told SETTINGS_TIMEOUT", pulse.SideClient,
			[]event{goAway(wire.Received, codeSettingsTO, ""), end(wire.EndEOF)},
			pulse.ReasonProtocolError, pulse.InitiatorPeer, "GOAWAY SETTINGS_TIMEOUT"},
		{"client told STREAM_CLOSED", pulse.SideClient,
			[]event{goAway(wire.Received, codeStreamClose, ""), end(wire.EndEOF)},
			pulse.ReasonProtocolError, pulse.InitiatorPeer, "GOAWAY STREAM_CLOSED"},
		{"client told REFUSED_STREAM is not a protocol error", pulse.SideClient,
			[]event{goAway(wire.Received, codeRefused, ""), end(wire.EndEOF)},
			pulse.ReasonGoAway, pulse.InitiatorPeer, "GOAWAY REFUSED_STREAM"},

		// A GOAWAY this side sent with a protocol error code.
		{"server sends PROTOCOL_ERROR (illegal stream id)", pulse.SideServer,
			[]event{goAway(wire.Sent, codeProtocol, "received an illegal stream id: 2"), end(wire.EndLocalClose)},
			pulse.ReasonProtocolError, pulse.InitiatorLocal, "GOAWAY PROTOCOL_ERROR"},
		{"server sends PROTOCOL_ERROR, reader quit", pulse.SideServer,
			[]event{goAway(wire.Sent, codeProtocol, ""), readerQuit, end(wire.EndLocalClose)},
			pulse.ReasonProtocolError, pulse.InitiatorLocal, "GOAWAY PROTOCOL_ERROR"},

		// Violations the observer saw.
		{"violation then local close", pulse.SideServer,
			[]event{violation(wire.ViolationContinuation), readerQuit, end(wire.EndLocalClose)},
			pulse.ReasonProtocolError, pulse.InitiatorLocal, "unknown"},
		{"violation then the write fails", pulse.SideServer,
			[]event{violation(wire.ViolationFrameSize), end(wire.EndReset)},
			pulse.ReasonProtocolError, pulse.InitiatorLocal, "unknown"},
		{"client sees a violation, writes its shutdown GOAWAY", pulse.SideClient,
			[]event{violation(wire.ViolationStreamID), goAway(wire.Sent, codeNo, "client transport shutdown"), readerQuit, end(wire.EndLocalClose)},
			pulse.ReasonProtocolError, pulse.InitiatorLocal, "unknown"},
		{"a violation after a drain does not change the verdict", pulse.SideServer,
			[]event{goAway(wire.Sent, codeNo, "max_age"), violation(wire.ViolationPadding), end(wire.EndLocalClose)},
			pulse.ReasonMaxConnectionAge, pulse.InitiatorLocal, "GOAWAY NO_ERROR"},
		{"a violation in the sent direction is ignored", pulse.SideServer,
			[]event{func(j *Journal) { j.Violation(wire.Sent, wire.ViolationFrameSize) }, end(wire.EndLocalClose)},
			pulse.ReasonServerShutdown, pulse.InitiatorLocal, "subchannel shutdown"},

		// A local close with no evidence while the reader was not reading.
		{"server closes after its reader quit, nothing seen", pulse.SideServer,
			[]event{readerQuit, end(wire.EndLocalClose)},
			pulse.ReasonUnknown, pulse.InitiatorLocal, "unknown"},
		{"client closes after its reader quit, nothing seen", pulse.SideClient,
			[]event{goAway(wire.Sent, codeNo, "client transport shutdown"), readerQuit, end(wire.EndLocalClose)},
			pulse.ReasonUnknown, pulse.InitiatorLocal, "unknown"},
		{"keepalive timeout still wins over a quit reader", pulse.SideClient,
			[]event{sentPing, goAway(wire.Sent, codeNo, "client transport shutdown"), readerQuit, end(wire.EndLocalClose)},
			pulse.ReasonKeepaliveTimeout, pulse.InitiatorLocal, "connection timed out"},
		{"server Stop while the reader reads", pulse.SideServer,
			[]event{end(wire.EndLocalClose)},
			pulse.ReasonServerShutdown, pulse.InitiatorLocal, "subchannel shutdown"},
		{"a write fails on the closed socket before the client's GOAWAY is read", pulse.SideServer,
			[]event{endDir(wire.EndReset, wire.Sent), goAway(wire.Received, codeNo, "client transport shutdown")},
			pulse.ReasonClientShutdown, pulse.InitiatorPeer, "GOAWAY NO_ERROR"},
		{"a read reset before a GOAWAY keeps the reset", pulse.SideServer,
			[]event{endDir(wire.EndReset, wire.Received), goAway(wire.Received, codeNo, "client transport shutdown")},
			pulse.ReasonConnectionReset, pulse.InitiatorPeer, "connection reset"},
		{"a failed write without a GOAWAY is a reset", pulse.SideServer,
			[]event{endDir(wire.EndReset, wire.Sent)},
			pulse.ReasonConnectionReset, pulse.InitiatorPeer, "connection reset"},
		{"a quit reader does not matter for an EOF", pulse.SideServer,
			[]event{end(wire.EndEOF), readerQuit},
			pulse.ReasonPeerClosed, pulse.InitiatorPeer, "unknown"},
	}
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
			if tt.reason == pulse.ReasonServerShutdown && s.Violation.Valid {
				t.Errorf("server_shutdown despite a violation")
			}
		})
	}
}

// The grpc.goaway.reason of a GOAWAY depends on the role of its sender.
func TestClassifyGoAwayByRole(t *testing.T) {
	tests := []struct {
		sender pulse.Side
		code   uint32
		debug  string
		want   GoAwayReason
	}{
		{pulse.SideServer, codeNo, "max_age", GoAwayMaxAge},
		{pulse.SideServer, codeNo, "max_idle", GoAwayMaxIdle},
		{pulse.SideServer, codeNo, "graceful_stop", GoAwayGracefulStop},
		{pulse.SideServer, codeNo, "app_requested", GoAwayGracefulStop}, // grpc-java's shutdown
		{pulse.SideServer, codeEYC, "too_many_pings", GoAwayTooManyPings},
		{pulse.SideServer, codeNo, "too_many_pings", GoAwayOther},
		{pulse.SideServer, codeNo, "client transport shutdown", GoAwayOther},
		{pulse.SideServer, codeNo, "", GoAwayNone},
		{pulse.SideServer, codeProtocol, "received an illegal stream id", GoAwayOther},
		{pulse.SideClient, codeNo, "client transport shutdown", GoAwayClientShutdown},
		{pulse.SideClient, codeNo, "max_age", GoAwayOther},
		{pulse.SideClient, codeNo, "max_idle", GoAwayOther},
		{pulse.SideClient, codeNo, "graceful_stop", GoAwayOther},
		{pulse.SideClient, codeNo, "app_requested", GoAwayOther},
		{pulse.SideClient, codeEYC, "too_many_pings", GoAwayOther},
		{pulse.SideClient, codeNo, "", GoAwayNone},
	}
	for _, tt := range tests {
		if got := ClassifyGoAway(tt.sender, tt.code, []byte(tt.debug)); got != tt.want {
			t.Errorf("ClassifyGoAway(%v, %#x, %q) = %v, want %v", tt.sender, tt.code, tt.debug, got, tt.want)
		}
	}
}

// The journal hands hooks and the first-GOAWAY records the role-read class,
// so metrics and span events follow the same rule.
func TestJournalGoAwayReasonByRole(t *testing.T) {
	for _, tt := range []struct {
		side pulse.Side
		dir  wire.Direction
		want GoAwayReason
	}{
		{pulse.SideServer, wire.Received, GoAwayOther},
		{pulse.SideServer, wire.Sent, GoAwayMaxAge},
		{pulse.SideClient, wire.Received, GoAwayMaxAge},
		{pulse.SideClient, wire.Sent, GoAwayOther},
	} {
		rec := &goAwayHooks{}
		j := &Journal{side: tt.side, hooks: rec}
		j.GoAway(tt.dir, 0, codeNo, []byte("max_age"))
		if len(rec.got) != 1 || rec.got[0].Reason != tt.want {
			t.Errorf("%v %v: hook got %+v, want reason %v", tt.side, tt.dir, rec.got, tt.want)
		}
	}
}

type goAwayHooks struct{ got []GoAway }

func (*goAwayHooks) KeepalivePing(*Journal, wire.Direction) {}
func (*goAwayHooks) KeepaliveRTT(*Journal, time.Duration)   {}
func (h *goAwayHooks) GoAway(_ *Journal, g GoAway)          { h.got = append(h.got, g) }
func (*goAwayHooks) Closing(*Journal)                       {}
