package wire

import (
	"net"

	"google.golang.org/grpc/mem"
)

// readyReader is grpc-go's readyreader.Reader (internal to grpc-go): a conn
// that implements it is read with pooled buffers that are taken only once
// the conn is readable, so an idle connection pins no read buffer. grpc-go
// reads a bare *net.TCPConn or *net.UnixConn that way; any other conn,
// including a wrapper like Conn, gets a 32 KiB bufio.Reader of its own for
// the life of the connection.
type readyReader interface {
	ReadOnReady(bufSize int, pool mem.BufferPool) (buf *[]byte, n int, err error)
}

// readyConn is a Conn that grpc-go can read as it reads the conn it wraps:
// without a buffer pinned while idle. It is what Outer returns when the
// wrapped conn allows that: when it implements ReadOnReady itself, or (on
// Linux) is a *net.TCPConn, *net.UnixConn, *net.UDPConn or *net.IPConn,
// which grpc-go reads through syscall.RawConn.
type readyConn struct {
	Conn
	inner readyReader // the wrapped conn's own ReadOnReady, or nil
	raw   rawReader   // the wrapped conn's raw reader, when inner is nil
}

// newOuter returns what Outer returns for c: c itself, or a readyConn
// holding c when the wrapped conn can be read on readiness. The readyConn
// is allocated with the Conn, once.
func newOuter(nc net.Conn, client bool, s Sink) *Conn {
	if rr, ok := nc.(readyReader); ok {
		rc := &readyConn{inner: rr}
		rc.Conn.init(nc, client, s, rc)
		return &rc.Conn
	}
	if raw, ok := newRawReader(nc); ok {
		rc := &readyConn{}
		rc.raw = raw
		rc.raw.bind()
		rc.Conn.init(nc, client, s, rc)
		return &rc.Conn
	}
	c := &Conn{}
	c.init(nc, client, s, c)
	return c
}

// ReadOnReady implements grpc-go's readyreader.Reader: it waits until the
// wrapped conn is readable, reads into a buffer of bufSize taken from pool
// only then, and observes exactly the n bytes it returns, as Read does. The
// returned buffer belongs to the caller, who returns it to pool.
func (c *readyConn) ReadOnReady(bufSize int, pool mem.BufferPool) (*[]byte, int, error) {
	c.readBegin()
	var (
		buf *[]byte
		n   int
		err error
	)
	if c.inner != nil {
		buf, n, err = c.inner.ReadOnReady(bufSize, pool)
	} else {
		buf, n, err = c.raw.readOnReady(bufSize, pool)
	}
	if n > 0 && buf != nil {
		c.readDone((*buf)[:n], err)
	} else {
		c.readDone(nil, err)
	}
	return buf, n, err
}
