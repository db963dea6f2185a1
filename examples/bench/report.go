package main

import (
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// metric is one row of the report.
type metric struct {
	key      string
	workload string
	name     string
	unit     string
	higher   bool // higher is better
}

// metricDefs returns the rows of the report, in order.
func metricDefs(p params) []metric {
	sides := func(wl, what, unit string) []metric {
		return []metric{
			{key(wl, what, "server"), wl, what + ", server", unit, false},
			{key(wl, what, "client"), wl, what + ", client", unit, false},
		}
	}
	var ms []metric
	add := func(m ...metric) { ms = append(ms, m...) }
	add(sides(wlIdle, "heap per connection", "KiB")...)
	add(sides(wlIdle, "goroutine stacks per connection", "KiB")...)
	add(sides(wlIdle, "goroutines per connection", "goroutines")...)
	add(metric{wlUnary + ".rate", wlUnary, fmt.Sprintf("Health/Check, %d callers on one connection", p.callers), "RPC/s", true})
	add(sides(wlUnary, "allocs per RPC", "allocs")...)
	add(sides(wlUnary, "CPU per RPC", "µs")...)
	add(metric{wlStream16 + ".rate", wlStream16, "server streaming, 16-byte messages", "msg/s", true})
	add(sides(wlStream16, "allocs per message", "allocs")...)
	add(sides(wlStream16, "CPU per message", "ns")...)
	add(metric{wlStream1K + ".rate", wlStream1K, "server streaming, 1 KiB messages", "MB/s", true})
	add(sides(wlStream1K, "allocs per message", "allocs")...)
	add(sides(wlStream1K, "CPU per message", "ns")...)
	add(metric{wlChurn + ".rate", wlChurn, fmt.Sprintf("dial, Check, Close; %d workers", p.workers), "conn/s", true})
	add(sides(wlChurn, "allocs per connection", "allocs")...)
	add(sides(wlChurn, "CPU per connection", "µs")...)
	add(metric{wlBulk + ".rate", wlBulk, "HTTP/2 frames over loopback TCP (bare: plain conns; grpcpulse: the frame observer on both ends)", "MB/s", true})
	// The copy's throughput depends on how the kernel and the scheduler
	// pair its writer and reader from one moment to the next, which on a
	// shared machine moves it by more than the observer costs; its CPU time
	// per byte moves much less.
	add(metric{wlBulk + ".cpu_per_mb", wlBulk, "CPU per MB copied, writer and reader together", "µs", false})
	return ms
}

// key is a metric's key in the results and the JSON report:
// workload.what.side, what in lower case with underscores.
func key(wl, what, side string) string {
	return wl + "." + strings.ReplaceAll(strings.ToLower(what), " ", "_") + "." + side
}

var workloadNames = map[string]string{
	wlIdle:     "idle connections",
	wlUnary:    "unary",
	wlStream16: "stream 16 B",
	wlStream1K: "stream 1 KiB",
	wlChurn:    "churn",
	wlBulk:     "bulk copy",
}

// metricsOf turns one measurement's results, server and client, into the
// report's metrics.
func metricsOf(wl string, p params, srv, cli result) (map[string]float64, error) {
	m := map[string]float64{}
	per := func(total float64, ops int64) float64 { return total / float64(ops) }
	sides := func(unitScale float64) {
		noun := opNoun(wl)
		m[key(wl, "allocs per "+noun, "server")] = per(float64(srv.Mallocs), srv.Ops)
		m[key(wl, "allocs per "+noun, "client")] = per(float64(cli.Mallocs), cli.Ops)
		if srv.CPUSeconds > 0 || cli.CPUSeconds > 0 {
			m[key(wl, "CPU per "+noun, "server")] = per(srv.CPUSeconds*unitScale, srv.Ops)
			m[key(wl, "CPU per "+noun, "client")] = per(cli.CPUSeconds*unitScale, cli.Ops)
		}
	}
	if wl != wlIdle && (cli.Ops <= 0 || (wl != wlBulk && srv.Ops <= 0)) {
		return nil, fmt.Errorf("nothing completed in the window (server %d, client %d operations)", srv.Ops, cli.Ops)
	}
	switch wl {
	case wlIdle:
		if srv.Conns < p.conns || cli.Conns < p.conns {
			return nil, fmt.Errorf("server saw %d connections, client opened %d, want %d", srv.Conns, cli.Conns, p.conns)
		}
		m[key(wl, "heap per connection", "server")] = srv.HeapPerConn / 1024
		m[key(wl, "heap per connection", "client")] = cli.HeapPerConn / 1024
		m[key(wl, "goroutine stacks per connection", "server")] = srv.StacksPerConn / 1024
		m[key(wl, "goroutine stacks per connection", "client")] = cli.StacksPerConn / 1024
		m[key(wl, "goroutines per connection", "server")] = srv.GoroutinesPerCn
		m[key(wl, "goroutines per connection", "client")] = cli.GoroutinesPerCn
	case wlUnary, wlChurn:
		m[wl+".rate"] = float64(cli.Ops) / cli.Seconds
		sides(1e6)
	case wlStream16, wlStream1K:
		m[wl+".rate"] = float64(cli.Ops) / cli.Seconds
		if wl == wlStream1K {
			m[wl+".rate"] = float64(cli.Bytes) / cli.Seconds / 1e6
		}
		sides(1e9)
	case wlBulk:
		m[wl+".rate"] = float64(cli.Bytes) / cli.Seconds / 1e6
		if cli.CPUSeconds > 0 && cli.Bytes > 0 {
			m[wl+".cpu_per_mb"] = cli.CPUSeconds * 1e6 / (float64(cli.Bytes) / 1e6)
		}
	}
	if e := srv.Errors + cli.Errors; e > 0 || wl == wlUnary || wl == wlChurn {
		m[wl+".errors"] = float64(e)
	}
	return m, nil
}

func opNoun(wl string) string {
	switch wl {
	case wlUnary:
		return "RPC"
	case wlChurn:
		return "connection"
	}
	return "message"
}

// results collects every sample of every metric per configuration.
type results struct {
	p       params
	defs    []metric
	samples map[string]map[string][]float64 // metric key → configuration → one sample per round
	started time.Time
}

func newResults(p params) *results {
	return &results{p: p, defs: metricDefs(p), samples: map[string]map[string][]float64{}, started: time.Now()}
}

func (r *results) add(_, cfg string, m map[string]float64) {
	for k, v := range m {
		if r.samples[k] == nil {
			r.samples[k] = map[string][]float64{}
		}
		r.samples[k][cfg] = append(r.samples[k][cfg], v)
	}
}

// brief is the progress line for one measurement.
func (r *results) brief(wl string, m map[string]float64) string {
	var parts []string
	for _, d := range r.defs {
		if v, ok := m[d.key]; ok && d.workload == wl {
			parts = append(parts, fmt.Sprintf("%s %s", format(v), d.unit))
			if len(parts) == 3 {
				break
			}
		}
	}
	if e := m[wl+".errors"]; e > 0 {
		parts = append(parts, fmt.Sprintf("%.0f ERRORS", e))
	}
	return strings.Join(parts, ", ")
}

// median of the samples; NaN when there are none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func (r *results) median(key, cfg string) float64 { return median(r.samples[key][cfg]) }

// ratioCols are the ratio columns: numerator and denominator configurations.
var ratioCols = [][2]string{
	{cfgGRPCPulse, cfgBare}, {cfgGRPCPulse, cfgNoop}, {cfgGRPCPulse, cfgFloor}, {cfgGRPCPulse, cfgPolicy}, {cfgGRPCPulse, cfgOtelGRPC}, {cfgBoth, cfgOtelGRPC},
	{cfgNoopOTel, cfgFloor}, {cfgPerDial, cfgGRPCPulse}, {cfgNoSpans, cfgBare}, {cfgNoSpans, cfgNoop}, {cfgNoSpans, cfgFloor},
}

func (r *results) ratio(key string, c [2]string) float64 {
	return r.median(key, c[0]) / r.median(key, c[1])
}

func (r *results) ratioColumns() [][2]string {
	var cols [][2]string
	for _, c := range ratioCols {
		if slices.Contains(r.p.configs, c[0]) && slices.Contains(r.p.configs, c[1]) {
			cols = append(cols, c)
		}
	}
	return cols
}

// command is the command line that reproduces this run.
func (r *results) command() string {
	parts := []string{"go", "run", "./examples/bench"}
	for _, a := range r.p.args {
		if strings.ContainsAny(a, " \t'\"$`\\*?") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func environment() string {
	env := fmt.Sprintf("%s %s/%s, %d CPUs", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch d.Path {
			case "google.golang.org/grpc":
				env += ", grpc " + d.Version
			case "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc":
				env += ", otelgrpc " + d.Version
			}
		}
	}
	return env
}

// rows are the metrics with at least one sample, in report order.
func (r *results) rows() []metric {
	var rows []metric
	for _, d := range r.defs {
		if len(r.samples[d.key]) > 0 {
			rows = append(rows, d)
		}
	}
	return rows
}

func (r *results) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "```sh\n%s\n```\n\n", r.command())
	fmt.Fprintf(&b, "%s; median of %d round(s), configurations interleaved; %s.\n\n",
		environment(), r.p.rounds, r.started.UTC().Format("2006-01-02"))
	header := []string{"workload", "metric", "unit"}
	header = append(header, r.p.configs...)
	cols := r.ratioColumns()
	for _, c := range cols {
		header = append(header, c[0]+" ÷ "+c[1])
	}
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for i := range header {
		if i < 3 {
			b.WriteString(" --- |")
		} else {
			b.WriteString(" ---: |")
		}
	}
	b.WriteString("\n")
	last := ""
	for _, d := range r.rows() {
		wl := ""
		if d.workload != last {
			wl, last = workloadNames[d.workload], d.workload
		}
		arrow := "↓"
		if d.higher {
			arrow = "↑"
		}
		row := []string{wl, d.name, d.unit + " " + arrow}
		for _, cfg := range r.p.configs {
			row = append(row, format(r.median(d.key, cfg)))
		}
		for _, c := range cols {
			row = append(row, formatRatio(r.ratio(d.key, c)))
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	b.WriteString("\n↑ higher is better, ↓ lower is better. A ratio is of the two medians: above 1 means more of the unit. " +
		"Memory is live heap and goroutine stacks after GC, per connection, above each process's baseline before its first connection. " +
		"Allocations and CPU time are each process's own (server and client run in separate processes), per operation it completed in the window.\n")
	if errs := r.errorTotals(); errs != "" {
		fmt.Fprintf(&b, "\nFailed operations during the windows: %s.\n", errs)
	}
	return b.String()
}

func (r *results) errorTotals() string {
	var parts []string
	for _, wl := range r.p.workloads {
		for _, cfg := range r.p.configs {
			var n float64
			for _, v := range r.samples[wl+".errors"][cfg] {
				n += v
			}
			if n > 0 {
				parts = append(parts, fmt.Sprintf("%s %s %.0f", wl, cfg, n))
			}
		}
	}
	return strings.Join(parts, ", ")
}

// format writes a number with three significant digits at most, and
// thousands separators for large values.
func format(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "—"
	case math.Abs(v) >= 999.5:
		return group(strconv.FormatFloat(math.Round(v), 'f', 0, 64))
	case math.Abs(v) >= 99.95:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 9.995:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func group(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func formatRatio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + "×"
}

// jsonMetric is one metric in the JSON report.
type jsonMetric struct {
	Key            string               `json:"key"`
	Workload       string               `json:"workload"`
	Name           string               `json:"name"`
	Unit           string               `json:"unit"`
	HigherIsBetter bool                 `json:"higher_is_better"`
	Median         map[string]*float64  `json:"median"`
	Samples        map[string][]float64 `json:"samples"`
	Ratios         map[string]*float64  `json:"ratios,omitempty"`
}

type jsonReport struct {
	Command     string         `json:"command"`
	Environment string         `json:"environment"`
	Started     time.Time      `json:"started"`
	Rounds      int            `json:"rounds"`
	Configs     []string       `json:"configs"`
	Workloads   []string       `json:"workloads"`
	Metrics     []jsonMetric   `json:"metrics"`
	Errors      map[string]int `json:"errors,omitempty"`
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func (r *results) jsonReport() jsonReport {
	rep := jsonReport{
		Command: r.command(), Environment: environment(), Started: r.started, Rounds: r.p.rounds,
		Configs: r.p.configs, Workloads: r.p.workloads,
	}
	for _, d := range r.rows() {
		jm := jsonMetric{Key: d.key, Workload: d.workload, Name: d.name, Unit: d.unit, HigherIsBetter: d.higher,
			Median: map[string]*float64{}, Samples: r.samples[d.key], Ratios: map[string]*float64{}}
		for _, cfg := range r.p.configs {
			jm.Median[cfg] = finite(r.median(d.key, cfg))
		}
		for _, c := range r.ratioColumns() {
			jm.Ratios[c[0]+"/"+c[1]] = finite(r.ratio(d.key, c))
		}
		rep.Metrics = append(rep.Metrics, jm)
	}
	for _, wl := range r.p.workloads {
		for _, cfg := range r.p.configs {
			n := 0
			for _, v := range r.samples[wl+".errors"][cfg] {
				n += int(v)
			}
			if n > 0 {
				if rep.Errors == nil {
					rep.Errors = map[string]int{}
				}
				rep.Errors[wl+"/"+cfg] = n
			}
		}
	}
	return rep
}
