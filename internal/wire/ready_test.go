package wire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/mem"
)

// trackingPool is a mem.BufferPool that checks how a reader uses it: every
// buffer Put was handed out by Get and not yet returned, and it counts the
// buffers outstanding.
type trackingPool struct {
	mu          sync.Mutex
	out         map[*[]byte]int // outstanding buffers and their Get size
	gets, puts  int
	badPut      error
	inner       mem.BufferPool
	lastGetSize int
}

func newTrackingPool() *trackingPool {
	return &trackingPool{out: map[*[]byte]int{}, inner: mem.NewTieredBufferPool(1<<10, 16<<10, 32<<10)}
}

func (p *trackingPool) Get(n int) *[]byte {
	b := p.inner.Get(n)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gets++
	p.lastGetSize = n
	p.out[b] = n
	return b
}

func (p *trackingPool) Put(b *[]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.puts++
	if _, ok := p.out[b]; !ok && p.badPut == nil {
		p.badPut = errors.New("Put of a buffer not handed out by Get, or returned twice")
	}
	delete(p.out, b)
	p.inner.Put(b)
}

func (p *trackingPool) outstanding() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.out), p.badPut
}

// ready returns c's Outer as a ReadOnReady reader, or skips the test where
// grpc-go itself does not read such a conn on readiness.
func ready(t testing.TB, c *Conn) readyReader {
	t.Helper()
	rr, ok := c.Outer().(readyReader)
	if !ok {
		if runtime.GOOS == "linux" {
			t.Fatalf("Outer of a %T does not implement ReadOnReady", c.Unwrap())
		}
		t.Skip("grpc-go reads conns on readiness only on Linux")
	}
	return rr
}

// readReady reads through rr with buffer sizes taken cyclically from sizes
// until it has n bytes or an error, returning every buffer to pool.
func readReady(rr readyReader, pool mem.BufferPool, n int, sizes []int) ([]byte, error) {
	var out []byte
	for i := 0; len(out) < n; i++ {
		size := sizes[i%len(sizes)]
		buf, m, err := rr.ReadOnReady(size, pool)
		if m > 0 {
			out = append(out, (*buf)[:m]...)
		}
		if buf != nil {
			pool.Put(buf)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func TestOuter(t *testing.T) {
	c, _ := tcpPair(t)
	wc := NewConn(c, true, &recorder{})
	if runtime.GOOS == "linux" {
		if _, ok := wc.Outer().(readyReader); !ok {
			t.Errorf("Outer of a TCP conn does not implement ReadOnReady")
		}
	}
	// The outer conn is the same connection: same addresses, same Conn.
	if o := wc.Outer(); o.RemoteAddr() != wc.RemoteAddr() || o.LocalAddr() != wc.LocalAddr() {
		t.Errorf("Outer's addresses differ from the Conn's")
	}
	if u, ok := wc.Outer().(interface{ Unwrap() net.Conn }); !ok || u.Unwrap() != net.Conn(c) {
		t.Errorf("Outer does not unwrap to the wrapped conn")
	}

	// A pipe is read by grpc-go through a bufio.Reader: so is its Conn.
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	pc := NewConn(p1, true, &recorder{})
	if _, ok := pc.Outer().(readyReader); ok {
		t.Errorf("Outer of a net.Pipe implements ReadOnReady")
	}
	if pc.Outer() != net.Conn(pc) {
		t.Errorf("Outer of a net.Pipe is not the Conn itself")
	}
}

// selfReady is a conn with its own ReadOnReady, reading a pipe.
type selfReady struct {
	net.Conn
	calls int
}

func (s *selfReady) ReadOnReady(size int, pool mem.BufferPool) (*[]byte, int, error) {
	s.calls++
	buf := pool.Get(size)
	n, err := s.Conn.Read(*buf)
	if n == 0 {
		pool.Put(buf)
		return nil, 0, err
	}
	return buf, n, err
}

func TestReadOnReadyDelegates(t *testing.T) {
	p1, p2 := net.Pipe()
	defer p2.Close()
	inner := &selfReady{Conn: p1}
	rec := &recorder{}
	wc := NewConn(inner, true, rec)
	rr, ok := wc.Outer().(readyReader)
	if !ok {
		t.Fatal("Outer of a conn with ReadOnReady does not implement it")
	}
	stream := genFrames(t, new(progEnc).ping(false, KeepalivePingData).goAway(5, codeNoError, "max_age").b, false)
	go func() {
		p2.Write(stream)
		p2.Close()
	}()
	pool := newTrackingPool()
	got, err := readReady(rr, pool, len(stream)+1, []int{7, 100})
	if err != io.EOF || !bytes.Equal(got, stream) {
		t.Fatalf("read %d bytes, %v; want the %d bytes written, then EOF", len(got), err, len(stream))
	}
	if inner.calls == 0 {
		t.Fatal("the inner conn's ReadOnReady was not called")
	}
	evs, ends := rec.snapshot()
	want, _ := oracleEvents(stream, false, Received)
	if !equalEvents(evs, want) {
		t.Fatalf("events\n got: %v\nwant: %v", evs, want)
	}
	if len(ends) != 1 || ends[0].Kind != EndEOF {
		t.Fatalf("ends = %v; want one EOF", ends)
	}
}

// TestReadOnReadyMatchesRead sends the same byte streams to a Conn read with
// Read and to one read with ReadOnReady, and checks that both return the same
// bytes and tell their Sinks the same things, to the end of the connection.
func TestReadOnReadyMatchesRead(t *testing.T) {
	grpc, _ := grpcStream(t, 0, 1<<20, 1024, true)
	mixed := genFrames(t, new(progEnc).settings(grpcSettings...).ping(false, KeepalivePingData).
		headers(1, 300, false).data(1, 1000, false, 7).rst(1, 8).ping(true, KeepalivePingData).
		goAway(1<<31-1, codeNoError, "max_age").ping(false, DrainPingData).goAway(1, codeNoError, "max_age").b, true)
	violation := append(append([]byte(nil), mixed...), "\x00\x00\x07\x06\x00\x00\x00\x00\x00pingdat"...)
	for _, tc := range []struct {
		name   string
		stream []byte
		reset  bool
	}{
		{"grpc stream, then EOF", grpc, false},
		{"every frame kind, then EOF", mixed, false},
		{"a violation, then a reset", violation, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type result struct {
				data   []byte
				err    error
				events []event
				ends   []End
				vs     []violationEvent
				quit   bool
			}
			run := func(useReady bool) result {
				c, s := tcpPair(t)
				rec := &recorder{}
				ws := NewConn(s, false, rec)
				// The peer ends the connection once everything was read, so
				// that a reset cannot discard unread bytes.
				read := make(chan struct{})
				go func() {
					b := tc.stream
					for i := 0; len(b) > 0; i++ {
						n := min(len(b), []int{1, 9, 1000, 17, 40000, 3}[i%6])
						if _, err := c.Write(b[:n]); err != nil {
							return
						}
						b = b[n:]
					}
					<-read
					if tc.reset {
						c.SetLinger(0)
					}
					c.Close()
				}()
				var r result
				if useReady {
					pool := newTrackingPool()
					rr := ready(t, ws)
					sizes := []int{16 << 10, 9, 32 << 10, 1}
					r.data, r.err = readReady(rr, pool, len(tc.stream), sizes)
					close(read)
					if r.err == nil {
						var more []byte
						more, r.err = readReady(rr, pool, 1, sizes)
						r.data = append(r.data, more...)
					}
					if n, err := pool.outstanding(); n != 0 || err != nil {
						t.Errorf("pool: %d buffers outstanding, %v", n, err)
					}
				} else {
					r.data, r.err = readN(ws, len(tc.stream))
					close(read)
					if r.err == nil {
						var more []byte
						more, r.err = readN(ws, 1)
						r.data = append(r.data, more...)
					}
				}
				r.events, r.ends = rec.snapshot()
				rec.mu.Lock()
				r.vs = append(r.vs, rec.violations...)
				rec.mu.Unlock()
				r.quit = ws.ReaderQuit()
				return r
			}
			byRead, byReady := run(false), run(true)
			if !bytes.Equal(byReady.data, tc.stream) || !bytes.Equal(byRead.data, tc.stream) {
				t.Fatalf("bytes differ from those sent: Read %d, ReadOnReady %d of %d", len(byRead.data), len(byReady.data), len(tc.stream))
			}
			if !equalEvents(byReady.events, byRead.events) {
				t.Fatalf("events differ\n Read:        %v\n ReadOnReady: %v", byRead.events, byReady.events)
			}
			if len(byRead.events) == 0 {
				t.Fatal("no events: the comparison is vacuous")
			}
			if len(byReady.vs) != len(byRead.vs) || (len(byRead.vs) == 1 && byRead.vs[0] != byReady.vs[0]) {
				t.Fatalf("violations differ\n Read:        %v\n ReadOnReady: %v", byRead.vs, byReady.vs)
			}
			if len(byRead.ends) != 1 || len(byReady.ends) != 1 ||
				byRead.ends[0].Kind != byReady.ends[0].Kind || byRead.ends[0].Dir != byReady.ends[0].Dir {
				t.Fatalf("ends differ\n Read:        %v\n ReadOnReady: %v", byRead.ends, byReady.ends)
			}
			if want := EndEOF; tc.reset {
				if byReady.ends[0].Kind != EndReset {
					t.Fatalf("end = %v; want reset", byReady.ends[0])
				}
			} else if byReady.ends[0].Kind != want {
				t.Fatalf("end = %v; want %v", byReady.ends[0], want)
			}
			if byReady.ends[0].Err != byReady.err {
				t.Fatalf("end carries %v; ReadOnReady returned %v", byReady.ends[0].Err, byReady.err)
			}
			if byRead.quit != byReady.quit {
				t.Fatalf("ReaderQuit: Read %v, ReadOnReady %v", byRead.quit, byReady.quit)
			}
		})
	}
}

// TestReadOnReadyPinsNothingWhileIdle checks the point of ReadOnReady: while
// nothing arrives, no buffer is held; once data arrives, exactly one buffer
// of the requested size is taken and handed to the caller.
func TestReadOnReadyPinsNothingWhileIdle(t *testing.T) {
	c, s := tcpPair(t)
	rec := &recorder{}
	ws := NewConn(s, false, rec)
	rr := ready(t, ws)
	pool := newTrackingPool()
	type res struct {
		buf *[]byte
		n   int
		err error
	}
	done := make(chan res, 1)
	go func() {
		buf, n, err := rr.ReadOnReady(4096, pool)
		done <- res{buf, n, err}
	}()
	time.Sleep(20 * time.Millisecond)
	if n, err := pool.outstanding(); n != 0 || err != nil {
		t.Fatalf("while idle: %d buffers outstanding (%v); want none", n, err)
	}
	if _, err := c.Write([]byte(clientPreface)); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.n != len(clientPreface) || r.buf == nil || string((*r.buf)[:r.n]) != clientPreface {
		t.Fatalf("ReadOnReady = %v, %d, %v; want the preface", r.buf, r.n, r.err)
	}
	if n, err := pool.outstanding(); n != 1 || err != nil || pool.lastGetSize != 4096 || len(*r.buf) < 4096 {
		t.Fatalf("after the read: %d buffers outstanding (%v), last Get of %d; want the one returned, of 4096", n, err, pool.lastGetSize)
	}
	if _, ok := pool.out[r.buf]; !ok {
		t.Fatal("the buffer returned is not one the pool handed out")
	}
	pool.Put(r.buf)
	if ws.LastRead().IsZero() {
		t.Fatal("LastRead not set by ReadOnReady")
	}

	// A read in progress at Close: the reader was live, the end is local,
	// and the buffer of a failed read goes back to the pool.
	go func() {
		buf, n, err := rr.ReadOnReady(4096, pool)
		done <- res{buf, n, err}
	}()
	time.Sleep(20 * time.Millisecond)
	ws.Close()
	r = <-done
	if r.buf != nil || r.n != 0 || !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("ReadOnReady after Close = %v, %d, %v; want nil, 0, net.ErrClosed", r.buf, r.n, r.err)
	}
	if n, err := pool.outstanding(); n != 0 || err != nil {
		t.Fatalf("after a failed read: %d buffers outstanding (%v); want none", n, err)
	}
	if ws.ReaderQuit() {
		t.Fatal("ReaderQuit with a ReadOnReady in progress at Close")
	}
	if _, ends := rec.snapshot(); len(ends) != 1 || ends[0].Kind != EndLocalClose {
		t.Fatalf("ends = %v; want one local close", ends)
	}
}

// TestReadOnReadyDeadline checks that a deadline ends a ReadOnReady as it
// ends a Read.
func TestReadOnReadyDeadline(t *testing.T) {
	_, s := tcpPair(t)
	rec := &recorder{}
	ws := NewConn(s, false, rec)
	rr := ready(t, ws)
	ws.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	pool := newTrackingPool()
	buf, n, err := rr.ReadOnReady(1024, pool)
	if buf != nil || n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadOnReady = %v, %d, %v; want a deadline error", buf, n, err)
	}
	if _, ends := rec.snapshot(); len(ends) != 1 || ends[0].Kind != EndDeadline || ends[0].Err != err {
		t.Fatalf("ends = %v; want one EndDeadline carrying %v", ends, err)
	}
	if n, err := pool.outstanding(); n != 0 || err != nil {
		t.Fatalf("%d buffers outstanding (%v)", n, err)
	}
}

// readSize turns a fuzz byte into a ReadOnReady buffer size: small sizes
// that cut frame headers, and large ones up to grpc-go's 32 KiB.
func readSize(c byte) int {
	if c < 0x80 {
		return int(c%16) + 1
	}
	return 1 + int(c-0x80)*256
}

// FuzzReadOnReady sends a valid frame sequence (genFrames), optionally
// followed by garbage, over a real loopback TCP connection in chunked writes,
// reads it through ReadOnReady with buffer sizes the input chooses, and
// checks that the bytes arrive unchanged, that the Sink is told exactly what
// the parser reports for the whole stream in one piece (which the other fuzz
// targets hold to x/net/http2's and grpc-go's framer), that the valid part
// matches the framer, and that the pool gets every buffer back.
func FuzzReadOnReady(f *testing.F) {
	f.Add(new(progEnc).settings(grpcSettings...).settingsAck().ping(false, KeepalivePingData).ping(true, KeepalivePingData).b,
		[]byte(nil), []byte{3, 0x81, 0, 7}, []byte{0x80, 9, 0xff}, uint8(flagPreface))
	f.Add(new(progEnc).goAway(1<<31-1, codeNoError, "max_age").ping(false, DrainPingData).
		ping(true, DrainPingData).goAway(7, codeNoError, "max_age").
		headers(7, 120, false).data(7, 1000, true, -1).rst(9, 8).b,
		[]byte(nil), []byte{0x85, 5, 0x80}, []byte{0}, uint8(0))
	f.Add(new(progEnc).ping(false, BDPPingData).goAway(1<<31-1, codeEnhanceYourCalm, "too_many_pings").b,
		[]byte("\x00\x00\x05\x03\x00\x00\x00\x00\x01abcde"), []byte{0}, []byte{8, 0x90}, uint8(0))
	f.Add(new(progEnc).settings(grpcSettings...).b,
		[]byte("\x00\x00\x00\x09\x04\x00\x00\x00\x01"), []byte{0xff}, []byte{0x82}, uint8(flagPreface))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ln.Close() })

	f.Fuzz(func(t *testing.T, prog, garbage, cuts, sizes []byte, flags uint8) {
		preface := flags&flagPreface != 0
		valid := genFrames(t, prog, preface)
		stream := append(append([]byte(nil), valid...), garbage...)
		want, wantVs := observeAll(stream, nil, preface, Received)
		if len(garbage) == 0 {
			oracle, err := oracleEvents(valid, preface, Received)
			if err != io.EOF || !equalEvents(want, oracle) || len(wantVs) != 0 {
				t.Fatalf("parser and framer disagree on a valid stream: %v %v\nframer: %v (%v)", want, wantVs, oracle, err)
			}
		}

		accepted := make(chan net.Conn, 1)
		go func() {
			c, _ := ln.Accept()
			accepted <- c
		}()
		peer, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s := <-accepted
		if s == nil {
			peer.Close()
			t.Fatal("accept failed")
		}
		defer s.Close()
		go func() {
			defer peer.Close()
			b := stream
			for i := 0; len(b) > 0; i++ {
				n := len(b)
				if len(cuts) > 0 {
					n = min(chunkSize(cuts[i%len(cuts)]), len(b))
				}
				if _, err := peer.Write(b[:n]); err != nil {
					return
				}
				b = b[n:]
			}
		}()

		rec := &recorder{}
		ws := NewConn(s, !preface, rec)
		rr := ready(t, ws)
		pool := newTrackingPool()
		var got []byte
		for i := 0; ; i++ {
			size := len(stream) + 1
			if len(sizes) > 0 {
				size = readSize(sizes[i%len(sizes)])
			}
			buf, n, err := rr.ReadOnReady(size, pool)
			if n > 0 {
				if buf == nil || len(*buf) < n {
					t.Fatalf("ReadOnReady returned %d bytes in %v", n, buf)
				}
				got = append(got, (*buf)[:n]...)
			}
			if buf != nil {
				pool.Put(buf)
			}
			if err != nil {
				if err != io.EOF {
					t.Fatalf("ReadOnReady: %v", err)
				}
				if n != 0 || buf != nil {
					t.Fatalf("ReadOnReady = %v, %d, %v; want nil, 0 with an error", buf, n, err)
				}
				break
			}
		}
		if !bytes.Equal(got, stream) {
			t.Fatalf("read %d bytes, want the %d written", len(got), len(stream))
		}
		if n, err := pool.outstanding(); n != 0 || err != nil {
			t.Fatalf("pool: %d buffers outstanding, %v", n, err)
		}
		evs, ends := rec.snapshot()
		rec.mu.Lock()
		vs := append([]violationEvent(nil), rec.violations...)
		rec.mu.Unlock()
		if !equalEvents(evs, want) {
			t.Fatalf("events through ReadOnReady differ from the parser's\n got: %v\nwant: %v", evs, want)
		}
		if len(vs) != len(wantVs) || (len(vs) == 1 && vs[0] != wantVs[0]) {
			t.Fatalf("violations through ReadOnReady %v; want %v", vs, wantVs)
		}
		if len(ends) != 1 || ends[0].Kind != EndEOF || ends[0].Dir != Received {
			t.Fatalf("ends = %v; want one EOF", ends)
		}
	})
}
