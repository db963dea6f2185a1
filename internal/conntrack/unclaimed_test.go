package conntrack

import (
	"net"
	"testing"
	"time"

	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

func observePipe(t *testing.T, r *Registry) *Journal {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	_, j := r.Observe(a)
	return j
}

// A journal no handler claims is freed after the grace period, and a claim
// that comes later fails; a claimed one stays until it is released, and its
// unclaimed timer is dropped at once.
func TestUnclaimedJournalsAreFreed(t *testing.T) {
	r := NewRegistry(pulse.SideServer, nil)
	// The grace is read when a journal is opened: the claimed one gets
	// an hour, so that no stall of a busy machine frees it before its
	// claim; the others are freed almost at once.
	r.grace = time.Hour
	claimed := observePipe(t, r)
	if !claimed.Claim("conn") {
		t.Fatal("a fresh journal could not be claimed")
	}
	r.grace = 20 * time.Millisecond
	lost := observePipe(t, r)
	late := observePipe(t, r)
	claimed.mu.Lock()
	timer := claimed.unclaimed
	claimed.mu.Unlock()
	if timer != nil {
		t.Error("a claimed journal still has its unclaimed timer")
	}

	deadline := time.Now().Add(10 * time.Second)
	for r.Len() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d journals held, want only the claimed one", r.Len())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if late.Claim("conn") {
		t.Error("a journal freed unclaimed could be claimed")
	}
	if got := r.Lookup(lost.conn.LocalAddr(), lost.conn.RemoteAddr()); got != nil {
		t.Error("a freed journal is still found")
	}
	if got := r.Lookup(claimed.conn.LocalAddr(), claimed.conn.RemoteAddr()); got != claimed {
		t.Error("the claimed journal is no longer found")
	}
	claimed.Release()
	if r.Len() != 0 {
		t.Errorf("%d journals held after release, want 0", r.Len())
	}

}
