package spans

import (
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// wrapped is a provider of another implementation that delegates to the
// SDK: it may keep the lists it is given, so they are not reused for it.
type wrapped struct{ trace.TracerProvider }

// The SDK's provider is recognised by name, without importing the SDK into
// the library, and only it.
func TestCopiesAttributes(t *testing.T) {
	sdk := sdktrace.NewTracerProvider()
	for _, tc := range []struct {
		name string
		tp   trace.TracerProvider
		want bool
	}{
		{"sdk", sdk, true},
		{"noop", noop.NewTracerProvider(), false},
		{"wrapped sdk", wrapped{sdk}, false},
		{"nil", nil, false},
	} {
		if got := copiesAttributes(tc.tp); got != tc.want {
			t.Errorf("%s: copiesAttributes = %v, want %v", tc.name, got, tc.want)
		}
	}
}
