package probe

import (
	"fmt"
	"strings"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Names of what answered the probe: a gRPC implementation, or a proxy
// that terminates HTTP/2 in front of one.
const (
	ImplGo    = "go"     // grpc-go
	ImplCCore = "c-core" // gRPC C-core: C++, Python, Ruby, PHP
	ImplJS    = "js"     // @grpc/grpc-js on Node's http2
	ImplJava  = "java"   // grpc-java on Netty
	ImplNginx = "nginx"  // nginx's grpc_pass
	ImplEnvoy = "envoy"  // Envoy
	ImplOther = "other"  // not recognised
)

// Peer says what answered the probe's HTTP/2, as far as the wire shows.
type Peer struct {
	// Implementation is one of the Impl* constants.
	Implementation string `json:"implementation"`
	// Proxy is true when the peer is a proxy that terminates HTTP/2 (it
	// announces itself): the server behind it is then not seen at all.
	Proxy bool `json:"proxy"`
	// Evidence lists what on the wire named it.
	Evidence []string `json:"evidence,omitempty"`
}

// grpcSettingAllowTrueBinaryMetadata is C-core's own SETTINGS parameter
// (GRPC_CHTTP2_SETTINGS_GRPC_ALLOW_TRUE_BINARY_METADATA); no other
// implementation sends it.
const grpcSettingAllowTrueBinaryMetadata http2.SettingID = 0xfe03

// Known PING payloads that are not keepalives.
var (
	goBDPPing        = [8]byte{2, 4, 16, 16, 9, 14, 7, 7} // grpc-go's BDP estimator
	goDrainPing      = [8]byte{1, 6, 1, 8, 0, 3, 3, 9}    // grpc-go's GOAWAY drain
	nettyBDPPing     = [8]byte{0, 0, 0, 0, 0, 0, 4, 210}  // grpc-java's flow-control PING (1234)
	nettyDrainPing   = [8]byte{0, 0, 0, 9, 122, 206, 240, 1}
	nettyKeepalivePg = [8]byte{0, 0, 0, 0, 0, 0, 222, 173} // grpc-java's keepalive PING (0xDEAD)
)

// notKeepalivePayload reports whether a PING payload is known to be
// something other than a keepalive.
func notKeepalivePayload(d [8]byte) bool {
	return d == goBDPPing || d == goDrainPing || d == nettyBDPPing || d == nettyDrainPing
}

// identify names the peer from the control connection's SETTINGS, its
// first response headers and the PINGs it sent. SETTINGS are compared as
// sent, in order: each implementation writes its own set.
func identify(settings []http2.Setting, headers []hpack.HeaderField, pings []serverPing) Peer {
	var p Peer
	if s := field(headers, "server"); s != "" {
		name := strings.ToLower(s)
		switch {
		case strings.HasPrefix(name, "nginx"):
			p.Implementation = ImplNginx
		case strings.HasPrefix(name, "envoy"):
			p.Implementation = ImplEnvoy
		default:
			p.Implementation = ImplOther
		}
		p.Proxy = true
		p.Evidence = append(p.Evidence, fmt.Sprintf("response header server: %s", printable(s, 40)))
		p.Evidence = append(p.Evidence, "SETTINGS "+settingsText(settings))
		return p
	}
	has := func(id http2.SettingID, val uint32) bool {
		for _, s := range settings {
			if s.ID == id && s.Val == val {
				return true
			}
		}
		return false
	}
	sent := func(id http2.SettingID) bool {
		for _, s := range settings {
			if s.ID == id {
				return true
			}
		}
		return false
	}
	pinged := func(d [8]byte) bool {
		for _, sp := range pings {
			if sp.Data == d {
				return true
			}
		}
		return false
	}
	st := "SETTINGS " + settingsText(settings)
	switch {
	case sent(grpcSettingAllowTrueBinaryMetadata):
		p.Implementation = ImplCCore
		p.Evidence = append(p.Evidence, st+" (0xfe03 is C-core's own setting)")
	case pinged(nettyBDPPing) || pinged(nettyKeepalivePg) || (has(http2.SettingMaxConcurrentStreams, 1<<31-1) && has(http2.SettingMaxHeaderListSize, 8192)):
		p.Implementation = ImplJava
		p.Evidence = append(p.Evidence, st+" (Netty's defaults)")
		if pinged(nettyBDPPing) {
			p.Evidence = append(p.Evidence, "a flow-control PING with grpc-java's payload 1234")
		}
	case pinged(goBDPPing) || (len(settings) > 0 && settings[0].ID == http2.SettingMaxFrameSize && !sent(http2.SettingMaxConcurrentStreams) && !sent(http2.SettingEnablePush)):
		p.Implementation = ImplGo
		p.Evidence = append(p.Evidence, st)
		if pinged(goBDPPing) {
			p.Evidence = append(p.Evidence, "a BDP PING with grpc-go's payload")
		}
	case len(settings) == 0 && field(headers, "date") != "":
		// Node's http2 sends an empty SETTINGS frame and a date header.
		p.Implementation = ImplJS
		p.Evidence = append(p.Evidence, "an empty SETTINGS frame and a date response header (Node's http2)")
	default:
		p.Implementation = ImplOther
		p.Evidence = append(p.Evidence, st)
	}
	return p
}

// implName names an implementation for people.
func implName(impl string) string {
	switch impl {
	case ImplGo:
		return "grpc-go"
	case ImplCCore:
		return "gRPC C-core"
	case ImplJS:
		return "grpc-js"
	case ImplJava:
		return "grpc-java"
	case ImplNginx:
		return "nginx"
	case ImplEnvoy:
		return "Envoy"
	}
	return "an unrecognised HTTP/2 server"
}

func settingsText(ss []http2.Setting) string {
	if len(ss) == 0 {
		return "(empty)"
	}
	var parts []string
	for _, s := range ss {
		parts = append(parts, fmt.Sprintf("%s=%d", settingName(s.ID), s.Val))
	}
	return strings.Join(parts, " ")
}

func settingName(id http2.SettingID) string {
	if id == grpcSettingAllowTrueBinaryMetadata {
		return "0xfe03"
	}
	if n := id.String(); !strings.HasPrefix(n, "UNKNOWN") {
		return n
	}
	return fmt.Sprintf("0x%x", uint16(id))
}

// printable keeps a peer-chosen string to n printable ASCII characters.
func printable(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= n {
			b.WriteString("...")
			break
		}
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		}
	}
	return b.String()
}
