package testenv

import (
	"testing"

	"github.com/grpcpulse/grpcpulse/options"
)

// FailOnPolicyErrors returns an error handler for options.WithErrorHandler
// that fails t on any error grpcpulse reports but a keepalive policy's
// Warning findings: a bundle given a policy Validate rejects as an Error
// or Fatal, a nil option, instruments that could not be created.
func FailOnPolicyErrors(t *testing.T) func(error) {
	return func(err error) {
		if !onlyWarnings(err) {
			t.Errorf("grpcpulse reported: %v", err)
		}
	}
}

// onlyWarnings reports whether err holds findings, all of them warnings.
func onlyWarnings(err error) bool {
	var walk func(error) (findings int, serious bool)
	walk = func(e error) (int, bool) {
		if f, ok := e.(options.Finding); ok {
			return 1, f.Severity > options.Warning
		}
		var n int
		var serious bool
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				cn, cs := walk(c)
				n, serious = n+cn, serious || cs
			}
		case interface{ Unwrap() error }:
			return walk(u.Unwrap())
		}
		return n, serious
	}
	n, serious := walk(err)
	return n > 0 && !serious
}
