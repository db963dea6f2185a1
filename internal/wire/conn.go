package wire

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Conn is a net.Conn whose HTTP/2 frames are reported to a Sink. It embeds the
// wrapped conn so that every method it does not observe (deadlines) goes
// straight through. Its addresses are its own copies of the wrapped conn's
// (see Addr): their identity names the connection.
type Conn struct {
	net.Conn
	sink          Sink
	ended         atomic.Uint32 // 0 while live, then 1 + the Kind of the End reported
	local, remote net.Addr

	// Whether grpc-go's reader was still reading when the conn was
	// closed; see ReaderQuit.
	reading    atomic.Int32 // Reads in progress on the wrapped conn
	closed     atomic.Bool  // Close was called
	readerLive atomic.Bool  // a Read was in progress at Close, began after it, or failed
	lastRead   atomic.Int64 // when a Read last returned bytes, as time since epoch

	// grpc-go reads from one goroutine and writes from another, but
	// net.Conn allows concurrent calls, so each direction's parser has its
	// own lock. rmu is held only while parsing bytes already read, never
	// across the underlying Read. wmu is held for the whole of a Write,
	// from parsing its bytes to reporting its error, so that Settle can
	// wait for that report (the wrapped conn serializes writes anyway).
	rmu sync.Mutex
	rd  parser
	wmu sync.Mutex
	wr  parser

	outer net.Conn // what Outer returns: this Conn, or the readyConn holding it
}

// NewConn wraps c. client says which side of the HTTP/2 connection this is:
// the client writes the connection preface, the server reads it. Hand
// grpc-go the conn Outer returns.
func NewConn(c net.Conn, client bool, s Sink) *Conn {
	return newOuter(c, client, s)
}

func (c *Conn) init(nc net.Conn, client bool, s Sink, outer net.Conn) {
	c.Conn = nc
	c.sink = s
	c.local, c.remote = ownAddrs(nc.LocalAddr(), nc.RemoteAddr())
	c.rd = newParser(Received, !client)
	c.wr = newParser(Sent, client)
	c.outer = outer
}

// Outer returns the conn to hand to grpc-go in place of the wrapped one.
// It is c itself, or, when grpc-go would read the wrapped conn bare without
// pinning a read buffer while the connection is idle (a *net.TCPConn or
// *net.UnixConn on Linux, or a conn with a ReadOnReady method of its own),
// a net.Conn around c that also implements ReadOnReady, so that grpc-go
// reads it the same way. Either observes every byte read and written.
func (c *Conn) Outer() net.Conn { return c.outer }

// LocalAddr returns this Conn's copy of the wrapped conn's local address.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns this Conn's copy of the wrapped conn's remote address.
// Its identity is unique among live connections.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// epoch anchors LastRead's monotonic clock: a Duration since it fits an
// atomic int64, where a time.Time does not.
var epoch = time.Now()

// LastRead returns when a Read last returned bytes, or the zero Time. How
// long a connection had been silent says what a middlebox idle timeout
// may have done to it.
func (c *Conn) LastRead() time.Time {
	d := c.lastRead.Load()
	if d == 0 {
		return time.Time{}
	}
	return epoch.Add(time.Duration(d))
}

// Read reads from the wrapped conn and observes what was read.
func (c *Conn) Read(b []byte) (int, error) {
	c.readBegin()
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.readDone(b[:n], err)
	} else {
		c.readDone(nil, err)
	}
	return n, err
}

// readBegin counts a read in progress on the wrapped conn, for ReaderQuit.
func (c *Conn) readBegin() {
	// Count the read before looking at closed, while Close sets closed
	// before looking at the count: whichever comes second sees the other.
	c.reading.Add(1)
	if c.closed.Load() {
		c.readerLive.Store(true)
	}
}

// readDone ends what readBegin began: it observes b, the bytes the read
// returned, and records the read's error as the connection's end.
func (c *Conn) readDone(b []byte, err error) {
	c.reading.Add(-1)
	if len(b) > 0 {
		c.lastRead.Store(int64(time.Since(epoch)))
		c.rmu.Lock()
		c.rd.feed(b, c.sink)
		c.rmu.Unlock()
	}
	if err != nil {
		c.readerLive.Store(true)
		c.end(End{Kind: classifyError(err), Dir: Received, Err: err})
	}
}

// ReaderQuit reports whether the conn was closed by this side while nobody
// was reading it, and nobody read it afterwards: no Read was in progress
// when Close was called, none began after it, and none had failed.
//
// grpc-go reads a transport from one goroutine, which returns to Read as
// soon as it has handled what it read. Stop, keepalive and max-age timers
// and a client's Close close the transport from other goroutines, while
// that reader is blocked in Read or on its way back to it (where it then
// finds the conn closed). The reader closes the transport itself, and then
// never reads again, only after an error of its own: a frame it rejected
// (a protocol violation, which the frame observer may not be able to see,
// an HPACK error for one) or, on a client, a peer that stopped reading. So
// a quit reader means the close was decided from what was read, not by
// the application. It is meaningful once the reader has finished, which
// grpc-go guarantees before it reports stats.ConnEnd.
func (c *Conn) ReaderQuit() bool {
	return c.closed.Load() && !c.readerLive.Load()
}

// Write observes b and then writes it to the wrapped conn. Observing first
// keeps cause before effect: on loopback a peer can receive a GOAWAY, react
// and close, and that reaction can reach Read before the Write that carried
// the GOAWAY returns. A frame is therefore recorded when this side commits
// to sending it; if the write then fails, the connection ends with that
// error, which is recorded too.
func (c *Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(b) > 0 {
		c.wr.feed(b, c.sink)
	}
	n, err := c.Conn.Write(b)
	if err != nil {
		// Bytes past n were parsed but not sent; a caller that retries
		// them would have them parsed twice. Stop parsing this direction:
		// the connection is ending, and a guess is worse than silence.
		c.wr.inert = true
		c.end(End{Kind: classifyError(err), Dir: Sent, Err: err})
	}
	return n, err
}

// Settle waits, once the conn has been closed, until a Write in progress
// has reported how it ended. A write's error and a read's can race to be
// reported (see end), and grpc-go closes the conn before it reports the
// transport's end, so whoever reads the sink's record then should wait for
// a write that failed just before the close. A closed conn's writes return
// at once (net.Conn's Close unblocks them), so the wait is short. An open
// conn is not waited on: a write may block there for as long as the peer
// does not read.
func (c *Conn) Settle() {
	if c.closed.Load() {
		c.wmu.Lock()
		//lint:ignore SA2001 the empty critical section is the wait.
		c.wmu.Unlock()
	}
}

// Close records a local close, unless the connection already ended, closes
// the wrapped conn and reports that it is closed (Sink.Closed).
func (c *Conn) Close() error {
	c.closed.Store(true)
	if c.reading.Load() > 0 {
		c.readerLive.Store(true)
	}
	c.end(End{Kind: EndLocalClose})
	err := c.Conn.Close()
	c.sink.Closed()
	return err
}

// SyscallConn forwards to the wrapped conn so that channelz can read socket
// options. grpc-go reads a conn's socket directly only for concrete
// *net.TCPConn (and similar) values, so exposing this never lets it bypass
// Read or ReadOnReady and blind the observer.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errNoSyscallConn
}

// Unwrap returns the wrapped conn.
func (c *Conn) Unwrap() net.Conn { return c.Conn }

// end reports e to the sink if it is the connection's first end, or if it
// is the failure that a read's EOF, reported first, stood for (see
// hiddenByEOF).
func (c *Conn) end(e End) {
	if c.ended.CompareAndSwap(0, 1+uint32(e.Kind)) {
		c.sink.End(e)
		return
	}
	if hiddenByEOF(e) && c.ended.CompareAndSwap(1+uint32(EndEOF), 1+uint32(e.Kind)) {
		c.sink.End(e)
	}
}

// hiddenByEOF reports whether e, a write's failure reported after a read's
// EOF, is what that EOF stood for.
//
// Linux reports a socket's failure once: to whichever call on the socket
// comes first, which takes the socket's error (ECONNRESET for a reset,
// ETIMEDOUT when TCP_USER_TIMEOUT or retransmissions gave up) and clears it.
// A read after that finds the socket shut down and returns 0, an EOF.
// grpc-go reads and writes a connection from two goroutines, so when the
// failure comes while its writer is writing, the write may take the error
// while the read returns an EOF, and the read may be reported first. A
// peer's orderly close does not look like that: a reset after a FIN is
// reported as EPIPE (the socket is in CLOSE_WAIT when the reset comes),
// never ECONNRESET, and grpc-go closes a connection on the EOF, long before
// data it sends after a FIN could time out. Elsewhere the sockets' rules
// differ, and the first end stands.
func hiddenByEOF(e End) bool {
	if runtime.GOOS != "linux" || e.Dir != Sent {
		return false
	}
	switch e.Kind {
	case EndReset:
		return errors.Is(e.Err, syscall.ECONNRESET)
	case EndTimedOut:
		return true
	}
	return false
}

type noSyscallConnError struct{}

func (noSyscallConnError) Error() string { return "wire: wrapped conn does not implement syscall.Conn" }

var errNoSyscallConn error = noSyscallConnError{}
