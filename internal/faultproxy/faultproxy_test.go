package faultproxy

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Tests run in parallel, so a per-test goleak.VerifyNone would see the other
// tests' goroutines; check the whole binary once instead, and assert per-proxy
// cleanup through the live goroutine counter.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// ioTimeout bounds every blocking step so a bug fails the test instead of
// hanging it. It is a safety net, never an assertion of speed.
const ioTimeout = 10 * time.Second

// echoServer is a real TCP echo server. Each connection's read termination
// (io.EOF for a graceful close) is reported on results, and each server-side
// socket is published on conns so tests can misbehave on the server's behalf.
type echoServer struct {
	addr    string
	conns   chan *net.TCPConn
	results chan error
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	es := &echoServer{
		addr:    ln.Addr().String(),
		conns:   make(chan *net.TCPConn, 64),
		results: make(chan error, 64),
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		open []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			es.conns <- c.(*net.TCPConn)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				es.results <- echo(c.(*net.TCPConn))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return es
}

// echo copies c back to itself until the read side ends, half-closing in
// response to EOF so the client can observe graceful shutdown end to end.
func echo(c *net.TCPConn) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			_ = c.CloseWrite()
			return io.EOF
		}
		if err != nil {
			return err
		}
	}
}

func newProxy(t *testing.T, upstream string) *Proxy {
	t.Helper()
	p, err := New(upstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// established starts an echo server behind a proxy and dials it; the
// proxy's pair is established once the round trip it makes returns.
func established(t *testing.T) (*echoServer, *Proxy, *net.TCPConn) {
	t.Helper()
	es := startEcho(t)
	p := newProxy(t, es.addr)
	c := dial(t, p.Addr())
	roundTrip(t, c, "hello")
	return es, p, c
}

// roundTrip writes msg and expects exactly msg back.
func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != msg {
		t.Fatalf("round trip: got %q, want %q", got, msg)
	}
}

// waitFor polls cond until it holds or ioTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func recvResult(t *testing.T, es *echoServer) error {
	t.Helper()
	select {
	case err := <-es.results:
		return err
	case <-time.After(ioTimeout):
		t.Fatal("timed out waiting for echo server connection to end")
		return nil
	}
}

func TestForward(t *testing.T) {
	t.Parallel()
	es := startEcho(t)
	p := newProxy(t, es.addr)
	c := dial(t, p.Addr())
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}

	payload := make([]byte, 1<<20)
	if _, err := rand.Read(payload); err != nil {
		t.Fatal(err)
	}
	// Write concurrently: echoing 1 MiB overflows socket buffers, so a
	// write-then-read sequence would deadlock.
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		werr <- err
	}()
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("payload corrupted in transit")
	}
	if n := p.Accepted(); n != 1 {
		t.Fatalf("Accepted() = %d, want 1", n)
	}
	if n := p.Active(); n != 1 {
		t.Fatalf("Active() = %d, want 1", n)
	}
}

func TestBlackhole(t *testing.T) {
	t.Parallel()
	es, p, c := established(t)

	p.Blackhole()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatalf("write while blackholed: %v", err)
	}
	if err := c.SetReadDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(make([]byte, 16))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read while blackholed: n=%d err=%v, want timeout (connection must stay open and silent)", n, err)
	}
	// Make sure "ping" was actually swallowed before forwarding resumes,
	// otherwise a slow proxy could legitimately forward it afterwards.
	waitFor(t, "ping to be discarded", func() bool { return p.dropped.Load() >= 4 })
	if n := p.Active(); n != 1 {
		t.Fatalf("Active() = %d while blackholed, want 1", n)
	}

	p.Forward()
	roundTrip(t, c, "pong") // exactly "pong": the blackholed bytes stay lost
	if n := p.Accepted(); n != 1 {
		t.Fatalf("Accepted() = %d, want 1 (same connection must survive)", n)
	}
	select {
	case err := <-es.results:
		t.Fatalf("echo server connection ended during test: %v", err)
	default:
	}
}

func TestBlackholeHoldsEOF(t *testing.T) {
	t.Parallel()
	es, p, c := established(t)

	p.Blackhole()
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-es.results:
		t.Fatalf("echo server saw %v while blackholed; EOF must not propagate", err)
	case <-time.After(300 * time.Millisecond):
	}

	p.Forward()
	if err := recvResult(t, es); !errors.Is(err, io.EOF) {
		t.Fatalf("echo server got %v after Forward, want io.EOF", err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("client read = %v, want io.EOF", err)
	}
	waitFor(t, "pair to close", func() bool { return p.Active() == 0 })
}

func TestReset(t *testing.T) {
	t.Parallel()
	es, p, c := established(t)

	p.Reset()
	if n := p.Active(); n != 0 {
		t.Fatalf("Active() = %d after Reset, want 0", n)
	}
	if err := c.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("client read after Reset = %v, want ECONNRESET", err)
	}
	if err := recvResult(t, es); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("echo server read after Reset = %v, want ECONNRESET", err)
	}

	// Future connections must still work.
	c2 := dial(t, p.Addr())
	roundTrip(t, c2, "again")
	if n := p.Accepted(); n != 2 {
		t.Fatalf("Accepted() = %d, want 2", n)
	}
}

func TestUpstreamResetPropagates(t *testing.T) {
	t.Parallel()
	es, p, c := established(t)

	var srv *net.TCPConn
	select {
	case srv = <-es.conns:
	case <-time.After(ioTimeout):
		t.Fatal("no server-side connection")
	}
	if err := srv.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	srv.Close()

	if err := c.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("client read after upstream RST = %v, want ECONNRESET", err)
	}
	waitFor(t, "pair to close", func() bool { return p.Active() == 0 })
}

func TestDelay(t *testing.T) {
	t.Parallel()
	const d = 150 * time.Millisecond
	es := startEcho(t)
	p := newProxy(t, es.addr)
	p.SetDelay(d)
	c := dial(t, p.Addr())

	start := time.Now()
	roundTrip(t, c, "x")
	if rtt := time.Since(start); rtt < 2*d {
		t.Fatalf("round trip took %v, want >= %v (two one-way delays)", rtt, 2*d)
	}

	// Burst: writes are paced (not synchronised) so they travel as separate
	// chunks; a proxy that delayed chunks one after another would need
	// 50*150ms per direction.
	const msgs = 50
	var want strings.Builder
	for i := range msgs {
		fmt.Fprintf(&want, "m%02d;", i)
	}
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	werr := make(chan error, 1)
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := range msgs {
			if _, err := fmt.Fprintf(c, "m%02d;", i); err != nil {
				werr <- err
				return
			}
			<-tick.C
		}
		werr <- nil
	}()
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read burst: %v", err)
	}
	elapsed := time.Since(start)
	if err := <-werr; err != nil {
		t.Fatalf("write burst: %v", err)
	}
	if string(got) != want.String() {
		t.Fatalf("burst arrived as %q, want %q", got, want.String())
	}
	if elapsed < 2*d {
		t.Fatalf("burst took %v, want >= %v", elapsed, 2*d)
	}
	if elapsed >= 5*time.Second {
		t.Fatalf("burst took %v; delay appears serialised (50*%v = %v)", elapsed, d, msgs*d)
	}
	t.Logf("single round trip >= %v; burst of %d took %v", 2*d, msgs, elapsed)

	p.SetDelay(0)
	roundTrip(t, c, "fast again")
}

func TestEOFPropagation(t *testing.T) {
	t.Parallel()
	es, p, c := established(t)

	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if err := recvResult(t, es); !errors.Is(err, io.EOF) {
		t.Fatalf("echo server got %v, want io.EOF", err)
	}
	// The echo server half-closes back; that must reach the client too.
	if err := c.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("client read = %v, want io.EOF", err)
	}
	waitFor(t, "pair to close after both directions ended", func() bool { return p.Active() == 0 })
}

func TestClose(t *testing.T) {
	t.Parallel()
	es := startEcho(t)
	p, err := New(es.addr)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr())
	roundTrip(t, c, "hello")
	c2 := dial(t, p.Addr())
	roundTrip(t, c2, "hello")
	p.Blackhole() // Close must also tear down blackholed pairs

	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := p.Active(); n != 0 {
		t.Fatalf("Active() = %d after Close, want 0", n)
	}
	if n := p.live.Load(); n != 0 {
		t.Fatalf("%d proxy goroutines still running after Close", n)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := c.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
		t.Fatalf("client read after Close = %v, want connection closed", err)
	}
}

// FIN ends the flow gracefully for both endpoints: each reads EOF, what the
// client writes afterwards reaches no one, and neither endpoint gets a
// reset, even for bytes it sent after the FIN.
func TestFIN(t *testing.T) {
	t.Parallel()
	es, p, c := established(t)

	p.FIN()
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("client read after FIN = %v, want io.EOF", err)
	}
	if err := recvResult(t, es); !errors.Is(err, io.EOF) {
		t.Fatalf("echo server read after FIN = %v, want io.EOF", err)
	}
	if _, err := c.Write([]byte("late")); err != nil {
		t.Fatalf("client write after FIN = %v, want it accepted", err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("client read after its late write = %v, want io.EOF again", err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pair to close once both endpoints closed", func() bool { return p.Active() == 0 })
	if n := p.dropped.Load(); n != int64(len("late")) {
		t.Fatalf("dropped %d bytes, want the %d of the late write", n, len("late"))
	}
}
