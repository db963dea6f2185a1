package testenv

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Metrics is a real SDK MeterProvider with a ManualReader.
type Metrics struct {
	Provider *sdkmetric.MeterProvider
	reader   *sdkmetric.ManualReader
}

// NewMetrics returns a MeterProvider whose data the test can collect.
func NewMetrics(t testing.TB) *Metrics {
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return &Metrics{Provider: mp, reader: r}
}

// Collect returns the current data of every instrument.
func (m *Metrics) Collect(t testing.TB) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := m.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("collect metrics: %v", err)
	}
	return rm
}

// Point is one data point of an int64 sum, with its attributes.
type Point struct {
	Attrs attribute.Set
	Value int64
}

// data returns the data of the instrument named name, or nil if it has
// recorded nothing yet.
func (m *Metrics) data(t testing.TB, name string) metricdata.Aggregation {
	t.Helper()
	for _, sm := range m.Collect(t).ScopeMetrics {
		for _, mt := range sm.Metrics {
			if mt.Name == name {
				return mt.Data
			}
		}
	}
	return nil
}

// Points returns the data points of the int64 sum named name.
func (m *Metrics) Points(t testing.TB, name string) []Point {
	t.Helper()
	d := m.data(t, name)
	if d == nil {
		return nil
	}
	sum, ok := d.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is %T, not an int64 sum", name, d)
	}
	out := make([]Point, 0, len(sum.DataPoints))
	for _, dp := range sum.DataPoints {
		out = append(out, Point{Attrs: dp.Attributes, Value: dp.Value})
	}
	return out
}

// Sum adds the values of the int64 sum named name over the data points that
// carry every attribute in match.
func (m *Metrics) Sum(t testing.TB, name string, match ...attribute.KeyValue) int64 {
	t.Helper()
	var total int64
	for _, p := range m.Points(t, name) {
		if hasAll(p.Attrs, match) {
			total += p.Value
		}
	}
	return total
}

// HistogramPoint summarises the float64 histogram data points that match.
type HistogramPoint struct {
	Count    uint64
	Min, Max float64
}

// Histogram merges the float64 histogram points named name that carry every
// attribute in match.
func (m *Metrics) Histogram(t testing.TB, name string, match ...attribute.KeyValue) HistogramPoint {
	t.Helper()
	var h HistogramPoint
	d := m.data(t, name)
	if d == nil {
		return h
	}
	hist, ok := d.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is %T, not a float64 histogram", name, d)
	}
	for _, dp := range hist.DataPoints {
		if !hasAll(dp.Attributes, match) || dp.Count == 0 {
			continue
		}
		mn, _ := dp.Min.Value()
		mx, _ := dp.Max.Value()
		if h.Count == 0 || mn < h.Min {
			h.Min = mn
		}
		if h.Count == 0 || mx > h.Max {
			h.Max = mx
		}
		h.Count += dp.Count
	}
	return h
}

// Dump renders the int64 sum named name, for failure messages.
func (m *Metrics) Dump(t testing.TB, name string) string {
	t.Helper()
	s := name + ":"
	for _, p := range m.Points(t, name) {
		s += fmt.Sprintf("\n  %v = %d", p.Attrs.Encoded(attribute.DefaultEncoder()), p.Value)
	}
	return s
}

func hasAll(set attribute.Set, match []attribute.KeyValue) bool {
	for _, kv := range match {
		v, ok := set.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// Series returns the number of series (data points) of every instrument
// that has recorded something, by instrument name.
func (m *Metrics) Series(t testing.TB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, sm := range m.Collect(t).ScopeMetrics {
		for _, mt := range sm.Metrics {
			switch d := mt.Data.(type) {
			case metricdata.Sum[int64]:
				out[mt.Name] = len(d.DataPoints)
			case metricdata.Sum[float64]:
				out[mt.Name] = len(d.DataPoints)
			case metricdata.Histogram[float64]:
				out[mt.Name] = len(d.DataPoints)
			case metricdata.Histogram[int64]:
				out[mt.Name] = len(d.DataPoints)
			default:
				t.Fatalf("%s: unexpected aggregation %T", mt.Name, d)
			}
		}
	}
	return out
}
