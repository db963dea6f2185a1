// Command otel sends grpcpulse's metrics and traces wherever the standard
// OpenTelemetry environment variables say: an OpenTelemetry Collector,
// Jaeger or Tempo over OTLP, a Prometheus /metrics endpoint, or the
// console (go.opentelemetry.io/contrib/exporters/autoexport).
//
// It starts a gRPC health server and two clients on loopback, set up with
// grpcpulse's bundles and with otelgrpc beside grpcpulse. The server's
// MaxConnectionAge cuts the first client's Watch stream, its
// MaxConnectionIdle closes the connection of the second, a standby that
// calls nothing, and its keepalive pings that connection meanwhile. The
// banner says when each happens.
//
// README.md in this directory describes the workload, its flags and
// timing, the environment variables, and how to run it against Jaeger, a
// Collector, Prometheus or the console.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/grpcpulse/grpcpulse/examples/internal/healthload"
	"github.com/grpcpulse/grpcpulse/options"
)

// serviceName is the resource's service.name (target_info's service_name in
// Prometheus) unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say
// otherwise.
const serviceName = "grpcpulse-example"

func main() {
	var cfg healthload.Config
	cfg.RegisterFlags(flag.CommandLine, 0)
	flag.Parse()

	// The SDK's default metric export interval is a minute; a demo wants
	// to see its numbers sooner. The environment still wins.
	if os.Getenv("OTEL_METRIC_EXPORT_INTERVAL") == "" {
		_ = os.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "5000")
	}
	// SIGINT/SIGTERM cancel the context: run then stops the workload and
	// still flushes the telemetry recorded so far.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "otel:", err)
		os.Exit(1)
	}
}

// run sets up the exporters the environment names, runs the workload until
// ctx is done or cfg.Duration has passed, and flushes the telemetry.
func run(ctx context.Context, out io.Writer, cfg healthload.Config) (err error) {
	w := healthload.NewLockedWriter(out) // the workload's goroutines print concurrently
	if err := cfg.Check(); err != nil {
		return err
	}

	// What a real program does once at start: export errors are reported
	// once each instead of at every export interval, and the W3C trace
	// context (and baggage) travels in the metadata of every RPC, so that
	// a client span and the server span under it share one trace.
	// otelgrpc and grpcpulse read the global propagator when their options
	// are applied, so it is set before them.
	errs := newErrorReporter(w)
	otel.SetErrorHandler(errs)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))

	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", serviceName)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // last, so that the environment wins
	)
	if err != nil {
		return err
	}
	// The OTLP exporters connect lazily: they are created without a
	// backend, and export errors go to the error handler.
	reader, err := autoexport.NewMetricReader(ctx)
	if err != nil {
		return fmt.Errorf("metrics exporter (OTEL_METRICS_EXPORTER): %w", err)
	}
	spanExp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		_ = reader.Shutdown(ctx)
		return fmt.Errorf("traces exporter (OTEL_TRACES_EXPORTER): %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(reader))
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(spanExp))
	// Global, so that instrumentation that takes no provider exports
	// through them too; grpcpulse and otelgrpc default to these.
	otel.SetMeterProvider(mp)
	otel.SetTracerProvider(tp)
	defer func() {
		// Deferred first, so it runs last: after the server and client have
		// stopped, so that their final closes are in the last export. ctx
		// may be cancelled already; the flush gets its own deadline.
		fmt.Fprintln(w, "flushing telemetry (up to 10s)")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		var failed []error
		flushed := "telemetry flushed"
		for _, e := range []error{tp.Shutdown(sctx), mp.Shutdown(sctx)} {
			switch {
			case e == nil:
			case refused(e):
				// Reported like any export error, so that a refused
				// signal is still reported only once; not a failure.
				errs.Handle(e)
				flushed += ", except the " + signalOf(e) + " the backend refuses"
			default:
				errs.Handle(e)
				failed = append(failed, e)
			}
		}
		errs.summary()
		if len(failed) > 0 {
			err = errors.Join(err, fmt.Errorf("telemetry not delivered: %w", errors.Join(failed...)))
			return
		}
		fmt.Fprintln(w, flushed)
	}()
	fmt.Fprintln(w, describeExporters(os.Getenv))

	// otelgrpc is installed through WithStatsHandler, which puts it after
	// grpcpulse's handler: grpcpulse sees otelgrpc's span in each RPC's
	// context and annotates it before otelgrpc ends it. Both default to
	// the global providers and propagator set above.
	return healthload.Serve(ctx, w, cfg,
		[]options.ServerOption{options.WithStatsHandler(otelgrpc.NewServerHandler())},
		[]options.ClientOption{options.WithStatsHandler(otelgrpc.NewClientHandler())},
		"look for grpc.transport.closes{grpc.close.reason=max_connection_age} and grpc.rpc.transport_failures in your metrics backend")
}
