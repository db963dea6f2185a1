package conntrack

import (
	"io"
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
	r.SetUnclaimedGrace(time.Hour)
	claimed := observePipe(t, r)
	if !claimed.Claim("conn") {
		t.Fatal("a fresh journal could not be claimed")
	}
	r.SetUnclaimedGrace(20 * time.Millisecond)
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

// observePipeConn is observePipe that also returns the observed conn, to
// read and close, and the peer's end, to write.
func observePipeConn(t *testing.T, r *Registry) (net.Conn, net.Conn, *Journal) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	wc, j := r.Observe(a)
	return wc, b, j
}

// sendPreface writes the client's connection preface and an empty SETTINGS
// frame into peer and reads them through the observed conn, as grpc-go's
// server does before it makes the connection a transport.
func sendPreface(t *testing.T, observed, peer net.Conn) {
	t.Helper()
	preface := append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 0, 0, 0, 4, 0, 0, 0, 0, 0)
	go func() { _, _ = peer.Write(preface) }()
	if _, err := io.ReadFull(observed, make([]byte, len(preface))); err != nil {
		t.Fatal(err)
	}
}

// A journal whose conn closes before the peer's preface was read can never
// be claimed, and is freed at the close, not by the timer; one whose
// preface was read waits for its claim, which may come after the close.
func TestUnclaimedJournalFreedAtClose(t *testing.T) {
	r := NewRegistry(pulse.SideServer, nil)
	// Only the close can free what the test expects freed.
	r.SetUnclaimedGrace(time.Hour)

	for _, partial := range []string{"", "PRI * HTTP/2.0\r\n"} {
		wc, peer, j := observePipeConn(t, r)
		if partial != "" {
			go func() { _, _ = io.WriteString(peer, partial) }()
			if _, err := io.ReadFull(wc, make([]byte, len(partial))); err != nil {
				t.Fatal(err)
			}
		}
		wc.Close()
		if r.Len() != 0 {
			t.Fatalf("preface %q: %d journals held after the close, want 0", partial, r.Len())
		}
		if j.Claim("conn") {
			t.Errorf("preface %q: a journal freed at its close could be claimed", partial)
		}
		j.mu.Lock()
		timer := j.unclaimed
		j.mu.Unlock()
		if timer != nil {
			t.Errorf("preface %q: a journal freed at its close still has its unclaimed timer", partial)
		}
	}

	// The preface was read: grpc-go may make it a transport and tag it
	// after the conn closed. The late claim finds the journal.
	wc, peer, late := observePipeConn(t, r)
	sendPreface(t, wc, peer)
	wc.Close()
	if got := r.Lookup(wc.LocalAddr(), wc.RemoteAddr()); got != late {
		t.Fatal("the journal of a conn whose preface was read is not found after its close")
	}
	if !late.Claim("conn") {
		t.Fatal("a journal whose preface was read could not be claimed after its close")
	}
	late.Release()

	// Claimed first and closed afterwards, a journal waits for its release.
	wc, _, claimed := observePipeConn(t, r)
	if !claimed.Claim("conn") {
		t.Fatal("a fresh journal could not be claimed")
	}
	wc.Close()
	if r.Len() != 1 {
		t.Fatalf("%d journals held after a claimed conn closed, want 1 until its release", r.Len())
	}
	claimed.Release()
	if r.Len() != 0 {
		t.Errorf("%d journals held after release, want 0", r.Len())
	}
}
