package spans_test

import (
	"context"
	"net"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
	"github.com/grpcpulse/grpcpulse/internal/spans"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// BenchmarkConnSpanLife is what a short connection's span costs: prepared at
// TagConn, a GOAWAY event (the client's shutdown), and its end, with an SDK
// provider that samples everything and exports nowhere.
func BenchmarkConnSpanLife(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer tp.Shutdown(context.Background())
	tr := spans.NewTracer(tp, pulse.SideServer)
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50051}
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	g := conntrack.GoAway{Dir: conntrack.Received, Reason: conntrack.GoAwayClientShutdown}
	b.ReportAllocs()
	for b.Loop() {
		var c spans.ConnSpan
		o := spans.Origin{Local: local, Remote: remote, Begin: time.Now()}
		tr.Prepare(&c, &o)
		c.GoAway(g)
		c.End(spans.ConnEnd{Reason: pulse.ReasonClientShutdown, Initiator: pulse.InitiatorPeer, RPCs: 1})
	}
}
