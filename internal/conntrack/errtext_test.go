package conntrack

import (
	"testing"

	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// The texts are grpc-go v1.85's, as an application receives them.
func TestClassifyErrorText(t *testing.T) {
	for _, tc := range []struct {
		msg    string
		want   pulse.Reason
		wantOK bool
	}{
		{`rpc error: code = Unavailable desc = closing transport due to: connection error: desc = "error reading from server: EOF", received prior goaway: code: NO_ERROR, debug data: "max_age"`, pulse.ReasonMaxConnectionAge, true},
		{`rpc error: code = Unavailable desc = closing transport due to: connection error: desc = "error reading from server: EOF", received prior goaway: code: INTERNAL_ERROR, debug data: "enter idle"`, pulse.ReasonMaxConnectionIdle, true},
		{`rpc error: code = Unavailable desc = closing transport due to: connection error: desc = "error reading from server: EOF", received prior goaway: code: NO_ERROR, debug data: "max_idle"`, pulse.ReasonMaxConnectionIdle, true},
		{`rpc error: code = Unavailable desc = closing transport due to: connection error: desc = "error reading from server: EOF", received prior goaway: code: ENHANCE_YOUR_CALM, debug data: "too_many_pings"`, pulse.ReasonTooManyPings, true},
		{`rpc error: code = Unavailable desc = closing transport due to: connection error: desc = "error reading from server: EOF", received prior goaway: code: NO_ERROR, debug data: "graceful_stop"`, pulse.ReasonServerShutdown, true},
		{`rpc error: code = Unavailable desc = closing transport due to: x, received prior goaway: code: PROTOCOL_ERROR, debug data: "whatever the peer says"`, pulse.ReasonProtocolError, true},
		{`rpc error: code = Unavailable desc = closing transport due to: x, received prior goaway: code: INTERNAL_ERROR, debug data: "whatever the peer says"`, pulse.ReasonGoAway, true},
		{`rpc error: code = Unavailable desc = closing transport due to: x, received prior goaway: code: NO_ERROR, debug data: "client transport shutdown"`, pulse.ReasonGoAway, true},
		{`rpc error: code = Unavailable desc = closing transport due to: x, received prior goaway: code: NO_ERROR, debug data: "too_many_pings"`, pulse.ReasonGoAway, true},
		{`rpc error: code = Unavailable desc = closing transport due to: x, received prior goaway: code: NO_ERROR, debug data: ""`, pulse.ReasonServerDrain, true},
		{`rpc error: code = Unavailable desc = closing transport due to: x, received prior goaway: code: NO_ERROR, debug data: "unterminated`, pulse.ReasonGoAway, true},
		{`rpc error: code = Unavailable desc = received goaway: code: NO_ERROR, debug data`, pulse.ReasonGoAway, true},
		{`rpc error: code = Unavailable desc = keepalive ping failed to receive ACK within timeout`, pulse.ReasonKeepaliveTimeout, true},
		{`rpc error: code = Unavailable desc = error reading from server: read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer`, pulse.ReasonConnectionReset, true},
		{`rpc error: code = Unavailable desc = connection error: desc = "transport: failed to write: write: broken pipe"`, pulse.ReasonConnectionReset, true},
		{`rpc error: code = Unavailable desc = error reading from server: EOF`, pulse.ReasonPeerClosed, true},
		{`rpc error: code = Unavailable desc = error reading from server: read tcp: i/o timeout`, pulse.ReasonIOError, true},
		{`rpc error: code = Unavailable desc = transport is closing`, pulse.ReasonUnknown, true},
		{`rpc error: code = Unavailable desc = the connection is draining`, pulse.ReasonGoAway, true},
		{`rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`, pulse.ReasonUnknown, false},
		{`rpc error: code = Unavailable desc = the server is overloaded`, pulse.ReasonUnknown, false},
		{`rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: read: connection reset by peer"`, pulse.ReasonUnknown, false},
		{``, pulse.ReasonUnknown, false},
	} {
		got, ok := ClassifyErrorText(tc.msg)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ClassifyErrorText(%q) = %v, %v; want %v, %v", tc.msg, got, ok, tc.want, tc.wantOK)
		}
	}
}

func FuzzClassifyErrorText(f *testing.F) {
	f.Add(`received prior goaway: code: NO_ERROR, debug data: "max_age"`)
	f.Add(`goaway: code: debug data: "\x`)
	f.Fuzz(func(t *testing.T, msg string) {
		r, ok := ClassifyErrorText(msg)
		if !ok && r != pulse.ReasonUnknown {
			t.Fatalf("not a transport error but reason %v", r)
		}
		if r.String() == "" {
			t.Fatalf("empty reason name")
		}
	})
}
