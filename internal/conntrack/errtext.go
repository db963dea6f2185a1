package conntrack

import (
	"strconv"
	"strings"
)

// ClassifyErrorText maps the text of an RPC error that grpc-go produced when
// a transport ended to the reason it names. It is the fallback for RPCs
// whose connection has no journal (credentials not wrapped, or no grpcpulse
// stats handler): grpc-go's wording varies by code path and version, so it
// matches stable substrings and reports false for text it does not know,
// including every error that did not come from a transport.
func ClassifyErrorText(msg string) (Reason, bool) {
	if strings.Contains(msg, "while dialing") {
		// The RPC never had a transport: a failed connection attempt
		// is not a transport that ended.
		return ReasonUnknown, false
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
	return ReasonUnknown, false
}

var errTextMatches = []struct {
	text   string
	reason Reason
}{
	{"keepalive ping failed to receive ACK within timeout", ReasonKeepaliveTimeout},
	{"connection reset by peer", ReasonConnectionReset},
	{"broken pipe", ReasonConnectionReset},
	{"connection timed out", ReasonIOError},
	{"error reading from server: EOF", ReasonPeerClosed},
	{"error reading from server", ReasonIOError},
	// The transport ended but the text does not say why.
	{"transport is closing", ReasonUnknown},
	{"the connection is draining", ReasonGoAway},
}

// goAwayTextReason reads the code and debug data out of grpc-go's GOAWAY
// description `code: <CODE>, debug data: "<quoted>"`. Only a client writes
// it, about a GOAWAY its server sent.
func goAwayTextReason(s string) Reason {
	const codeMarker = "goaway: code: "
	name := strings.TrimPrefix(s, codeMarker)
	if i := strings.IndexByte(name, ','); i >= 0 {
		name = name[:i]
	}
	code, ok := goAwayCodeByName(name)
	if !ok {
		return ReasonGoAway
	}
	const marker = "debug data: "
	i := strings.Index(s, marker)
	if i < 0 {
		return GoAwayCloseReason(Server, code, GoAwayOther)
	}
	debug, err := strconv.QuotedPrefix(s[i+len(marker):])
	if err != nil {
		return GoAwayCloseReason(Server, code, GoAwayOther)
	}
	d, err := strconv.Unquote(debug)
	if err != nil {
		return GoAwayCloseReason(Server, code, GoAwayOther)
	}
	return GoAwayCloseReason(Server, code, ClassifyGoAway(Server, code, []byte(d)))
}
