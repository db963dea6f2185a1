// Command quickstart shows grpcpulse explaining three real connection
// failures, all on loopback, in a few seconds:
//
//  1. a server-streaming RPC cut by the server's MaxConnectionAge + grace;
//  2. a client whose connection carries more PINGs than the server's
//     enforcement policy allows (GOAWAY too_many_pings);
//  3. a connection silently blackholed between client and server, detected
//     by the server's keepalive.
//
// Server and client are set up with grpcpulse's one-call bundles
// (options.Server, options.Client). For each failure it prints what the
// application got and the cause grpcpulse found, then every metric and
// every connection span grpcpulse recorded, and the application's span of
// each failed call with the close reason and the link grpcpulse added.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/interceptors"
	"github.com/grpcpulse/grpcpulse/options"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// demo holds the telemetry pipeline shared by every scenario: one
// MeterProvider, read on demand, for both sides (grpc.side tells them apart).
type demo struct {
	w      io.Writer
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
}

func run(w io.Writer) error {
	_, err := runDemo(w)
	return err
}

// runDemo runs the demo and returns the spans it recorded.
func runDemo(w io.Writer) ([]sdktrace.ReadOnlySpan, error) {
	// What a real program does once at start: the W3C trace context
	// travels in each RPC's metadata, so that the client's RPC span and the
	// server's share one trace. grpcpulse's own RPC spans (WithRPCSpans
	// below) read the global propagator, as otelgrpc does.
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	r := sdkmetric.NewManualReader()
	spans := tracetest.NewSpanRecorder()
	d := &demo{
		w: &lockedWriter{w: w}, reader: r, mp: sdkmetric.NewMeterProvider(sdkmetric.WithReader(r)),
		spans: spans, tp: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
	}
	defer d.mp.Shutdown(context.Background())
	defer d.tp.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()

	fmt.Fprintln(w, "grpcpulse quickstart: provoking three real connection failures on loopback")
	for _, s := range []struct {
		name string
		f    func(context.Context) error
	}{
		{"max age", d.streamCutByMaxAge},
		{"too many pings", d.tooManyPings},
		{"blackhole", d.blackhole},
	} {
		if err := s.f(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	if err := d.report(); err != nil {
		return nil, err
	}
	d.reportSpans()
	return d.spans.Ended(), nil
}

// serve starts a health server set up by options.Server on 127.0.0.1:0.
// The health service is the demo's service: its Watch is a server-streaming
// RPC that stays open, like a subscription in a real application.
func (d *demo) serve(opts ...options.ServerOption) (stop func(), addr string, err error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := grpc.NewServer(options.Server(append([]options.ServerOption{
		options.WithMeterProvider(d.mp), options.WithTracerProvider(d.tp), options.WithRPCSpans(true), options.WithLogger(d.logger()),
		// What Validate says of the demo's deliberately short settings.
		options.WithErrorHandler(func(err error) {
			fmt.Fprintf(d.w, "   options: %s\n", strings.ReplaceAll(err.Error(), "\n", "\n            "))
		}),
	}, opts...)...)...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	return srv.Stop, lis.Addr().String(), nil
}

// dial returns a client set up by options.Client.
func (d *demo) dial(target string, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts := options.Client(options.WithMeterProvider(d.mp), options.WithTracerProvider(d.tp), options.WithRPCSpans(true), options.WithLogger(d.logger()))
	return grpc.NewClient(target, append(opts, extra...)...)
}

// logger writes grpcpulse's diagnoses, one line each, into the demo's
// output: the record a real program would find in its log, with what was
// observed and the advice.
func (d *demo) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(prefixed{d.w, "   diagnosis: "}, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // the demo's lines carry no timestamps
			}
			return a
		},
	}))
}

// lockedWriter serialises writes: the demo's own lines and grpcpulse's
// diagnoses, which grpc-go's goroutines log, share one output.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// prefixed writes each record it is given on a line of its own, indented
// under the scenario it belongs to.
type prefixed struct {
	w      io.Writer
	prefix string
}

func (p prefixed) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, p.prefix+string(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// watchUntilCut opens a Watch stream and waits until it fails, then prints
// what the application got and what interceptors.Cause says about it.
func (d *demo) watchUntilCut(ctx context.Context, cc *grpc.ClientConn, opened func()) error {
	// The application's own span around the call: grpcpulse annotates the
	// span it finds in the RPC's context (here this one; otelgrpc's when
	// it is installed).
	ctx, span := d.tp.Tracer("quickstart").Start(ctx, "app: watch health")
	defer span.End()
	stream, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil {
		return err
	}
	if _, err := stream.Recv(); err != nil { // the first status: the stream is open
		return err
	}
	if opened != nil {
		opened()
	}
	for err == nil {
		_, err = stream.Recv()
	}
	cause, ok := interceptors.Cause(ctx, err)
	fmt.Fprintf(d.w, "   the application got: %v\n", err)
	fmt.Fprintf(d.w, "   interceptors.Cause:  %s (transport-caused: %v)\n", cause, ok)
	return nil
}

func (d *demo) streamCutByMaxAge(ctx context.Context) error {
	fmt.Fprintln(d.w, "\n1. A Watch stream outlives the server's MaxConnectionAge (1s) + grace (1s)")
	stop, addr, err := d.serve(options.WithServerParameters(keepalive.ServerParameters{
		Time: time.Minute, MaxConnectionAge: time.Second, MaxConnectionAgeGrace: time.Second,
	}))
	if err != nil {
		return err
	}
	defer stop()
	cc, err := d.dial(addr)
	if err != nil {
		return err
	}
	defer cc.Close()
	if err := d.watchUntilCut(ctx, cc, nil); err != nil {
		return err
	}
	return d.waitForClose(ctx, "max_connection_age")
}

func (d *demo) tooManyPings(ctx context.Context) error {
	fmt.Fprintln(d.w, "\n2. PINGs flood a connection that carries a Watch stream (the server allows one per 5s)")
	fmt.Fprintln(d.w, "   (grpc-go itself logs the GOAWAY its client receives, on stderr: \"ERROR: [transport] Client received GoAway with error code")
	fmt.Fprintln(d.w, "   ENHANCE_YOUR_CALM and debug data equal to ASCII \"too_many_pings\"\". It says what happened, not why: the lines below do.)")
	stop, addr, err := d.serve()
	if err != nil {
		return err
	}
	defer stop()
	// grpc-go's own client never pings more often than every 10s, so a
	// middlebox on the path plays a pinging proxy and adds the PINGs.
	box := &middlebox{}
	cc, err := d.dial(addr, grpc.WithContextDialer(box.dial))
	if err != nil {
		return err
	}
	defer cc.Close()
	if err := d.watchUntilCut(ctx, cc, func() { box.floodPings(6) }); err != nil {
		return err
	}
	return d.waitForClose(ctx, "too_many_pings")
}

func (d *demo) blackhole(ctx context.Context) error {
	fmt.Fprintln(d.w, "\n3. A middlebox silently drops the flow; the server's keepalive (Time 1s, Timeout 1s) notices")
	stop, addr, err := d.serve(options.WithServerParameters(keepalive.ServerParameters{Time: time.Second, Timeout: time.Second}))
	if err != nil {
		return err
	}
	defer stop()
	box := &middlebox{}
	cc, err := d.dial(addr, grpc.WithContextDialer(box.dial))
	if err != nil {
		return err
	}
	defer cc.Close()
	if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		return err
	}
	box.drop()
	fmt.Fprintln(d.w, "   the middlebox now discards every byte in both directions")
	return d.waitForClose(ctx, "keepalive_timeout")
}

// waitForClose polls the metrics until a close with reason is recorded.
func (d *demo) waitForClose(ctx context.Context, reason string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		rm, err := d.collect()
		if err != nil {
			return err
		}
		for _, p := range sumPoints(rm, "grpc.transport.closes") {
			if v, _ := p.Attributes.Value("grpc.close.reason"); v.AsString() == reason {
				side, _ := p.Attributes.Value("grpc.side")
				fmt.Fprintf(d.w, "   grpcpulse recorded: grpc.transport.closes on the %s, grpc.close.reason=%s\n", side.AsString(), reason)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no close with reason %s recorded: %w", reason, ctx.Err())
		case <-tick.C:
		}
	}
}

func (d *demo) collect() (metricdata.ResourceMetrics, error) {
	var rm metricdata.ResourceMetrics
	err := d.reader.Collect(context.Background(), &rm)
	return rm, err
}

func sumPoints(rm metricdata.ResourceMetrics, name string) []metricdata.DataPoint[int64] {
	var out []metricdata.DataPoint[int64]
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == name {
				out = append(out, s.DataPoints...)
			}
		}
	}
	return out
}

// report prints every grpcpulse metric, one line per attribute set.
func (d *demo) report() error {
	rm, err := d.collect()
	if err != nil {
		return err
	}
	fmt.Fprintln(d.w, "\nMetrics recorded by grpcpulse:")
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var lines []string
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range data.DataPoints {
					lines = append(lines, fmt.Sprintf("    %-6d %s", p.Value, labels(p.Attributes)))
				}
			case metricdata.Histogram[float64]:
				for _, p := range data.DataPoints {
					lines = append(lines, fmt.Sprintf("    n=%-4d sum=%.3fs  %s", p.Count, p.Sum, labels(p.Attributes)))
				}
			}
			if len(lines) == 0 {
				continue
			}
			sort.Strings(lines)
			fmt.Fprintf(d.w, "  %s (%s)\n%s\n", m.Name, m.Unit, strings.Join(lines, "\n"))
		}
	}
	return nil
}

// reportSpans prints the connection spans and the application's spans.
func (d *demo) reportSpans() {
	fmt.Fprintln(d.w, "\nSpans recorded (grpcpulse's connection spans and RPC spans, client and server of an RPC in one trace; app spans annotated by grpcpulse):")
	for _, s := range d.spans.Ended() {
		fmt.Fprintf(d.w, "  %s  span=%s trace=%s parent=%s kind=%s status=%s\n    %s\n", s.Name(), s.SpanContext().SpanID(),
			s.SpanContext().TraceID(), s.Parent().SpanID(), s.SpanKind(), s.Status().Code, labels(attribute.NewSet(s.Attributes()...)))
		for _, ev := range s.Events() {
			fmt.Fprintf(d.w, "    event %s %s\n", ev.Name, labels(attribute.NewSet(ev.Attributes...)))
		}
		for _, l := range s.Links() {
			fmt.Fprintf(d.w, "    link to span=%s\n", l.SpanContext.SpanID())
		}
	}
}

func labels(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, " ")
}
