package probe

import (
	"fmt"
	"strings"
)

// A measured setting in each implementation's own words: grpc-go's
// keepalive fields, the channel arguments C-core and grpc-js read (the
// strings, as a Python or Node program passes them), grpc-java's
// NettyServerBuilder methods and nginx's directives. An empty name means
// the implementation has no such setting.
type settingNames struct {
	what                                  string // for people, without a name: "minimum ping interval"
	goName, ccore, js, java, nginx, envoy string
	// none says what an implementation without the setting does instead.
	none string
}

var findingSettings = map[string]settingNames{
	FindingMinTime: {
		what:   "minimum ping interval",
		goName: "keepalive.EnforcementPolicy.MinTime", ccore: "grpc.http2.min_ping_interval_without_data_ms",
		java: "NettyServerBuilder.permitKeepAliveTime",
		none: "enforces no minimum and answers every PING",
	},
	FindingPermitWithoutStream: {
		what:   "pings without calls",
		goName: "keepalive.EnforcementPolicy.PermitWithoutStream", ccore: "grpc.keepalive_permit_without_calls",
		java: "NettyServerBuilder.permitKeepAliveWithoutCalls",
		none: "accepts PINGs whether or not a call is open",
	},
	FindingMaxConnectionAge: {
		what:   "connection age limit",
		goName: "keepalive.ServerParameters.MaxConnectionAge", ccore: "grpc.max_connection_age_ms", js: "grpc.max_connection_age_ms",
		java: "NettyServerBuilder.maxConnectionAge", envoy: "max_connection_duration",
	},
	FindingMaxConnectionGrace: {
		what:   "grace after the age",
		goName: "keepalive.ServerParameters.MaxConnectionAgeGrace", ccore: "grpc.max_connection_age_grace_ms", js: "grpc.max_connection_age_grace_ms",
		java: "NettyServerBuilder.maxConnectionAgeGrace",
	},
	FindingMaxConnectionIdle: {
		what:   "idle limit",
		goName: "keepalive.ServerParameters.MaxConnectionIdle", ccore: "grpc.max_connection_idle_ms", js: "grpc.max_connection_idle_ms",
		java: "NettyServerBuilder.maxConnectionIdle", nginx: "keepalive_timeout", envoy: "idle_timeout",
	},
	FindingServerKeepalive: {
		what:   "keepalive time",
		goName: "keepalive.ServerParameters.Time", ccore: "grpc.keepalive_time_ms", js: "grpc.keepalive_time_ms",
		java: "NettyServerBuilder.keepAliveTime", envoy: "connection_keepalive.interval",
		none: "sends no keepalive PINGs",
	},
	FindingStreamIdleTimeout: {
		what:  "silent stream timeout",
		nginx: "grpc_read_timeout", envoy: "stream_idle_timeout",
	},
}

// settingName names the setting behind a finding in impl's words: "" when
// impl has no such setting, and grpc-go's, C-core's and grpc-java's names
// when impl is not known (the wire did not show which implementation
// answered).
func settingName(finding, impl string) string {
	n, ok := findingSettings[finding]
	if !ok {
		return ""
	}
	switch impl {
	case ImplGo:
		return n.goName
	case ImplCCore:
		return n.ccore
	case ImplJS:
		return n.js
	case ImplJava:
		return n.java
	case ImplNginx:
		return n.nginx
	case ImplEnvoy:
		return n.envoy
	}
	ccore := "C-core"
	if n.js == n.ccore {
		ccore = "C-core and grpc-js"
	}
	var all []string
	for _, x := range []struct{ impl, name string }{{"grpc-go", n.goName}, {ccore, n.ccore}, {"grpc-java", n.java}} {
		if x.name != "" {
			all = append(all, x.impl+" "+x.name)
		}
	}
	return strings.Join(all, ", ")
}

// knownWithout reports whether impl is known to lack the finding's
// setting (grpc-js enforces no ping policy, nginx sends no PINGs of its
// own), and what it does instead.
func knownWithout(finding, impl string) (string, bool) {
	n, ok := findingSettings[finding]
	if !ok || n.none == "" || settingName(finding, impl) != "" {
		return "", false
	}
	switch {
	case impl == ImplJS && (finding == FindingMinTime || finding == FindingPermitWithoutStream):
		return n.none, true
	case impl == ImplNginx && finding != FindingMaxConnectionAge:
		return n.none, true
	}
	return "", false
}

// findingTitle is a finding's heading in the report, naming what was
// measured in the words of what answered.
func findingTitle(finding string, peer Peer) string {
	base := map[string]string{
		FindingRTT:                 "RTT",
		FindingMinTime:             "Minimum ping interval",
		FindingPermitWithoutStream: "Pings without calls",
		FindingMaxConnectionAge:    "Connection age limit",
		FindingMaxConnectionGrace:  "Grace after the age",
		FindingMaxConnectionIdle:   "Idle limit",
		FindingServerKeepalive:     "Keepalive PINGs from the server",
		FindingPathIdleTimeout:     "Path idle timeout",
		FindingStreamIdleTimeout:   "Silent stream timeout",
	}[finding]
	impl := peer.Implementation
	if finding == FindingServerKeepalive && peer.Proxy {
		base = "Keepalive PINGs from " + implName(impl)
	}
	if none, ok := knownWithout(finding, impl); ok {
		return fmt.Sprintf("%s (%s has no such setting: it %s)", base, implName(impl), none)
	}
	name := settingName(finding, impl)
	switch {
	case name == "":
		return base
	case impl == ImplGo || impl == ImplCCore || impl == ImplJS || impl == ImplJava || peer.Proxy:
		return fmt.Sprintf("%s (%s %s)", base, implName(impl), name)
	}
	return fmt.Sprintf("%s (%s)", base, name)
}

// settingRef names a finding's setting for a sentence: "the minimum ping
// interval (grpc.http2.min_ping_interval_without_data_ms)".
func settingRef(finding, impl string) string {
	n := findingSettings[finding]
	if name := settingName(finding, impl); name != "" {
		return fmt.Sprintf("the %s (%s)", n.what, name)
	}
	return "the " + n.what
}

// settingLabel names a finding's setting at the head of a line: "Minimum
// ping interval (grpc.http2.min_ping_interval_without_data_ms)".
func settingLabel(finding, impl string) string {
	return upperFirst(strings.TrimPrefix(settingRef(finding, impl), "the "))
}
