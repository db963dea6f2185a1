package main

import (
	"strings"
	"testing"
)

// TestQuickstart runs the demo end to end and checks that it explains each
// of the three failures it provokes, on the side that detected it.
func TestQuickstart(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"grpc.close.reason=max_connection_age",
		"grpc.close.reason=too_many_pings",
		"grpc.close.reason=keepalive_timeout",
		"code = Unavailable",
		"interceptors.Cause:  max_connection_age",
		"interceptors.Cause:  too_many_pings",
		"grpc.rpc.transport_failures",
		"grpc.transport  span=",
		"event grpc.keepalive.timeout",
		"app: watch health",
		"link to span=",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
