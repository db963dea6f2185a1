//go:build linux

package conntrack

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/grpcpulse/grpcpulse/internal/wire"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// heldWrite is a TCP conn whose writes, once armed, are made on the socket
// and then held before they return: a writer goroutine descheduled between
// its write(2) and reporting the result, while the reader goes on.
type heldWrite struct {
	*net.TCPConn
	armed   atomic.Bool
	wrote   chan error // the held write's result
	release chan struct{}
}

func (h *heldWrite) Write(b []byte) (int, error) {
	n, err := h.TCPConn.Write(b)
	if h.armed.Load() {
		h.wrote <- err
		<-h.release
	}
	return n, err
}

// resetPair returns the server side of a real loopback TCP connection,
// observed, its writes held once armed, after the client preface and
// SETTINGS have been read through the observer; and the client's socket.
func resetPair(t *testing.T) (*heldWrite, *pingConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	h := &heldWrite{TCPConn: server.(*net.TCPConn), wrote: make(chan error, 1), release: make(chan struct{})}
	return h, observe(t, h, client), client.(*net.TCPConn)
}

// waitState waits until the kernel has moved the socket to state, without
// reading the socket's error (which a read, a write or SO_ERROR would
// take).
func waitState(t *testing.T, c *net.TCPConn, state uint8) {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var info *unix.TCPInfo
		var ierr error
		if err := raw.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil {
			t.Fatal(err)
		}
		if ierr != nil {
			t.Fatal(ierr)
		}
		if info.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("socket in TCP state %d, want %d", info.State, state)
		}
		time.Sleep(time.Millisecond)
	}
}

const (
	tcpCloseWait = 8 // TCP_CLOSE_WAIT: a FIN came, this side is still open
	tcpClose     = 7 // TCP_CLOSE: a reset ended the connection
)

// A reset that arrives while grpc-go's writer is writing is reported by
// the kernel once: the write takes the ECONNRESET and a read after it finds
// an EOF. When the read is reported first, the connection still ended in a
// reset, not in the peer's orderly close; and the record read once the conn
// is closed waits for the write's report.
func TestResetTakenByAWriteIsAReset(t *testing.T) {
	h, p, client := resetPair(t)
	conn, j := p.conn, p.j
	if err := client.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	client.Close() // an RST
	waitState(t, h.TCPConn, tcpClose)

	h.armed.Store(true)
	go func() { _, _ = conn.Write(pingFrame) }()
	if err := <-h.wrote; !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the write after the reset failed with %v, want ECONNRESET", err)
	}
	// The read goes on while the write has not reported.
	if _, err := conn.Read(make([]byte, 64)); err != io.EOF {
		t.Fatalf("the read after the write took the reset returned %v, want EOF", err)
	}
	conn.Close()
	snap := make(chan Snapshot, 1)
	go func() { snap <- j.Snapshot() }()
	select {
	case s := <-snap:
		t.Fatalf("the record was read before the failed write reported: closing %v", s.Closing.Kind)
	case <-time.After(100 * time.Millisecond):
	}
	close(h.release)
	s := <-snap
	if s.Closing.Kind != wire.EndReset || !s.Closing.WriteFailed {
		t.Errorf("closing %v (write failed %v), want a reset seen by a write", s.Closing.Kind, s.Closing.WriteFailed)
	}
	if r, i := Classify(s); r != pulse.ReasonConnectionReset || i != pulse.InitiatorPeer {
		t.Errorf("verdict %v/%v, want connection_reset/peer", r, i)
	}
}

// A peer's orderly close stays one when a write after it fails: Linux
// reports a reset that follows a FIN as EPIPE, never ECONNRESET, which is
// what tells the two apart.
func TestResetAfterFINIsAPeerClose(t *testing.T) {
	h, p, client := resetPair(t)
	conn, j := p.conn, p.j
	client.Close() // a FIN; the client's socket resets what arrives next
	waitState(t, h.TCPConn, tcpCloseWait)
	if _, err := conn.Read(make([]byte, 64)); err != io.EOF {
		t.Fatalf("the read after the peer's close returned %v, want EOF", err)
	}
	// The first write is accepted and answered with a reset; a later one
	// fails with it.
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for err == nil && time.Now().Before(deadline) {
		_, err = conn.Write(pingFrame)
		if err == nil {
			waitState(t, h.TCPConn, tcpClose)
		}
	}
	if !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("the write after the peer's close and reset failed with %v, want EPIPE", err)
	}
	conn.Close()
	s := j.Snapshot()
	if r, i := Classify(s); r != pulse.ReasonPeerClosed || i != pulse.InitiatorPeer {
		t.Errorf("verdict %v/%v, want peer_closed/peer", r, i)
	}
}
