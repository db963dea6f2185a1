package conntrack

import (
	"io"
	"net"
	"testing"

	"golang.org/x/net/http2"

	"github.com/grpcpulse/grpcpulse/internal/wire"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// pingConn is the server side of a connection, observed and driven frame
// by frame: what the peer writes is read through the observer, what the
// server writes passes through it to the peer.
type pingConn struct {
	t    *testing.T
	conn net.Conn // the observed server side
	j    *Journal
	peer *http2.Framer
}

// newPingConn returns the server side of a pipe, observed, whose peer
// discards what the server writes.
func newPingConn(t *testing.T) *pingConn {
	t.Helper()
	a, b := net.Pipe()
	// The copy ends when the pipe closes.
	go func() { _, _ = io.Copy(io.Discard, b) }()
	return observe(t, a, b)
}

// observe opens a server-side journal on server and reads through the
// observer the client preface and SETTINGS that peer writes.
func observe(t *testing.T, server, peer net.Conn) *pingConn {
	t.Helper()
	return observeWith(t, server, peer)
}

// observeWith is observe with the peer's SETTINGS holding ss.
func observeWith(t *testing.T, server, peer net.Conn, ss ...http2.Setting) *pingConn {
	t.Helper()
	conn, j := NewRegistry(pulse.SideServer, nil).Observe(server)
	t.Cleanup(func() { conn.Close(); peer.Close() })
	p := &pingConn{t: t, conn: conn, j: j, peer: http2.NewFramer(peer, peer)}
	p.fromPeer(len(http2.ClientPreface)+9+6*len(ss), func() error {
		if _, err := io.WriteString(peer, http2.ClientPreface); err != nil {
			return err
		}
		return p.peer.WriteSettings(ss...)
	})
	return p
}

// fromPeer has the peer write n bytes with write and reads them through the
// observer.
func (p *pingConn) fromPeer(n int, write func() error) {
	p.t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- write() }()
	if _, err := io.ReadFull(p.conn, make([]byte, n)); err != nil {
		p.t.Fatal(err)
	}
	if err := <-errc; err != nil {
		p.t.Fatal(err)
	}
}

// pingFrame is a keepalive PING: eight zero bytes, as grpc-go's.
var pingFrame = []byte{0, 0, 8, byte(http2.FramePing), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

// keepalivePing has the server send a keepalive PING.
func (p *pingConn) keepalivePing() {
	p.t.Helper()
	if _, err := p.conn.Write(pingFrame); err != nil {
		p.t.Fatal(err)
	}
}

func (p *pingConn) windowUpdate() {
	p.fromPeer(9+4, func() error { return p.peer.WriteWindowUpdate(0, 1024) })
}

func (p *pingConn) pingAck() {
	p.fromPeer(9+8, func() error { return p.peer.WritePing(true, [8]byte{}) })
}

// A keepalive PING left unanswered while bytes still came in, then another
// after the silence that follows: if the connection dies now, the silence
// that killed it is the one before the second PING (grpc-go restarts its
// keepalive timer on any read), so the outstanding PING's time is the
// second's, and the diagnosis can say how long nothing was read.
func TestKeepaliveSilenceIsMeasuredFromTheLastPingAfterReads(t *testing.T) {
	p := newPingConn(t)
	p.keepalivePing()
	p.windowUpdate()
	p.keepalivePing()
	if err := p.conn.Close(); err != nil {
		t.Fatal(err)
	}
	s := p.j.Snapshot()
	cl := s.Closing
	if !cl.Valid || !cl.PingOutstanding {
		t.Fatalf("closing %+v: want a closing with a PING outstanding", cl)
	}
	if s.PingsSent != 2 {
		t.Errorf("%d keepalive PINGs sent, want 2", s.PingsSent)
	}
	if cl.LastRead.IsZero() || !cl.PingSentAt.After(cl.LastRead) {
		t.Errorf("outstanding PING sent at %v, last read at %v: want the PING after the last read", cl.PingSentAt, cl.LastRead)
	}
	if cl.Kind != wire.EndLocalClose {
		t.Errorf("end %v, want a local close", cl.Kind)
	}
}

// A PING answered in time is timed; once a later PING stood in for an
// unanswered one, the ACK that comes answers the older one, whose time is
// gone, so no round trip is recorded for it.
func TestKeepaliveRTT(t *testing.T) {
	t.Run("answered", func(t *testing.T) {
		p := newPingConn(t)
		p.keepalivePing()
		p.pingAck()
		if rtt := p.j.Snapshot().LastRTT; rtt <= 0 {
			t.Errorf("round trip %v, want the PING's", rtt)
		}
	})
	t.Run("restarted", func(t *testing.T) {
		p := newPingConn(t)
		p.keepalivePing()
		p.windowUpdate()
		p.keepalivePing()
		p.pingAck()
		if rtt := p.j.Snapshot().LastRTT; rtt != 0 {
			t.Errorf("round trip %v, want none", rtt)
		}
		// The next PING is timed again.
		p.keepalivePing()
		p.pingAck()
		if rtt := p.j.Snapshot().LastRTT; rtt <= 0 {
			t.Errorf("round trip %v after a fresh PING, want its own", rtt)
		}
	})
}

// TCP_USER_TIMEOUT, which grpc-go sets to the keepalive Timeout, fails the
// socket once: when the writer takes the ETIMEDOUT and the reader's EOF is
// reported first, the wire reports the timeout after it (wire.Sink.End),
// and with a keepalive PING unanswered that is a keepalive timeout, not the
// peer's close.
func TestKeepaliveTimeoutTakenByAWrite(t *testing.T) {
	p := newPingConn(t)
	p.keepalivePing()
	p.j.End(wire.End{Kind: wire.EndEOF, Dir: wire.Received, Err: io.EOF})
	if r, _ := Classify(p.j.Snapshot()); r != pulse.ReasonPeerClosed {
		t.Fatalf("after the EOF alone: %v, want peer_closed", r)
	}
	p.j.End(wire.End{Kind: wire.EndTimedOut, Dir: wire.Sent})
	if r, i := Classify(p.j.Snapshot()); r != pulse.ReasonKeepaliveTimeout || i != pulse.InitiatorLocal {
		t.Errorf("after the write's timeout: %v/%v, want keepalive_timeout/local", r, i)
	}
}
