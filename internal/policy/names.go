package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/grpcpulse/grpcpulse/internal/durfmt"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// names are the settings' names in each implementation: grpc-go's struct
// fields, C-core's and grpc-js's channel arguments, grpc-java's builder
// methods. "" where the implementation has no such setting (grpc-js
// enforces no ping policy; only C-core limits PINGs without data and
// counts strikes by a setting).
var names = map[Knob][4]string{
	//                           go                                       c-core                                          js                                java
	KnobClientTime:                  {"ClientParameters.Time", ArgKeepaliveTime, ArgKeepaliveTime, "ManagedChannelBuilder.keepAliveTime"},
	KnobClientTimeout:               {"ClientParameters.Timeout", ArgKeepaliveTimeout, ArgKeepaliveTimeout, "ManagedChannelBuilder.keepAliveTimeout"},
	KnobClientPermitWithoutStream:   {"ClientParameters.PermitWithoutStream", ArgPermitWithoutCalls, ArgPermitWithoutCalls, "ManagedChannelBuilder.keepAliveWithoutCalls"},
	KnobClientMaxPingsWithoutData:   {"", ArgMaxPingsWithoutData, "", ""},
	KnobServerTime:                  {"ServerParameters.Time", ArgKeepaliveTime, ArgKeepaliveTime, "NettyServerBuilder.keepAliveTime"},
	KnobServerTimeout:               {"ServerParameters.Timeout", ArgKeepaliveTimeout, ArgKeepaliveTimeout, "NettyServerBuilder.keepAliveTimeout"},
	KnobServerMinTime:               {"EnforcementPolicy.MinTime", ArgMinRecvPingInterval, "", "NettyServerBuilder.permitKeepAliveTime"},
	KnobServerPermitWithoutStream:   {"EnforcementPolicy.PermitWithoutStream", ArgPermitWithoutCalls, "", "NettyServerBuilder.permitKeepAliveWithoutCalls"},
	KnobServerMaxPingStrikes:        {"", ArgMaxPingStrikes, "", ""},
	KnobServerMaxConnectionIdle:     {"ServerParameters.MaxConnectionIdle", ArgMaxConnectionIdle, ArgMaxConnectionIdle, "NettyServerBuilder.maxConnectionIdle"},
	KnobServerMaxConnectionAge:      {"ServerParameters.MaxConnectionAge", ArgMaxConnectionAge, ArgMaxConnectionAge, "NettyServerBuilder.maxConnectionAge"},
	KnobServerMaxConnectionAgeGrace: {"ServerParameters.MaxConnectionAgeGrace", ArgMaxConnectionAgeGrac, ArgMaxConnectionAgeGrac, "NettyServerBuilder.maxConnectionAgeGrace"},
}

// what a knob is, for an implementation that is not known.
var generic = map[Knob]string{
	KnobClientTime:                  "keepalive time",
	KnobClientTimeout:               "keepalive timeout",
	KnobClientPermitWithoutStream:   "permission to ping without calls",
	KnobClientMaxPingsWithoutData:   "limit of pings without data",
	KnobServerTime:                  "keepalive time",
	KnobServerTimeout:               "keepalive timeout",
	KnobServerMinTime:               "minimum ping interval it accepts",
	KnobServerPermitWithoutStream:   "permission for pings without calls",
	KnobServerMaxPingStrikes:        "ping strikes",
	KnobServerMaxConnectionIdle:     "maximum connection idle time",
	KnobServerMaxConnectionAge:      "maximum connection age",
	KnobServerMaxConnectionAgeGrace: "maximum connection age grace",
}

var implIndex = map[pulse.Implementation]int{
	pulse.ImplementationGo: 0, pulse.ImplementationCCore: 1, pulse.ImplementationJS: 2, pulse.ImplementationJava: 3,
}

// Known reports whether impl is one of the four implementations whose
// settings grpcpulse names.
func Known(impl pulse.Implementation) bool {
	_, ok := implIndex[impl]
	return ok
}

// Name returns what impl calls the knob, or "" when impl is not one of the
// four or has no such setting.
func Name(k Knob, impl pulse.Implementation) string {
	i, ok := implIndex[impl]
	if !ok {
		return ""
	}
	return names[k][i]
}

// Has reports whether impl has the setting; an implementation that is not
// known may have any.
func Has(k Knob, impl pulse.Implementation) bool {
	return !Known(impl) || Name(k, impl) != ""
}

// NameFor returns what impl calls the knob; for an implementation that is
// not known, what the knob is and every implementation's name for it:
// "keepalive time (grpc-go ClientParameters.Time; C-core and grpc-js
// grpc.keepalive_time_ms; grpc-java ManagedChannelBuilder.keepAliveTime)".
func NameFor(k Knob, impl pulse.Implementation) string {
	if Known(impl) {
		return Name(k, impl)
	}
	n := names[k]
	var parts []string
	if n[0] != "" {
		parts = append(parts, "grpc-go "+n[0])
	}
	switch {
	case n[1] != "" && n[1] == n[2]:
		parts = append(parts, "C-core and grpc-js "+n[1])
	case n[1] != "":
		parts = append(parts, "C-core "+n[1])
	}
	if n[3] != "" {
		parts = append(parts, "grpc-java "+n[3])
	}
	return generic[k] + " (" + strings.Join(parts, "; ") + ")"
}

// millis reports whether impl takes the knob's durations as integer
// milliseconds.
func millis(impl pulse.Implementation) bool {
	return impl == pulse.ImplementationCCore || impl == pulse.ImplementationJS
}

// durationValue renders d as impl takes it: C-core and grpc-js integer
// milliseconds (rounded up for a lower bound, down for an upper one) with
// the duration beside them, "66000 (1m6s)"; otherwise the duration, "1m6s".
func durationValue(d time.Duration, impl pulse.Implementation, op Op) string {
	if !millis(impl) {
		if d == Infinity && impl == pulse.ImplementationJava {
			return "1000 days or more (off)"
		}
		return durfmt.Setting(d)
	}
	if d == Infinity {
		return fmt.Sprintf("%d (off)", JSMaxMillis)
	}
	ms := d / time.Millisecond
	if op == AtLeast && d%time.Millisecond != 0 {
		ms++
	}
	return fmt.Sprintf("%d (%s)", ms, durfmt.Setting(ms*time.Millisecond))
}

// Millis returns d in whole milliseconds, rounded up for a lower bound
// (AtLeast) and down otherwise, as a C-core or grpc-js channel argument.
func Millis(d time.Duration, op Op) int {
	if d == Infinity {
		return JSMaxMillis
	}
	ms := d / time.Millisecond
	if op == AtLeast && d%time.Millisecond != 0 {
		ms++
	}
	return int(ms)
}

// boolValue renders a switch as impl takes it: 1 or 0 for a channel
// argument, true or false otherwise.
func boolValue(on bool, impl pulse.Implementation) string {
	switch {
	case millis(impl) && on:
		return "1"
	case millis(impl):
		return "0"
	}
	return fmt.Sprint(on)
}
