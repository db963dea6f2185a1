package handler

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/shared"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Bucket boundaries, in seconds: the E6 series (1, 1.5, 2.2, 3.3, 4.7, 6.8
// in each decade), so that no bucket's upper bound is more than 1.5 times
// its lower bound. Prometheus's histogram_quantile interpolates linearly
// inside the bucket the quantile falls in; with these buckets the median of
// lifetimes or RTTs that sit together (a max-age drain, an idle timeout, one
// network path), even all at one value, is off by less than a quarter, and
// a spread over decades much less; the tests in buckets_test.go hold them to
// that. Lifetimes span a failed start (milliseconds) to a channel that stays
// up for a week; RTTs span loopback (tens of microseconds) to a link slow
// enough to approach a keepalive Timeout. The SDK exports every bucket of
// every attribute set, so each boundary is one more series per side and
// close reason: examples/operators/README.md counts them.
var (
	lifetimeBuckets = []float64{
		0.0068,
		0.01, 0.015, 0.022, 0.033, 0.047, 0.068,
		0.1, 0.15, 0.22, 0.33, 0.47, 0.68,
		1, 1.5, 2.2, 3.3, 4.7, 6.8,
		10, 15, 22, 33, 47, 68,
		100, 150, 220, 330, 470, 680,
		1000, 1500, 2200, 3300, 4700, 6800,
		10000, 15000, 22000, 33000, 47000, 68000,
		100000, 150000, 220000, 330000, 470000, 680000,
	}
	rttBuckets = []float64{
		0.000022, 0.000033, 0.000047, 0.000068,
		0.0001, 0.00015, 0.00022, 0.00033, 0.00047, 0.00068,
		0.001, 0.0015, 0.0022, 0.0033, 0.0047, 0.0068,
		0.01, 0.015, 0.022, 0.033, 0.047, 0.068,
		0.1, 0.15, 0.22, 0.33, 0.47, 0.68,
		1, 1.5, 2.2, 3.3, 4.7, 6.8,
		10, 15, 22,
	}
)

// LifetimeBuckets returns the boundaries of grpc.transport.lifetime.
func LifetimeBuckets() []float64 { return slices.Clone(lifetimeBuckets) }

// RTTBuckets returns the boundaries of grpc.keepalive.rtt.
func RTTBuckets() []float64 { return slices.Clone(rttBuckets) }

// instruments are created once per MeterProvider and side, and shared by
// every Handler of that side built with the provider: a program that builds
// its options for every connection it dials pays for them once. Attribute
// sets that do not depend on the event are built once too, so hot paths
// allocate nothing.
type instruments struct {
	connections metric.Int64UpDownCounter
	closes      metric.Int64Counter
	lifetime    metric.Float64Histogram
	goAways     metric.Int64Counter
	pings       metric.Int64Counter
	rtt         metric.Float64Histogram

	// Options are kept as the slices the variadic Add and Record take:
	// passing a new one would allocate it at every call.
	side       attribute.KeyValue
	sideAdd    []metric.AddOption
	sideRecord []metric.RecordOption
	pingDir    [2][]metric.AddOption // by conntrack.Direction

	closeOpts    optionCache[closeKey, []metric.AddOption]
	lifetimeOpts optionCache[pulse.Reason, []metric.RecordOption]
	goAwayOpts   optionCache[goAwayKey, []metric.AddOption]

	// err is what creating the instruments failed with, reported to every
	// Handler that shares them.
	err error
}

// instrumentsKey names the instruments of one side of one MeterProvider.
type instrumentsKey struct {
	mp   metric.MeterProvider
	side pulse.Side
}

// sharedInstruments holds the instruments of every (MeterProvider, side) in
// use, for as long as a Handler holds them.
var sharedInstruments shared.Cache[instrumentsKey, instruments]

// instrumentsFor returns the instruments of side on mp, shared with every
// other Handler of side on mp.
func instrumentsFor(mp metric.MeterProvider, side pulse.Side) *instruments {
	return sharedInstruments.Get(instrumentsKey{mp, side}, func() *instruments { return newInstruments(mp, side.String()) })
}

func newInstruments(mp metric.MeterProvider, side string) *instruments {
	m := mp.Meter(semconv.ScopeName, metric.WithInstrumentationVersion(semconv.Version))
	in := &instruments{side: semconv.Side.String(side)}
	var errs []error
	report := func(e error) { errs = append(errs, e) }
	var e error
	in.connections, e = m.Int64UpDownCounter(semconv.MetricConnections,
		metric.WithUnit("{connection}"),
		metric.WithDescription("Open gRPC transports (HTTP/2 connections)."))
	report(e)
	in.closes, e = m.Int64Counter(semconv.MetricCloses,
		metric.WithUnit("{connection}"),
		metric.WithDescription("Ended gRPC transports, by why and by whom they ended."))
	report(e)
	in.lifetime, e = m.Float64Histogram(semconv.MetricLifetime,
		metric.WithUnit("s"),
		metric.WithDescription("How long gRPC transports lived, by why they ended."),
		metric.WithExplicitBucketBoundaries(lifetimeBuckets...))
	report(e)
	in.goAways, e = m.Int64Counter(semconv.MetricGoAways,
		metric.WithUnit("{goaway}"),
		metric.WithDescription("HTTP/2 GOAWAY events sent and received; a two-phase drain counts once."))
	report(e)
	in.pings, e = m.Int64Counter(semconv.MetricPings,
		metric.WithUnit("{ping}"),
		metric.WithDescription("HTTP/2 keepalive PINGs sent and received (not ACKs, not flow-control or drain PINGs)."))
	report(e)
	in.rtt, e = m.Float64Histogram(semconv.MetricRTT,
		metric.WithUnit("s"),
		metric.WithDescription("Round-trip time of keepalive PINGs this side sent."),
		metric.WithExplicitBucketBoundaries(rttBuckets...))
	report(e)
	if err := errors.Join(errs...); err != nil {
		// The API returns usable no-op instruments alongside an error:
		// each Handler reports it and carries on.
		in.err = fmt.Errorf("grpcpulse: creating the %s's instruments: %w", side, err)
	}
	sideOnly := metric.WithAttributeSet(attribute.NewSet(in.side))
	in.sideAdd, in.sideRecord = []metric.AddOption{sideOnly}, []metric.RecordOption{sideOnly}
	for _, d := range []conntrack.Direction{conntrack.Received, conntrack.Sent} {
		in.pingDir[d] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(in.side, semconv.PingDirection.String(d.String())))}
	}
	return in
}

// optionCache holds the measurement options of attribute combinations that
// vary by event but come from bounded sets (reasons, initiators, GOAWAY codes
// and reasons), built on first use: an attribute.Set sorts and allocates, and
// recording a close or a GOAWAY then allocates nothing.
type optionCache[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

// get returns the options for k, building them with build the first time.
func (c *optionCache[K, V]) get(k K, build func() V) V {
	c.mu.RLock()
	o, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return o
	}
	o = build()
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[K]V)
	}
	c.m[k] = o
	c.mu.Unlock()
	return o
}

// closeKey is the attributes of a grpc.transport.closes count.
type closeKey struct {
	reason     pulse.Reason
	initiator  pulse.Initiator
	active     bool
	disconnect string
}

// goAwayKey is the attributes of a grpc.transport.goaways count.
type goAwayKey struct {
	dir    conntrack.Direction
	code   string
	reason conntrack.GoAwayReason
}
