// Command otel sends grpcpulse's metrics and traces wherever the standard
// OpenTelemetry environment variables say: an OpenTelemetry Collector,
// Jaeger or Tempo over OTLP, a Prometheus /metrics endpoint, or the
// console.
//
// It starts a gRPC server and a client on loopback, both set up with
// grpcpulse's one-call bundles (options.Server, options.Client), with
// otelgrpc installed beside grpcpulse (options.WithStatsHandler), serves
// grpc.health.v1.Health, and then, until interrupted (or until -duration
// has passed, if set):
//
//   - calls Health/Check every -check-interval;
//   - keeps a Health/Watch stream open. The server's MaxConnectionAge
//     (-max-age) and MaxConnectionAgeGrace (-grace) cut that stream at
//     about max-age+grace, as they cut long-lived streams in production;
//     the client opens a new one each time.
//
// Every cut shows up as grpc.transport.closes with
// grpc.close.reason=max_connection_age (on both grpc.side values) and as
// grpc.rpc.transport_failures with rpc.method=grpc.health.v1.Health/Watch,
// next to grpc.transport.connections, grpc.transport.lifetime,
// grpc.transport.goaways and, when -check-interval is above
// -keepalive-time, grpc.keepalive.pings and grpc.keepalive.rtt. Each RPC
// is one trace: otelgrpc's client span and, under it, its server span (the
// W3C trace context travels in the request metadata), with grpcpulse's
// annotations; each transport has its own grpc.transport span.
//
// The exporters are chosen by go.opentelemetry.io/contrib/exporters/autoexport
// from the environment, as the OpenTelemetry specification defines it:
//
//	OTEL_METRICS_EXPORTER, OTEL_TRACES_EXPORTER   otlp (default), prometheus (metrics only), console, none
//	OTEL_EXPORTER_OTLP_PROTOCOL                   http/protobuf (default, port 4318) or grpc (port 4317)
//	OTEL_EXPORTER_OTLP_ENDPOINT                   e.g. http://localhost:4318 (http:// means plaintext;
//	                                              the default is https://localhost:4318)
//	OTEL_EXPORTER_OTLP_{METRICS,TRACES}_*         the same, per signal; OTEL_EXPORTER_OTLP_HEADERS, ...
//	OTEL_EXPORTER_PROMETHEUS_HOST, _PORT          where /metrics is served (default localhost:9464)
//	OTEL_METRIC_EXPORT_INTERVAL                   milliseconds between metric exports (here 5000 unless set)
//	OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES   the resource (service.name defaults to grpcpulse-example)
//
// For example:
//
//	# Jaeger (traces only): docker run --rm -p 4318:4318 -p 16686:16686 jaegertracing/all-in-one
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 OTEL_METRICS_EXPORTER=none go run ./examples/otel
//	# an OpenTelemetry Collector (or Grafana Alloy, Tempo + Mimir, ...) taking both signals
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 go run ./examples/otel
//	# Prometheus: scrape localhost:9464 (examples/operators has rules and a dashboard)
//	OTEL_METRICS_EXPORTER=prometheus OTEL_TRACES_EXPORTER=none go run ./examples/otel
//	# the console, for a look without any backend
//	OTEL_METRICS_EXPORTER=console OTEL_TRACES_EXPORTER=console go run ./examples/otel -duration 20s
//
// A backend that refuses a signal (Jaeger answers metrics with gRPC
// Unimplemented or HTTP 404) is reported once, with what to set, and does
// not fail the run; every other export error is printed once too, and
// repeats are only counted. The run fails when telemetry could not be
// delivered at the final flush for any other reason (no backend listening,
// for one).
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
