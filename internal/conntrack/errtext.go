package conntrack

import (
	"strconv"
	"strings"

	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// ClassifyErrorText maps the text of an RPC error that grpc-go produced when
// a transport ended to the reason it names. It is the fallback for RPCs
// whose connection has no journal (credentials not wrapped, or no grpcpulse
// stats handler): grpc-go's wording varies by code path and version, so it
// matches stable substrings and reports false for text it does not know,
// including every error that did not come from a transport.
func ClassifyErrorText(msg string) (pulse.Reason, bool) {
	if strings.Contains(msg, "while dialing") {
		// The RPC never had a transport: a failed connection attempt
		// is not a transport that ended.
		return pulse.ReasonUnknown, false
	}
	// A GOAWAY names the cause even when the error that followed it was a
	// plain EOF: "..., received prior goaway: code: NO_ERROR, debug data:
	// \"max_age\"".
	if i := strings.Index(msg, "goaway: code: "); i >= 0 {
		return goAwayTextReason(msg[i:]), true
	}
	for _, m := range errTextMatches {
		if strings.Contains(msg, m.text) {
			return m.reason, true
		}
	}
	return pulse.ReasonUnknown, false
}

var errTextMatches = []struct {
	text   string
	reason pulse.Reason
}{
	{"keepalive ping failed to receive ACK within timeout", pulse.ReasonKeepaliveTimeout},
	{"connection reset by peer", pulse.ReasonConnectionReset},
	{"broken pipe", pulse.ReasonConnectionReset},
	{"connection timed out", pulse.ReasonIOError},
	{"error reading from server: EOF", pulse.ReasonPeerClosed},
	{"error reading from server", pulse.ReasonIOError},
	// The transport ended but the text does not say why.
	{"transport is closing", pulse.ReasonUnknown},
	{"the connection is draining", pulse.ReasonGoAway},
}

// goAwayTextReason reads the code and debug data out of grpc-go's GOAWAY
// description `code: <CODE>, debug data: "<quoted>"`. Only a client writes
// it, about a GOAWAY its server sent.
func goAwayTextReason(s string) pulse.Reason {
	const codeMarker = "goaway: code: "
	name := strings.TrimPrefix(s, codeMarker)
	if i := strings.IndexByte(name, ','); i >= 0 {
		name = name[:i]
	}
	code, ok := goAwayCodeByName(name)
	if !ok {
		return pulse.ReasonGoAway
	}
	const marker = "debug data: "
	i := strings.Index(s, marker)
	if i < 0 {
		return GoAwayCloseReason(pulse.SideServer, code, GoAwayOther)
	}
	debug, err := strconv.QuotedPrefix(s[i+len(marker):])
	if err != nil {
		return GoAwayCloseReason(pulse.SideServer, code, GoAwayOther)
	}
	d, err := strconv.Unquote(debug)
	if err != nil {
		return GoAwayCloseReason(pulse.SideServer, code, GoAwayOther)
	}
	return GoAwayCloseReason(pulse.SideServer, code, ClassifyGoAway(pulse.SideServer, code, []byte(d)))
}
