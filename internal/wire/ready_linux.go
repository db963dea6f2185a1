package wire

import (
	"io"
	"net"
	"syscall"

	"google.golang.org/grpc/mem"
)

// rawReader reads a socket the way grpc-go's readyreader reads a bare
// *net.TCPConn or *net.UnixConn: syscall.RawConn.Read parks the goroutine in
// the runtime poller until the socket is readable, and only then is a buffer
// taken from the pool and read into with one read(2); a read that would
// block returns the buffer and waits again. Nothing is held while idle.
type rawReader struct {
	raw syscall.RawConn
	// The read's arguments and results live here, not on the stack, so
	// that the callback bound once by bind allocates nothing per read.
	bufSize int
	pool    mem.BufferPool
	buf     *[]byte
	n       int
	err     error
	doRead  func(fd uintptr) bool
}

// newRawReader returns a reader of nc's socket if grpc-go would read nc
// bare that way. The type is checked before asking for the raw conn:
// another wrapper may expose the raw conn of a socket it encrypts.
func newRawReader(nc net.Conn) (rawReader, bool) {
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn, *net.UDPConn, *net.IPConn:
	default:
		return rawReader{}, false
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return rawReader{}, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return rawReader{}, false
	}
	return rawReader{raw: raw}, true
}

// bind makes the callback, once the reader is at its final address.
func (r *rawReader) bind() {
	r.doRead = func(fd uintptr) bool {
		r.buf = r.pool.Get(r.bufSize)
		r.n, r.err = syscall.Read(int(fd), *r.buf)
		if r.err != nil {
			r.pool.Put(r.buf)
			r.buf = nil
		}
		return r.err != syscall.EAGAIN && r.err != syscall.EWOULDBLOCK
	}
}

// readOnReady is grpc-go's readyreader nonBlockingReader.ReadOnReady: a
// buffer with n > 0 bytes and a nil error, or a nil buffer, zero and an
// error (io.EOF when the peer closed its side).
func (r *rawReader) readOnReady(bufSize int, pool mem.BufferPool) (*[]byte, int, error) {
	r.bufSize, r.pool = bufSize, pool
	err := r.raw.Read(r.doRead)
	buf, n, readErr := r.buf, r.n, r.err
	r.bufSize, r.pool, r.buf, r.n, r.err = 0, nil, nil, 0, nil
	if err != nil {
		if buf != nil {
			pool.Put(buf)
		}
		return nil, 0, err
	}
	if readErr != nil {
		return nil, 0, readErr
	}
	if n == 0 {
		// read(2) returns 0 at the peer's FIN; io.Reader says io.EOF.
		pool.Put(buf)
		return nil, 0, io.EOF
	}
	return buf, n, nil
}
