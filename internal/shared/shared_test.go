package shared

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// provider stands for a MeterProvider: a pointer whose lifetime is the
// program's business.
type provider struct{ _ [64]byte }

type key struct {
	p    any
	side int
}

type value struct{ builtFor any }

// eventually polls cond, collecting garbage between polls, until it holds or
// a generous deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not true after 30s: %s", what)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// A value is built once per key and shared while something holds it; it is
// not shared across keys.
func TestGetShares(t *testing.T) {
	var c Cache[key, value]
	p := &provider{}
	builds := 0
	build := func() *value { builds++; return &value{builtFor: p} }
	a := c.Get(key{p, 1}, build)
	b := c.Get(key{p, 1}, build)
	if a != b || builds != 1 {
		t.Errorf("same key: got %p and %p after %d builds, want one value built once", a, b, builds)
	}
	other := c.Get(key{p, 2}, build)
	if other == a || builds != 2 {
		t.Errorf("another key shares the first key's value (%d builds)", builds)
	}
	// Held, a value survives collections and is found again.
	runtime.GC()
	runtime.GC()
	if got := c.Get(key{p, 1}, build); got != a || builds != 2 {
		t.Errorf("a value still held was built again after a collection (%d builds)", builds)
	}
	runtime.KeepAlive(a)
	runtime.KeepAlive(other)
}

// Values nobody holds are collected, their entries removed, and the
// providers their keys named are not kept alive: a program that creates and
// drops many providers keeps none of them.
func TestNothingIsPinned(t *testing.T) {
	var c Cache[key, value]
	const n = 200
	var collected atomic.Int64
	func() {
		for i := range n {
			p := &provider{}
			runtime.AddCleanup(p, func(struct{}) { collected.Add(1) }, struct{}{})
			// The value refers to the provider, as instruments may refer
			// to their provider's pipeline.
			v := c.Get(key{p, i % 2}, func() *value { return &value{builtFor: p} })
			if v.builtFor != p {
				t.Fatal("the value of a new key was not built for it")
			}
		}
	}()
	eventually(t, "every provider collected and every entry removed", func() bool {
		return collected.Load() == n && c.Len() == 0
	})
}

// After its value was collected, a key gets a new one, which is shared in
// turn.
func TestRebuiltAfterCollection(t *testing.T) {
	var c Cache[key, value]
	p := &provider{}
	builds := 0
	build := func() *value { builds++; return &value{} }
	_ = c.Get(key{p, 1}, build)
	eventually(t, "the unheld value's entry removed", func() bool { return c.Len() == 0 })
	a := c.Get(key{p, 1}, build)
	b := c.Get(key{p, 1}, build)
	if a != b || builds != 2 {
		t.Errorf("after a collection: %d builds, shared %v; want one more build, shared", builds, a == b)
	}
	runtime.KeepAlive(a)
}

// sliceProvider is a provider that cannot be a map key.
type sliceProvider []int

// A key that cannot be compared is never shared, and never panics.
func TestIncomparableKey(t *testing.T) {
	var c Cache[key, value]
	builds := 0
	build := func() *value { builds++; return &value{} }
	a := c.Get(key{sliceProvider{1}, 1}, build)
	b := c.Get(key{sliceProvider{1}, 1}, build)
	if a == b || builds != 2 || c.Len() != 0 {
		t.Errorf("an incomparable key: %d builds, %d entries; want a value per call and no entry", builds, c.Len())
	}
}
