// Command prometheus shows grpcpulse's metrics on a Prometheus /metrics
// endpoint, through the OpenTelemetry Prometheus exporter.
//
// It starts a gRPC server and a client on loopback, both set up with
// grpcpulse's one-call bundles (options.Server, options.Client), serves
// grpc.health.v1.Health, and then, until interrupted (or until -duration
// has passed, if set):
//
//   - calls Health/Check every -check-interval;
//   - keeps a Health/Watch stream open. The server's MaxConnectionAge
//     (-max-age) and MaxConnectionAgeGrace (-grace) cut that stream at
//     about max-age+grace, as they cut long-lived streams in production;
//     the client opens a new one each time.
//
// Run it and scrape it:
//
//	go run ./examples/prometheus
//	curl -s localhost:9464/metrics | grep ^grpc_
//
// The exporter turns OpenTelemetry names into Prometheus ones: dots become
// underscores, counters get _total and units their suffix, so
// grpc.transport.closes is grpc_transport_closes_total{grpc_close_reason=...},
// grpc.transport.lifetime (seconds) is the histogram
// grpc_transport_lifetime_seconds, and grpc.transport.connections is the
// gauge grpc_transport_connections. Every series also carries otel_scope_name
// (github.com/grpcpulse/grpcpulse) and target_info holds the resource.
// After a max-age cut you will see, among others (otel_scope_* labels left
// out):
//
//	grpc_transport_closes_total{grpc_close_active_rpcs="true",grpc_close_initiator="local",grpc_close_reason="max_connection_age",grpc_disconnect_error="GOAWAY NO_ERROR",grpc_side="server"} 1
//	grpc_transport_closes_total{grpc_close_active_rpcs="true",grpc_close_initiator="peer",grpc_close_reason="max_connection_age",grpc_disconnect_error="GOAWAY NO_ERROR",grpc_side="client"} 1
//	grpc_rpc_transport_failures_total{grpc_close_reason="max_connection_age",grpc_side="client",rpc_method="grpc.health.v1.Health/Watch",rpc_response_status_code="UNAVAILABLE"} 1
//
// (The server counts the same failure with CANCELLED, the status its
// handler saw.) Connections that carried no RPC when they aged out are
// counted with grpc_close_active_rpcs="false".
//
// PromQL, for a Prometheus that scrapes it:
//
//	# transport closes by reason (a connection between two instrumented
//	# processes counts once per side; add {grpc_side="server"} to count it once)
//	sum by (grpc_close_reason) (rate(grpc_transport_closes_total[5m]))
//	# the same, split by side and by who closed
//	sum by (grpc_side, grpc_close_initiator, grpc_close_reason) (rate(grpc_transport_closes_total[5m]))
//	# closes that took RPCs down with them
//	sum by (grpc_close_reason) (rate(grpc_transport_closes_total{grpc_close_active_rpcs="true"}[5m]))
//	# RPC failures by cause (the transport's close reason), per method, as
//	# the clients saw them
//	sum by (grpc_close_reason, rpc_method) (rate(grpc_rpc_transport_failures_total{grpc_side="client"}[5m]))
//	# GOAWAYs received, by reason
//	sum by (grpc_goaway_reason) (rate(grpc_transport_goaways_total{grpc_goaway_direction="received"}[5m]))
//	# median connection lifetime, by close reason
//	histogram_quantile(0.5, sum by (le, grpc_close_reason) (rate(grpc_transport_lifetime_seconds_bucket[1h])))
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/grpcpulse/grpcpulse/examples/internal/healthload"
	"github.com/grpcpulse/grpcpulse/options"
)

// serviceName is the resource's service.name (in target_info) unless
// OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise.
const serviceName = "grpcpulse-example-prometheus"

// config is what the flags set; tests fill it in directly.
type config struct {
	healthload.Config
	listen string // address of the /metrics HTTP server

	// listening, if set, is called with the /metrics URL once it is
	// served: tests listen on port 0 and learn the port here.
	listening func(url string)
}

func main() {
	var cfg config
	flag.StringVar(&cfg.listen, "listen", "127.0.0.1:9464", "address to serve /metrics on")
	cfg.RegisterFlags(flag.CommandLine, 0)
	flag.Parse()

	// SIGINT/SIGTERM cancel the context: run then stops the workload and
	// the HTTP server and returns.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "prometheus:", err)
		os.Exit(1)
	}
}

// run serves /metrics, runs the workload until ctx is done or cfg.duration
// has passed, and stops everything it started.
func run(ctx context.Context, out io.Writer, cfg config) (err error) {
	w := healthload.NewLockedWriter(out) // the workload's goroutines print concurrently
	if err := cfg.Check(); err != nil {
		return err
	}

	// A registry of our own rather than prometheus.DefaultRegisterer: the
	// exporter registers a collector, and a second run in the same process
	// (the tests) would collide with the first on the global one.
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		// Spelled out because the names in the PromQL above depend on it,
		// and the exporter documents that its default may change.
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
	)
	if err != nil {
		return err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", serviceName)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // last, so that the environment wins
	)
	if err != nil {
		return err
	}
	// The exporter is a pull Reader: each scrape collects the current values.
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(exp))
	defer func() { err = errors.Join(err, mp.Shutdown(context.WithoutCancel(ctx))) }()

	metricsLis, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: errorLog{w}}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	httpDone := make(chan error, 1)
	go func() { httpDone <- hs.Serve(metricsLis) }()
	defer func() {
		// Scrapes in progress get a moment to finish; then connections are
		// closed regardless.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if hs.Shutdown(sctx) != nil {
			_ = hs.Close()
		}
		if err2 := <-httpDone; !errors.Is(err2, http.ErrServerClosed) {
			err = errors.Join(err, err2)
		}
	}()
	url := "http://" + metricsLis.Addr().String() + "/metrics"
	fmt.Fprintf(w, "serving metrics on %s\n", url)
	if cfg.listening != nil {
		cfg.listening(url)
	}

	return healthload.Serve(ctx, w, cfg.Config,
		[]options.Option{options.WithMeterProvider(mp)},
		[]options.Option{options.WithMeterProvider(mp)},
		fmt.Sprintf("try: curl -s %s | grep -E '^grpc_(transport_closes|rpc_transport_failures)'", url))
}

// errorLog prints promhttp's errors (a metric it could not gather) with the
// rest of the output.
type errorLog struct{ w io.Writer }

func (l errorLog) Println(v ...any) { fmt.Fprintln(l.w, append([]any{"metrics:"}, v...)...) }
