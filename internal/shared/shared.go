// Package shared keeps what depends only on long-lived values, such as a
// MeterProvider or a TracerProvider, once per value: every handler built
// with the same provider shares its instruments, their prebuilt attribute
// sets and its tracer, so that a program that builds its options once per
// connection pays for them once.
//
// A Cache holds its values weakly. A value lives as long as something built
// with it (a handler) holds it; when the last such holder is gone, the value
// is collected and its entry, with the key that held the provider, removed.
// A program, or a test suite, that creates and drops many providers keeps
// none of them.
package shared

import (
	"reflect"
	"runtime"
	"sync"
	"weak"
)

// Cache maps keys to values held weakly. The zero value is empty and ready
// to use.
type Cache[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]weak.Pointer[V]
}

// Get returns the value for k that is still alive, or the one build returns,
// which is then kept for k for as long as it lives. k must not hold the
// value, or the value would keep itself alive; k holds what it names (the
// provider) for as long as the value lives.
//
// A key that cannot be compared (one holding an interface whose value is a
// slice, for one) is not shared: each call builds its own value.
func (c *Cache[K, V]) Get(k K, build func() *V) *V {
	if !canCompare(k) {
		// A map lookup with it would panic.
		return build()
	}
	c.mu.Lock()
	v := c.m[k].Value()
	c.mu.Unlock()
	if v != nil {
		return v
	}
	// Built without the lock: building calls into the provider.
	nv := build()
	c.mu.Lock()
	defer c.mu.Unlock()
	if v := c.m[k].Value(); v != nil {
		// Another caller built one first: share theirs.
		return v
	}
	if c.m == nil {
		c.m = make(map[K]weak.Pointer[V])
	}
	c.m[k] = weak.Make(nv)
	runtime.AddCleanup(nv, c.drop, k)
	return nv
}

// drop removes k's entry once its value has been collected, unless a newer
// value has taken its place.
func (c *Cache[K, V]) drop(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w, ok := c.m[k]; ok && w.Value() == nil {
		delete(c.m, k)
	}
}

// Len returns how many entries the cache holds, alive or awaiting removal.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// canCompare reports whether k can be compared: whether the values its
// interfaces hold can.
func canCompare(k any) bool {
	return reflect.ValueOf(k).Comparable()
}
