package peertest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"

	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// GoEnd is the Go side of a scenario: grpcpulse installed through the
// options bundle, with an OpenTelemetry SDK meter and tracer provider to
// read back, and an independent count of the transports grpc-go reported.
type GoEnd struct {
	name    string
	M       *testenv.Metrics
	TP      *sdktrace.TracerProvider
	Spans   *tracetest.SpanRecorder
	Counter *testenv.ConnCounter
}

func newGoEnd(t *testing.T, name string) *GoEnd {
	e := &GoEnd{name: name, M: testenv.NewMetrics(t), Spans: tracetest.NewSpanRecorder(), Counter: &testenv.ConnCounter{}}
	e.TP = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(e.Spans))
	t.Cleanup(func() { _ = e.TP.Shutdown(context.Background()) })
	return e
}

// telemetry returns the options that record into this end and fail the
// test on a keepalive policy Validate rejects as an Error.
func (e *GoEnd) telemetry(t *testing.T) []options.Option {
	return []options.Option{options.WithMeterProvider(e.M.Provider), options.WithErrorHandler(testenv.FailOnPolicyErrors(t))}
}

// GoServer starts a grpc-go server with grpcpulse's bundle and grpcpulse's
// test service on 127.0.0.1. When the test ends, after the server stopped,
// it checks that every transport that began ended in exactly one close.
func GoServer(t *testing.T, svc *testenv.Service, extra ...options.ServerOption) (*GoEnd, string) {
	t.Helper()
	e := newGoEnd(t, "go server")
	opts := []options.ServerOption{options.WithTracerProvider(e.TP)}
	for _, o := range e.telemetry(t) {
		opts = append(opts, o)
	}
	opts = append(opts, extra...)
	t.Cleanup(func() { e.CheckNothingLost(t) }) // runs after the server's Stop
	_, addr := testenv.Serve(t, svc, append(options.Server(opts...), grpc.StatsHandler(e.Counter))...)
	return e, addr
}

// GoClient returns a grpc-go client of target with grpcpulse's bundle. It
// is closed when the test ends, and the same check as GoServer's runs then.
func GoClient(t *testing.T, target string, extra ...options.ClientOption) (*GoEnd, *grpc.ClientConn) {
	t.Helper()
	e := newGoEnd(t, "go client")
	opts := []options.ClientOption{options.WithTracerProvider(e.TP)}
	for _, o := range e.telemetry(t) {
		opts = append(opts, o)
	}
	opts = append(opts, extra...)
	cc, err := grpc.NewClient(target, append(options.Client(opts...), grpc.WithStatsHandler(e.Counter))...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() {
		_ = cc.Close()
		e.CheckNothingLost(t)
	})
	return e, cc
}

// Closes sums grpc.transport.closes over the points that match.
func (e *GoEnd) Closes(t *testing.T, match ...attribute.KeyValue) int64 {
	t.Helper()
	return e.M.Sum(t, semconv.MetricCloses, match...)
}

// Failures sums grpc.rpc.transport_failures over the points that match.
func (e *GoEnd) Failures(t *testing.T, match ...attribute.KeyValue) int64 {
	t.Helper()
	return e.M.Sum(t, semconv.MetricTransportFailures, match...)
}

// GoAways sums grpc.transport.goaways over the points that match.
func (e *GoEnd) GoAways(t *testing.T, match ...attribute.KeyValue) int64 {
	t.Helper()
	return e.M.Sum(t, semconv.MetricGoAways, match...)
}

// Dump renders every int64 sum grpcpulse records, for failure messages and
// for the log of what a scenario observed.
func (e *GoEnd) Dump(t *testing.T) string {
	t.Helper()
	s := e.name + ":"
	for _, name := range []string{semconv.MetricCloses, semconv.MetricGoAways, semconv.MetricPings, semconv.MetricTransportFailures, semconv.MetricConnections} {
		s += "\n" + e.M.Dump(t, name)
	}
	return s
}

// WaitClose waits until this side recorded a close with reason and
// initiator.
func (e *GoEnd) WaitClose(t *testing.T, reason, initiator string) {
	t.Helper()
	testenv.Eventually(t, func() string {
		if e.Closes(t, semconv.CloseReason.String(reason), semconv.CloseInitiator.String(initiator)) > 0 {
			return ""
		}
		return fmt.Sprintf("no close with reason=%s initiator=%s\n%s", reason, initiator, e.Dump(t))
	})
}

// WaitFailure waits until this side counted a transport failure of method
// with reason and status code.
func (e *GoEnd) WaitFailure(t *testing.T, reason, method, code string) {
	t.Helper()
	testenv.Eventually(t, func() string {
		if e.Failures(t, semconv.CloseReason.String(reason), semconv.RPCMethod.String(method), semconv.RPCStatusCode.String(code)) > 0 {
			return ""
		}
		return fmt.Sprintf("no transport failure reason=%s method=%s code=%s\n%s", reason, method, code, e.Dump(t))
	})
}

// CheckNothingLost asserts that each transport grpc-go began ended in
// exactly one grpc.transport.closes count and the connections gauge is
// back to zero.
func (e *GoEnd) CheckNothingLost(t *testing.T) {
	t.Helper()
	testenv.Eventually(t, func() string {
		begins, ends := e.Counter.Begins.Load(), e.Counter.Ends.Load()
		closes, open := e.Closes(t), e.M.Sum(t, semconv.MetricConnections)
		if begins == ends && closes == ends && open == 0 {
			return ""
		}
		return fmt.Sprintf("%s: begins=%d ends=%d closes=%d connections=%d\n%s", e.name, begins, ends, closes, open, e.Dump(t))
	})
}

// GoAwayEvents returns, for each ended connection span, the grpc.goaway
// events it carries as "direction code reason last_stream_id", in order.
func (e *GoEnd) GoAwayEvents() [][]string {
	var out [][]string
	for _, s := range e.Spans.Ended() {
		if s.Name() != pulse.SpanTransport {
			continue
		}
		var evs []string
		for _, ev := range s.Events() {
			if ev.Name != "grpc.goaway" {
				continue
			}
			set := attribute.NewSet(ev.Attributes...)
			get := func(k attribute.Key) string {
				v, _ := set.Value(k)
				return v.String()
			}
			evs = append(evs, strings.Join([]string{get(semconv.GoAwayDirection), get(semconv.GoAwayCode),
				get(semconv.GoAwayReason), get(semconv.GoAwayLastID)}, " "))
		}
		out = append(out, evs)
	}
	return out
}
