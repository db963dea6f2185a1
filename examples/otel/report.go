package main

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errorReporter is the program's otel.ErrorHandler. An exporter that
// cannot deliver fails at every export interval with the same error; this
// prints each kind of error once, counts the repeats, and says what to do
// about a backend that refuses a signal.
type errorReporter struct {
	w io.Writer

	mu      sync.Mutex
	seen    map[string]bool
	repeats int
}

func newErrorReporter(w io.Writer) *errorReporter {
	return &errorReporter{w: w, seen: map[string]bool{}}
}

// Handle implements otel.ErrorHandler.
func (r *errorReporter) Handle(err error) {
	if err == nil {
		return
	}
	key, msg := describeError(err)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[key] {
		r.repeats++
		return
	}
	r.seen[key] = true
	fmt.Fprintln(r.w, msg)
}

// summary prints how many repeats were not printed, if any.
func (r *errorReporter) summary() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.repeats > 0 {
		fmt.Fprintf(r.w, "telemetry: %d more errors like those above were not printed\n", r.repeats)
	}
}

// httpStatus finds the status an OTLP/HTTP exporter puts in its error
// ("failed to send metrics to http://...: 404 Not Found").
var httpStatus = regexp.MustCompile(`: (\d{3}) [A-Z][A-Za-z ]*`)

// refused reports whether err says that the backend does not take this
// signal at all: gRPC Unimplemented (no such service) or HTTP 404 / 405
// (no such path), as Jaeger answers OTLP metrics.
func refused(err error) bool {
	if s, ok := status.FromError(err); ok && s.Code() == codes.Unimplemented {
		return true
	}
	// status.FromError only looks at the outermost GRPCStatus; an
	// exporter may join or wrap it.
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) && gs.GRPCStatus().Code() == codes.Unimplemented {
		return true
	}
	if m := httpStatus.FindStringSubmatch(err.Error()); m != nil && (m[1] == "404" || m[1] == "405") {
		return true
	}
	return strings.Contains(err.Error(), "code = Unimplemented")
}

// signalOf says which signal an exporter error is about, from its text.
func signalOf(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "metric"):
		return "metrics"
	case strings.Contains(s, "span"), strings.Contains(s, "trace"):
		return "traces"
	}
	return "telemetry"
}

// describeError returns the key that makes two errors the same kind, and
// the line to print the first time.
func describeError(err error) (key, msg string) {
	sig := signalOf(err)
	if refused(err) {
		env := "OTEL_METRICS_EXPORTER"
		if sig == "traces" {
			env = "OTEL_TRACES_EXPORTER"
		}
		return sig + " refused", fmt.Sprintf("telemetry: the backend does not accept %[1]s (%[2]v).\n"+
			"  Jaeger, for one, takes traces only. The run goes on; the other signal is unaffected.\n"+
			"  Set %[3]s=none to stop sending %[1]s, or send them to an OpenTelemetry Collector or Prometheus\n"+
			"  (OTEL_EXPORTER_OTLP_%[4]s_ENDPOINT, or %[3]s=prometheus for metrics). Reported once.",
			sig, err, env, strings.ToUpper(sig))
	}
	if s, ok := status.FromError(err); ok {
		return sig + " " + s.Code().String(), fmt.Sprintf("telemetry: exporting %s: %v (repeats are counted, not printed)", sig, err)
	}
	if sig == "telemetry" {
		// Not an export error: a finding options.Validate reported, say.
		return err.Error(), err.Error()
	}
	return sig + " " + err.Error(), fmt.Sprintf("telemetry: %v (repeats are counted, not printed)", err)
}

// describeExporters says where the exporters send, reading the environment
// as autoexport and the exporters do; for the output only.
func describeExporters(getenv func(string) string) string {
	or := func(def string, keys ...string) string {
		for _, k := range keys {
			if v := getenv(k); v != "" {
				return v
			}
		}
		return def
	}
	one := func(sig, exporterKey string) string {
		exp := or("otlp", exporterKey)
		switch exp {
		case "otlp":
			proto := or("http/protobuf", "OTEL_EXPORTER_OTLP_"+sig+"_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
			port := "4318"
			if proto == "grpc" {
				port = "4317"
			}
			ep := or("https://localhost:"+port+" (the default; plaintext needs OTEL_EXPORTER_OTLP_ENDPOINT=http://...)",
				"OTEL_EXPORTER_OTLP_"+sig+"_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
			return fmt.Sprintf("OTLP (%s) to %s", proto, ep)
		case "prometheus":
			return fmt.Sprintf("served for Prometheus on http://%s:%s/metrics",
				or("localhost", "OTEL_EXPORTER_PROMETHEUS_HOST"), or("9464", "OTEL_EXPORTER_PROMETHEUS_PORT"))
		case "console":
			return "printed to standard output"
		case "none":
			return "not exported (" + exporterKey + "=none)"
		}
		return exp
	}
	return fmt.Sprintf("metrics: %s\ntraces:  %s",
		one("METRICS", "OTEL_METRICS_EXPORTER"), one("TRACES", "OTEL_TRACES_EXPORTER"))
}
