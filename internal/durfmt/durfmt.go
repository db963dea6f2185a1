// Package durfmt formats durations the way grpcpulse writes them for
// operators: settings exactly and without trailing zero units ("5m",
// "5m30s"), observations rounded to the precision a reader uses.
package durfmt

import (
	"math"
	"strings"
	"time"
)

// Infinity is the duration grpc-go itself uses for "never".
const Infinity = time.Duration(math.MaxInt64)

// Setting formats a configured duration like time.Duration.String without
// trailing zero units ("5m", "2h", "5m30s"), and Infinity as "infinity".
func Setting(d time.Duration) string {
	if d == Infinity {
		return "infinity"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Observed formats a measured duration to the precision an operator reads:
// whole seconds from a minute up, tenths of a second from a second, tenths
// of a millisecond from a millisecond, whole microseconds from a
// microsecond (so that a sub-millisecond interval never reads "0s").
func Observed(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return Setting(d.Round(time.Second))
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d >= time.Microsecond:
		return d.Round(time.Microsecond).String()
	}
	return d.String()
}
