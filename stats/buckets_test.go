package stats_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/stats"
)

// promBucket is one cumulative bucket of a classic Prometheus histogram, as
// the OpenTelemetry Prometheus exporter writes it: the count of observations
// at most upperBound (the le label).
type promBucket struct {
	upperBound float64
	count      float64
}

// promQuantile is histogram_quantile on a classic histogram, as Prometheus
// 2.42 (Debian bookworm's prometheus package, and .ci/run's) computes it:
// bucketQuantile in promql/quantile.go. The buckets are sorted, buckets with
// the same bound merged and the counts made monotonic; the rank q*count
// falls in the first bucket whose cumulative count reaches it, and the
// result is interpolated linearly between that bucket's lower bound (the
// previous bucket's upper bound, or 0 for the first) and its upper bound. A
// rank in the +Inf bucket returns the highest finite bound.
func promQuantile(q float64, in []promBucket) float64 {
	if math.IsNaN(q) {
		return math.NaN()
	}
	if q < 0 {
		return math.Inf(-1)
	}
	if q > 1 {
		return math.Inf(+1)
	}
	buckets := slices.Clone(in)
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].upperBound < buckets[j].upperBound })
	if !math.IsInf(buckets[len(buckets)-1].upperBound, +1) {
		return math.NaN()
	}
	// coalesceBuckets
	merged := buckets[:1]
	for _, b := range buckets[1:] {
		if last := &merged[len(merged)-1]; b.upperBound == last.upperBound {
			last.count += b.count
		} else {
			merged = append(merged, b)
		}
	}
	buckets = merged
	// ensureMonotonic
	top := buckets[0].count
	for i := 1; i < len(buckets); i++ {
		switch {
		case buckets[i].count > top:
			top = buckets[i].count
		case buckets[i].count < top:
			buckets[i].count = top
		}
	}
	if len(buckets) < 2 {
		return math.NaN()
	}
	observations := buckets[len(buckets)-1].count
	if observations == 0 {
		return math.NaN()
	}
	rank := q * observations
	b := sort.Search(len(buckets)-1, func(i int) bool { return buckets[i].count >= rank })
	if b == len(buckets)-1 {
		return buckets[len(buckets)-2].upperBound
	}
	if b == 0 && buckets[0].upperBound <= 0 {
		return buckets[0].upperBound
	}
	var (
		bucketStart float64
		bucketEnd   = buckets[b].upperBound
		count       = buckets[b].count
	)
	if b > 0 {
		bucketStart = buckets[b-1].upperBound
		count -= buckets[b-1].count
		rank -= buckets[b-1].count
	}
	return bucketStart + (bucketEnd-bucketStart)*(rank/count)
}

// TestPromQuantile checks promQuantile on cases worked out by hand from
// Prometheus's rules.
func TestPromQuantile(t *testing.T) {
	inf := math.Inf(+1)
	for _, tc := range []struct {
		q    float64
		b    []promBucket
		want float64
	}{
		// All in (10, 20]: the middle of the bucket.
		{0.5, []promBucket{{10, 0}, {20, 4}, {inf, 4}}, 15},
		// The first bucket interpolates from 0.
		{0.5, []promBucket{{10, 4}, {20, 4}, {inf, 4}}, 5},
		// A rank in +Inf returns the highest finite bound.
		{0.99, []promBucket{{10, 1}, {20, 1}, {inf, 100}}, 20},
		// Rank 3 of 4: the first of the two in (10, 20], halfway into it.
		{0.75, []promBucket{{10, 2}, {20, 4}, {inf, 4}}, 15},
		// Unsorted input, a duplicate bound and a non-monotonic count.
		{0.5, []promBucket{{inf, 4}, {20, 3}, {10, 2}, {20, 1}, {15, 1}}, 10},
		{0.5, []promBucket{{10, 0}, {inf, 0}}, math.NaN()},
		{0.5, []promBucket{{10, 0}, {20, 4}}, math.NaN()},
	} {
		got := promQuantile(tc.q, tc.b)
		if got != tc.want && !(math.IsNaN(got) && math.IsNaN(tc.want)) {
			t.Errorf("promQuantile(%v, %v) = %v, want %v", tc.q, tc.b, got, tc.want)
		}
	}
}

// recordThroughSDK records xs in a histogram with the given boundaries
// through the OpenTelemetry SDK, and returns the buckets a Prometheus
// scrape of it would hold: cumulative, with +Inf.
func recordThroughSDK(t testing.TB, bounds, xs []float64) []promBucket {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	h, err := mp.Meter("buckets").Float64Histogram("h", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(bounds...))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, x := range xs {
		h.Record(ctx, x)
	}
	var rm metricdata.ResourceMetrics
	if err := r.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	dp := rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Histogram[float64]).DataPoints[0]
	if !slices.Equal(dp.Bounds, bounds) {
		t.Fatalf("the SDK exported bounds %v, want %v", dp.Bounds, bounds)
	}
	out := make([]promBucket, 0, len(dp.BucketCounts))
	var cum uint64
	for i, c := range dp.BucketCounts {
		cum += c
		ub := math.Inf(+1)
		if i < len(dp.Bounds) {
			ub = dp.Bounds[i]
		}
		out = append(out, promBucket{ub, float64(cum)})
	}
	return out
}

// trueQuantile is the q-quantile of xs by nearest rank: the smallest value
// with at least q of the values at or below it.
func trueQuantile(q float64, xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}

// logUniform returns n values spread evenly in log scale over [lo, hi].
func logUniform(lo, hi float64, n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = lo * math.Pow(hi/lo, (float64(i)+0.5)/float64(n))
	}
	return xs
}

// bump returns n values spread evenly over x·(1±w): a max-age drain's
// jitter, say. With w = 0 every value is x: a spike.
func bump(x, w float64, n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = x * (1 - w + 2*w*(float64(i)+0.5)/float64(n))
	}
	return xs
}

// relErr is how far got is from want, relative to want.
func relErr(got, want float64) float64 { return math.Abs(got-want) / want }

// distribution is a named synthetic set of observations.
type distribution struct {
	name string
	xs   []float64
	// wide: spread over more than a bucket, where every quantile is held
	// to the bound; for a bump only the median is.
	wide bool
}

// bucketSpec is what a histogram's boundaries must achieve.
type bucketSpec struct {
	name   string
	bounds []float64
	lo, hi float64 // the range in which quantiles are held to the bound
	named  []distribution
}

// The bounds the histogram_quantile of grpcpulse's histograms is held to:
// the median of any one bump of observations (however narrow, down to a
// single value) and every quantile of a spread over decades, within
// medianBound; p90 and p99 of a bump within bumpTailBound, one bucket's
// width, which linear interpolation cannot beat: a bump just over a
// boundary with a tenth of it in the next bucket puts p99 near that
// bucket's top. A spike an instant above a boundary whose next one is 1.5
// times higher reaches medianBound itself (the estimate is mid-bucket,
// 1.25 times the boundary): slack absorbs the rounding of that limit.
const (
	medianBound   = 0.25
	bumpTailBound = 0.5
	slack         = 1e-9
)

func bucketSpecs() []bucketSpec {
	spread := func(lo, hi float64, label string) distribution {
		return distribution{name: "log-uniform " + label, xs: logUniform(lo, hi, 100000), wide: true}
	}
	bumps := func(label string, x float64) []distribution {
		return []distribution{
			{name: label + " exactly", xs: bump(x, 0, 100)},
			{name: label + " ±2%", xs: bump(x, 0.02, 1000)},
			{name: label + " ±10%", xs: bump(x, 0.10, 1000)},
		}
	}
	return []bucketSpec{
		{
			name: semconv.MetricLifetime, bounds: stats.LifetimeBuckets, lo: 0.01, hi: 7 * 86400,
			named: slices.Concat(
				[]distribution{spread(0.01, 86400, "10ms-1d"), spread(0.01, 7*86400, "10ms-1w"), spread(1, 3600, "1s-1h")},
				bumps("16s", 16), bumps("1.9s", 1.9), bumps("10min", 600),
				bumps("15.5s", 15.5), bumps("1d", 86400), bumps("1w", 7*86400),
			),
		},
		{
			name: semconv.MetricRTT, bounds: stats.RTTBuckets, lo: 50e-6, hi: 5,
			named: slices.Concat(
				[]distribution{spread(50e-6, 5, "50µs-5s")},
				bumps("80µs", 80e-6), bumps("30ms", 0.030), bumps("2s", 2),
			),
		},
	}
}

// TestBucketBoundaries checks the shape the accuracy rests on: the range
// is covered, and no bucket spans more than 1.5 times its lower bound.
func TestBucketBoundaries(t *testing.T) {
	for _, sp := range bucketSpecs() {
		b := sp.bounds
		if !slices.IsSorted(b) || len(slices.Compact(slices.Clone(b))) != len(b) {
			t.Errorf("%s: bounds not strictly increasing: %v", sp.name, b)
		}
		if b[0] >= sp.lo || b[len(b)-1] < sp.hi {
			t.Errorf("%s: bounds %v..%v do not cover %v..%v with a bucket below", sp.name, b[0], b[len(b)-1], sp.lo, sp.hi)
		}
		for i := 1; i < len(b); i++ {
			if b[i]/b[i-1] > 1.5+1e-9 {
				t.Errorf("%s: bucket (%v, %v] spans %.3g times its lower bound, more than 1.5", sp.name, b[i-1], b[i], b[i]/b[i-1])
			}
		}
		t.Logf("%s: %d boundaries, %v..%v", sp.name, len(b), b[0], b[len(b)-1])
	}
}

// TestBucketQuantiles records synthetic observations through the SDK with
// grpcpulse's boundaries and checks histogram_quantile, as Prometheus
// computes it, against the true quantiles:
//   - the named distributions: spreads over decades (every quantile within
//     medianBound) and bumps at awkward places (the median within
//     medianBound, p90 and p99 within bumpTailBound);
//   - a sweep: a bump at every boundary, just over it (the worst case of
//     linear interpolation: the estimate lands mid-bucket, the truth at its
//     bottom) and at many places in between, held to the same bounds.
func TestBucketQuantiles(t *testing.T) {
	t.Parallel()
	for _, sp := range bucketSpecs() {
		t.Run(sp.name, func(t *testing.T) {
			t.Parallel()
			var report strings.Builder
			fmt.Fprintf(&report, "%-22s %10s %10s %7s %10s %10s %7s %10s %10s %7s\n", "distribution", "p50", "true", "err", "p90", "true", "err", "p99", "true", "err")
			for _, d := range sp.named {
				h := recordThroughSDK(t, sp.bounds, d.xs)
				fmt.Fprintf(&report, "%-22s", d.name)
				for _, q := range []float64{0.5, 0.9, 0.99} {
					got, want := promQuantile(q, h), trueQuantile(q, d.xs)
					e := relErr(got, want)
					fmt.Fprintf(&report, " %10.4g %10.4g %6.1f%%", got, want, 100*e)
					bound := medianBound
					if q != 0.5 && !d.wide {
						bound = bumpTailBound
					}
					if e > bound+slack {
						t.Errorf("%s: histogram_quantile(%v) = %.4g, true %.4g: off by %.1f%%, more than %.0f%%", d.name, q, got, want, 100*e, 100*bound)
					}
				}
				report.WriteString("\n")
			}
			t.Logf("%s, histogram_quantile against the truth:\n%s", sp.name, report.String())

			// The sweep: the median of bumps of width 0 (a spike), ±2%
			// and ±10% centred just over each boundary, on each boundary,
			// and at 200 places spread over the range.
			var centres []float64
			for _, b := range sp.bounds {
				if b >= sp.lo && b <= sp.hi {
					centres = append(centres, b, b*(1+1e-9), b*1.02, b*1.1)
				}
			}
			centres = append(centres, logUniform(sp.lo, sp.hi, 200)...)
			type key struct{ w, q float64 }
			worst := map[key]struct{ err, at float64 }{}
			for _, c := range centres {
				for _, w := range []float64{0, 0.02, 0.1} {
					xs := bump(c, w, 200)
					h := recordThroughSDK(t, sp.bounds, xs)
					for _, q := range []float64{0.5, 0.9, 0.99} {
						got, want := promQuantile(q, h), trueQuantile(q, xs)
						e := relErr(got, want)
						if k := (key{w, q}); e > worst[k].err {
							worst[k] = struct{ err, at float64 }{e, c}
						}
						bound := medianBound
						if q != 0.5 {
							bound = bumpTailBound
						}
						if e > bound+slack {
							t.Errorf("bump at %.4g ±%.0f%%: histogram_quantile(%v) %.4g, true %.4g: off by %.1f%%, more than %.0f%%", c, 100*w, q, got, want, 100*e, 100*bound)
						}
					}
				}
			}
			var sweep strings.Builder
			for _, w := range []float64{0, 0.02, 0.1} {
				fmt.Fprintf(&sweep, "\n  ±%2.0f%%:", 100*w)
				for _, q := range []float64{0.5, 0.9, 0.99} {
					k := worst[key{w, q}]
					fmt.Fprintf(&sweep, "  p%v %4.1f%% (at %.4g)", 100*q, 100*k.err, k.at)
				}
			}
			t.Logf("%s: the worst error over bumps at %d places (±0%% is a spike):%s", sp.name, len(centres), sweep.String())
		})
	}
}

// TestInstrumentsUseTheBuckets checks that the handler's histograms export
// the boundaries the tests above hold to their accuracy.
func TestInstrumentsUseTheBuckets(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{ServerOpts: []grpc.ServerOption{grpc.KeepaliveParams(keepalive.ServerParameters{
		Time: time.Second, Timeout: 10 * time.Second,
	})}})
	cc := s.Dial(t, nil, true)
	testenv.Call(t, cc)
	testenv.Eventually(t, func() string {
		if s.Server.M.Histogram(t, semconv.MetricRTT).Count > 0 {
			return ""
		}
		return "waiting for the server's first keepalive RTT"
	})
	if err := cc.Close(); err != nil {
		t.Fatal(err)
	}
	s.Server.WaitClose(t, "client_shutdown", "peer")
	want := map[string][]float64{semconv.MetricLifetime: stats.LifetimeBuckets, semconv.MetricRTT: stats.RTTBuckets}
	for _, sm := range s.Server.M.Collect(t).ScopeMetrics {
		for _, m := range sm.Metrics {
			w, ok := want[m.Name]
			if !ok {
				continue
			}
			delete(want, m.Name)
			for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				if !slices.Equal(dp.Bounds, w) {
					t.Errorf("%s exports bounds %v, want %v", m.Name, dp.Bounds, w)
				}
			}
		}
	}
	for name := range want {
		t.Errorf("%s not exported", name)
	}
}
