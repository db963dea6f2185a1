// Command otlp shows grpcpulse's telemetry arriving in an OpenTelemetry
// backend over OTLP/gRPC: metrics, and traces through the same pipeline.
//
// It starts a gRPC server and a client on loopback, both set up with
// grpcpulse's one-call bundles (options.Server, options.Client), serves
// grpc.health.v1.Health, and then, until -duration has passed or it is
// interrupted:
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
// next to grpc.transport.connections, grpc.transport.lifetime and
// grpc.transport.goaways. otelgrpc is installed beside grpcpulse
// (options.WithStatsHandler), so each RPC also produces a span, and its
// rpc.* metrics travel with grpcpulse's.
//
// Metrics are exported every -export-interval by a PeriodicReader, spans by
// a batching span processor; both are flushed when the program ends. The
// exporters read the standard environment variables
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_INSECURE,
// OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, ...;
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES for the resource). The
// default endpoint is localhost:4317 with TLS; an http:// endpoint, or
// OTEL_EXPORTER_OTLP_INSECURE=true, means plaintext.
//
// Run an OpenTelemetry Collector, or Jaeger all-in-one for the traces
// (docker run -p 4317:4317 -p 16686:16686 jaegertracing/all-in-one), then:
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 go run ./examples/otlp
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 go run ./examples/otlp -duration 5m -max-age 30s -grace 10s
//
// and look for grpc.transport.closes by grpc.close.reason in the metrics
// backend, and for the service "grpcpulse-example-otlp" in the trace UI.
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

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/grpcpulse/grpcpulse/examples/internal/healthload"
	"github.com/grpcpulse/grpcpulse/options"
)

// serviceName is the resource's service.name unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES say otherwise.
const serviceName = "grpcpulse-example-otlp"

// config is what the flags set; tests fill it in directly.
type config struct {
	healthload.Config
	exportInterval time.Duration // PeriodicReader interval and span batch timeout
}

func main() {
	var cfg config
	cfg.RegisterFlags(flag.CommandLine, 30*time.Second)
	flag.DurationVar(&cfg.exportInterval, "export-interval", 5*time.Second, "how often metrics are exported")
	flag.Parse()

	// SIGINT/SIGTERM cancel the context: run then stops the workload and
	// still flushes the telemetry recorded so far.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "otlp:", err)
		os.Exit(1)
	}
}

// run sets up the OTLP pipeline, runs the workload until ctx is done or
// cfg.duration has passed, and flushes the pipeline.
func run(ctx context.Context, out io.Writer, cfg config) (err error) {
	w := healthload.NewLockedWriter(out) // the workload's goroutines print concurrently
	if err := cfg.Check(); err != nil {
		return err
	}

	// The exporters dial lazily: New succeeds without a collector, and
	// export errors go to otel.Handle (logged to stderr).
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", serviceName)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // last, so that the environment wins
	)
	if err != nil {
		return err
	}
	metricExp, err := otlpmetricgrpc.New(ctx)
	if err != nil {
		return fmt.Errorf("metric exporter: %w", err)
	}
	traceExp, err := otlptracegrpc.New(ctx)
	if err != nil {
		_ = metricExp.Shutdown(ctx)
		return fmt.Errorf("trace exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExp, sdkmetric.WithInterval(cfg.exportInterval))),
	)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithBatcher(traceExp, sdktrace.WithBatchTimeout(cfg.exportInterval)),
	)
	// Global, so that instrumentation that takes no provider (grpcpulse's
	// spans default to otel.GetTracerProvider) exports through it too.
	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	defer func() {
		// Deferred first, so it runs last: after the server and client have
		// stopped, so that their final closes are in the last export. ctx
		// may be cancelled already; the flush gets its own deadline.
		fmt.Fprintln(w, "flushing telemetry (up to 10s)")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if ferr := errors.Join(mp.Shutdown(sctx), tp.Shutdown(sctx)); ferr != nil {
			err = errors.Join(err, fmt.Errorf("flushing telemetry to %s: %w", endpoint(), ferr))
			return
		}
		fmt.Fprintln(w, "telemetry flushed")
	}()
	fmt.Fprintf(w, "exporting metrics every %v and spans over OTLP/gRPC to %s\n", cfg.exportInterval, endpoint())

	// otelgrpc is installed through WithStatsHandler, which puts it after
	// grpcpulse's handler: grpcpulse sees otelgrpc's span in each RPC's
	// context and annotates it before otelgrpc ends it. grpcpulse's
	// connection spans go to the same TracerProvider.
	return healthload.Serve(ctx, w, cfg.Config,
		[]options.Option{
			options.WithMeterProvider(mp),
			options.WithTracerProvider(tp),
			options.WithStatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithMeterProvider(mp))),
		},
		[]options.Option{
			options.WithMeterProvider(mp),
			options.WithTracerProvider(tp),
			options.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithMeterProvider(mp))),
		},
		"look for grpc.transport.closes{grpc.close.reason=max_connection_age} and grpc.rpc.transport_failures in your metrics backend")
}

// endpoint says where the exporters send to, for the output only: the
// exporters themselves read the environment.
func endpoint() string {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if v := os.Getenv(k); v != "" {
			return v + " (" + k + ")"
		}
	}
	return "localhost:4317 with TLS (the default; set OTEL_EXPORTER_OTLP_ENDPOINT=http://host:4317 for plaintext)"
}
