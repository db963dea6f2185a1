package handler

import (
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/embedded"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/grpcpulse/grpcpulse/internal/config"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

func newConfig(mp metric.MeterProvider, tp *sdktrace.TracerProvider) *config.Config {
	return &config.Config{MeterProvider: mp, TracerProvider: tp, ConnSpans: true, ErrorHandler: func(error) {}}
}

// Handlers of one side on the same providers share their instruments and
// their tracer; another side or other providers do not.
func TestHandlersShareProviderState(t *testing.T) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider()
	a, b := New(pulse.SideClient, newConfig(mp, tp)), New(pulse.SideClient, newConfig(mp, tp))
	if a.in != b.in || a.tracer != b.tracer || a.tracer == nil {
		t.Errorf("two client handlers on the same providers: instruments shared %v, tracer shared %v; want both shared",
			a.in == b.in, a.tracer == b.tracer)
	}
	if a.reg == b.reg {
		t.Error("two handlers share a registry: each must track only its own connections")
	}
	srv := New(pulse.SideServer, newConfig(mp, tp))
	if srv.in == a.in || srv.tracer == a.tracer {
		t.Error("a server handler shares the client handlers' instruments or tracer")
	}
	mp2 := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	if c := New(pulse.SideClient, newConfig(mp2, tp)); c.in == a.in || c.tracer != a.tracer {
		t.Errorf("another MeterProvider: instruments shared %v, tracer shared %v; want only the tracer shared",
			c.in == a.in, c.tracer == a.tracer)
	}
}

// Sharing keeps no provider alive: once the handlers built with them are
// gone, a program that created many providers holds none of them, and the
// shared state is gone with them.
func TestSharedStateKeepsNoProvider(t *testing.T) {
	const n = 50
	var collected atomic.Int64
	func() {
		for range n {
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			tp := sdktrace.NewTracerProvider()
			runtime.AddCleanup(mp, func(struct{}) { collected.Add(1) }, struct{}{})
			runtime.AddCleanup(tp, func(struct{}) { collected.Add(1) }, struct{}{})
			for range 3 {
				New(pulse.SideClient, newConfig(mp, tp))
				New(pulse.SideServer, newConfig(mp, tp))
			}
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for collected.Load() != 2*n || sharedInstruments.Len() != 0 || sharedTracers.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %d of %d providers collected, %d instrument sets and %d tracers still held",
				collected.Load(), 2*n, sharedInstruments.Len(), sharedTracers.Len())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// failingProvider's meters fail to create instruments, as a provider may
// for a name it rejects.
type failingProvider struct {
	embedded.MeterProvider
	inner metric.MeterProvider
}

func (p *failingProvider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return failingMeter{Meter: p.inner.Meter(name, opts...)}
}

type failingMeter struct{ metric.Meter }

var errRejected = errors.New("rejected")

func (m failingMeter) Int64Counter(name string, opts ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	c, _ := m.Meter.Int64Counter(name, opts...)
	return c, errRejected
}

// What creating shared instruments failed with is reported to every
// handler's error handler, not only to the first one's.
func TestSharedInstrumentErrorsReachEveryHandler(t *testing.T) {
	mp := &failingProvider{inner: sdkmetric.NewMeterProvider()}
	for i := range 2 {
		var got []error
		cfg := newConfig(mp, sdktrace.NewTracerProvider())
		cfg.ErrorHandler = func(err error) { got = append(got, err) }
		New(pulse.SideClient, cfg)
		if len(got) != 1 || !errors.Is(got[0], errRejected) {
			t.Errorf("handler %d reported %v, want the instruments' creation error once", i+1, got)
		}
	}
}
