package main

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
)

// middlebox is what the demo puts between the client and the server, in
// the client's dialer (grpc.WithContextDialer): the TCP connection's bytes
// pass through it, below the client's grpcpulse observer, as they would
// pass through a load balancer or a NAT. It can flood the server with
// PINGs that the client never sent, and it can silently drop the flow.
type middlebox struct {
	mu    sync.Mutex
	conns []*boxConn
}

// dial is the client's dialer.
func (m *middlebox) dial(ctx context.Context, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	bc := &boxConn{Conn: c, closed: make(chan struct{})}
	m.mu.Lock()
	m.conns = append(m.conns, bc)
	m.mu.Unlock()
	return bc, nil
}

func (m *middlebox) each(f func(*boxConn)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.conns {
		f(c)
	}
}

// floodPings writes n HTTP/2 PING frames to the server on every connection,
// between two of the client's writes: what a client with a keepalive far
// faster than the server allows, or a pinging proxy, sends.
func (m *middlebox) floodPings(n int) {
	frames := make([]byte, 0, n*17)
	for i := range n {
		var f [17]byte
		f[2], f[3] = 8, 0x6 // length 8, type PING, flags 0, stream 0
		binary.BigEndian.PutUint64(f[9:], uint64(i+1))
		frames = append(frames, f[:]...)
	}
	m.each(func(c *boxConn) { c.inject(frames) })
}

// drop makes every connection a black hole: bytes either way are
// discarded and nobody is told, as when a middlebox forgets a flow.
func (m *middlebox) drop() { m.each(func(c *boxConn) { c.setDropped() }) }

// boxConn is one connection through the middlebox. grpc-go writes whole
// HTTP/2 frames per Write for the small messages of this demo, so bytes
// injected between two Writes arrive at a frame boundary.
type boxConn struct {
	net.Conn
	wmu       sync.Mutex
	mu        sync.Mutex
	dropped   bool
	closed    chan struct{}
	closeOnce sync.Once
}

func (c *boxConn) isDropped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

func (c *boxConn) setDropped() {
	c.mu.Lock()
	c.dropped = true
	c.mu.Unlock()
}

func (c *boxConn) inject(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, _ = c.Conn.Write(b)
}

// Write forwards b, or discards it once the flow is dropped.
func (c *boxConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.isDropped() {
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// Read forwards what the server sent until the flow is dropped, and then
// discards it, so that nothing reaches the client again: not even the
// server closing the connection, which a forgotten flow never delivers.
func (c *boxConn) Read(b []byte) (int, error) {
	for {
		n, err := c.Conn.Read(b)
		if !c.isDropped() {
			return n, err
		}
		if err != nil {
			<-c.closed
			return 0, net.ErrClosed
		}
	}
}

// Close closes the connection and wakes a Read held by a dropped flow.
func (c *boxConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}
