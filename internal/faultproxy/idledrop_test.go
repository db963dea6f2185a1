package faultproxy

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestIdleDrop(t *testing.T) {
	t.Parallel()
	const idle = 500 * time.Millisecond
	es := startEcho(t)
	p := newProxy(t, es.addr)
	p.SetIdleDrop(idle)

	c := dial(t, p.Addr())
	// Traffic every 50ms keeps the flow alive for longer than the idle
	// period in total: only silence counts.
	for start := time.Now(); time.Since(start) < 3*idle/2; {
		roundTrip(t, c, "x")
		<-time.After(idle / 10)
	}
	if n := p.IdleDropped(); n != 0 {
		t.Fatalf("IdleDropped = %d while traffic flowed", n)
	}

	// Silence longer than the idle period: the next bytes find no flow.
	<-time.After(idle + idle/2)
	if _, err := c.Write([]byte("lost")); err != nil {
		t.Fatalf("write after idle: %v", err)
	}
	waitFor(t, "the idle drop", func() bool { return p.IdleDropped() == 1 })
	if err := c.SetReadDeadline(time.Now().Add(idle)); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after the drop: n=%d err=%v, want no bytes until the deadline", n, err)
	}

	// The dropped flow stays dropped, even after Forward; a new connection
	// works.
	p.Forward()
	if _, err := c.Write([]byte("still lost")); err != nil {
		t.Fatalf("write: %v", err)
	}
	c2 := dial(t, p.Addr())
	roundTrip(t, c2, "new flow")
	if err := c.SetReadDeadline(time.Now().Add(idle / 2)); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on the dropped flow: n=%d err=%v", n, err)
	}

	// The client's close is not propagated: the server still holds its end.
	c.Close()
	select {
	case err := <-es.results:
		t.Fatalf("the echo server saw its connection end (%v); a forgotten flow must not carry the FIN", err)
	case <-time.After(idle / 2):
	}
	if p.IdleDropped() != 1 {
		t.Fatalf("IdleDropped = %d, want 1", p.IdleDropped())
	}
}

func TestIdleDropOff(t *testing.T) {
	t.Parallel()
	es := startEcho(t)
	p := newProxy(t, es.addr)
	p.SetIdleDrop(200 * time.Millisecond)
	p.SetIdleDrop(0)
	c := dial(t, p.Addr())
	roundTrip(t, c, "a")
	<-time.After(400 * time.Millisecond)
	roundTrip(t, c, "b")
	if n := p.IdleDropped(); n != 0 {
		t.Fatalf("IdleDropped = %d with idle drops off", n)
	}
}
