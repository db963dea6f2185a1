package wire

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// tcpPair returns both ends of a real loopback TCP connection.
func tcpPair(t testing.TB) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		c   net.Conn
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		accepted <- result{c, err}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-accepted
	if r.err != nil {
		c.Close()
		t.Fatal(r.err)
	}
	t.Cleanup(func() {
		c.Close()
		r.c.Close()
	})
	return c.(*net.TCPConn), r.c.(*net.TCPConn)
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// readN reads n bytes from c in reads of varying sizes, stopping at the
// first error.
func readN(c net.Conn, n int) ([]byte, error) {
	out := make([]byte, 0, n)
	sizes := []int{1, 7, 4096, 9, 32 << 10, 100}
	for i := 0; len(out) < n; i++ {
		buf := make([]byte, min(sizes[i%len(sizes)], n-len(out)))
		m, err := c.Read(buf)
		out = append(out, buf[:m]...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func TestConnPassesBytesThroughUnchanged(t *testing.T) {
	const size = 1 << 20
	up, down := randomBytes(t, size), randomBytes(t, size)
	// One run with garbage (the parsers go inert at once) and one with a
	// valid HTTP/2 stream, so that the parsers are busy the whole time.
	h2 := func(preface bool) []byte {
		return buildGRPCStream(t, size, 1024, preface)
	}
	for _, tc := range []struct {
		name     string
		up, down []byte
	}{
		{"random", up, down},
		{"http2", h2(true), h2(false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s := tcpPair(t)
			crec, srec := &recorder{}, &recorder{}
			wc, ws := NewConn(c, true, crec), NewConn(s, false, srec)

			var wg sync.WaitGroup
			errs := make(chan error, 4)
			var gotUp, gotDown []byte
			wg.Add(4)
			go func() {
				defer wg.Done()
				if n, err := wc.Write(tc.up); err != nil || n != len(tc.up) {
					errs <- fmt.Errorf("client write: %d, %v", n, err)
				}
			}()
			go func() {
				defer wg.Done()
				if n, err := ws.Write(tc.down); err != nil || n != len(tc.down) {
					errs <- fmt.Errorf("server write: %d, %v", n, err)
				}
			}()
			go func() {
				defer wg.Done()
				var err error
				if gotUp, err = readN(ws, len(tc.up)); err != nil {
					errs <- fmt.Errorf("server read: %v", err)
				}
			}()
			go func() {
				defer wg.Done()
				var err error
				if gotDown, err = readN(wc, len(tc.down)); err != nil {
					errs <- fmt.Errorf("client read: %v", err)
				}
			}()
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if !bytes.Equal(gotUp, tc.up) {
				t.Error("client→server bytes changed")
			}
			if !bytes.Equal(gotDown, tc.down) {
				t.Error("server→client bytes changed")
			}
			if _, ends := crec.snapshot(); len(ends) != 0 {
				t.Errorf("client: unexpected End %v", ends)
			}
			if _, ends := srec.snapshot(); len(ends) != 0 {
				t.Errorf("server: unexpected End %v", ends)
			}
			if tc.name == "http2" {
				// Each side sees the other's PINGs as received and its own as sent.
				cev, _ := crec.snapshot()
				sev, _ := srec.snapshot()
				if len(cev) == 0 || len(cev) != len(sev) {
					t.Errorf("client saw %d events, server %d", len(cev), len(sev))
				}
			}
		})
	}
}

func TestConnReadFullExact(t *testing.T) {
	c, s := tcpPair(t)
	rec := &recorder{}
	wc := NewConn(c, true, rec)
	want := randomBytes(t, 100_000)
	go s.Write(want)
	got := make([]byte, len(want))
	n, err := io.ReadFull(wc, got)
	if n != len(want) || err != nil {
		t.Fatalf("ReadFull = %d, %v; want %d, nil", n, err, len(want))
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bytes changed")
	}
	if _, ends := rec.snapshot(); len(ends) != 0 {
		t.Fatalf("unexpected End %v", ends)
	}
}

func TestConnCloseReportsLocalCloseOnce(t *testing.T) {
	c, _ := tcpPair(t)
	rec := &recorder{}
	wc := NewConn(c, true, rec)

	readErr := make(chan error, 1)
	go func() {
		_, err := wc.Read(make([]byte, 10))
		readErr <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the Read block

	if err := wc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := wc.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close = %v; want net.ErrClosed from the wrapped conn", err)
	}
	err := <-readErr
	if !errors.Is(err, net.ErrClosed) {
		t.Fatalf("concurrent Read = %v; want net.ErrClosed", err)
	}
	if _, err := wc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v; want net.ErrClosed", err)
	}
	_, ends := rec.snapshot()
	if want := []End{{Kind: EndLocalClose}}; len(ends) != 1 || ends[0] != want[0] {
		t.Fatalf("ends = %v; want exactly %v", ends, want)
	}
	// Every Close is reported as such, the end only once.
	rec.mu.Lock()
	closed := rec.closed
	rec.mu.Unlock()
	if closed != 2 {
		t.Errorf("%d closes reported after two Closes, want 2", closed)
	}
}

func TestConnPeerCloseIsEOF(t *testing.T) {
	c, s := tcpPair(t)
	rec := &recorder{}
	wc := NewConn(c, true, rec)
	s.Write([]byte("abc"))
	s.Close()

	got, err := readN(wc, 100)
	if string(got) != "abc" {
		t.Errorf("read %q before EOF", got)
	}
	if err != io.EOF {
		t.Fatalf("Read error = %#v; want io.EOF itself, unchanged", err)
	}
	_, ends := rec.snapshot()
	if len(ends) != 1 {
		t.Fatalf("ends = %v; want one", ends)
	}
	e := ends[0]
	if e.Kind != EndEOF || e.Dir != Received || e.Err != err {
		t.Fatalf("end = %+v; want {eof received %v} with the very error Read returned", e, err)
	}
	// Later failures and Close report nothing more.
	wc.Read(make([]byte, 1))
	wc.Close()
	if _, ends := rec.snapshot(); len(ends) != 1 {
		t.Fatalf("ends after Close = %v; want still one", ends)
	}
}

func resetPeer(t *testing.T, peer *net.TCPConn) {
	t.Helper()
	if err := peer.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	if err := peer.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestConnPeerResetOnRead(t *testing.T) {
	c, s := tcpPair(t)
	rec := &recorder{}
	wc := NewConn(c, true, rec)
	resetPeer(t, s)

	wc.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := wc.Read(make([]byte, 10))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read = %v; want ECONNRESET", err)
	}
	_, ends := rec.snapshot()
	if len(ends) != 1 {
		t.Fatalf("ends = %v; want one", ends)
	}
	if e := ends[0]; e.Kind != EndReset || e.Dir != Received || e.Err != err {
		t.Fatalf("end = %+v; want {reset received} with the very error Read returned (%v)", e, err)
	}
}

func TestConnPeerResetOnWrite(t *testing.T) {
	c, s := tcpPair(t)
	rec := &recorder{}
	wc := NewConn(c, false, rec)
	resetPeer(t, s)

	// The RST arrives asynchronously; keep writing until the kernel reports it.
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for err == nil && time.Now().Before(deadline) {
		_, err = wc.Write([]byte("hello"))
		if err == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Write = %v; want ECONNRESET or EPIPE", err)
	}
	_, ends := rec.snapshot()
	if len(ends) != 1 {
		t.Fatalf("ends = %v; want one", ends)
	}
	if e := ends[0]; e.Kind != EndReset || e.Dir != Sent || e.Err != err {
		t.Fatalf("end = %+v; want {reset sent} with the very error Write returned (%v)", e, err)
	}
}

func TestConnDeadline(t *testing.T) {
	c, _ := tcpPair(t)
	rec := &recorder{}
	wc := NewConn(c, true, rec)
	wc.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, err := wc.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %v; want deadline exceeded", err)
	}
	_, ends := rec.snapshot()
	if len(ends) != 1 || ends[0].Kind != EndDeadline || ends[0].Err != err {
		t.Fatalf("ends = %v; want one EndDeadline carrying %v", ends, err)
	}
}

// TestConnReportsFrames checks the direction of frames over a real socket:
// what the peer's Framer writes is Received, what goes through the wrapped
// conn is Sent.
func TestConnReportsFrames(t *testing.T) {
	c, s := tcpPair(t)
	rec := &recorder{}
	ws := NewConn(s, false, rec) // the server side: expects the preface

	// Peer (client) writes preface + frames.
	var in bytes.Buffer
	in.WriteString(clientPreface)
	pfr := http2.NewFramer(&in, nil)
	pfr.WriteSettings(grpcSettings...)
	pfr.WriteSettingsAck()
	pfr.WritePing(false, KeepalivePingData)
	pfr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte("hdrs"), EndHeaders: true})
	pfr.WriteData(1, true, bytes.Repeat([]byte{0}, 3000))
	pfr.WriteRSTStream(1, http2.ErrCodeCancel)
	pfr.WriteGoAway(0, http2.ErrCodeNo, []byte("client transport shutdown"))
	go func() {
		// Dribble it out to split frames across reads.
		b := in.Bytes()
		for len(b) > 0 {
			n := min(len(b), 1000)
			c.Write(b[:n])
			b = b[n:]
			time.Sleep(time.Millisecond)
		}
	}()
	if _, err := io.ReadFull(ws, make([]byte, in.Len())); err != nil {
		t.Fatal(err)
	}

	// Wrapped server writes frames, one Write per frame.
	sfr := http2.NewFramer(ws, nil)
	sfr.WriteSettings()
	sfr.WritePing(true, KeepalivePingData)
	sfr.WriteRSTStream(3, http2.ErrCodeRefusedStream)
	sfr.WriteGoAway(1<<31-1, http2.ErrCodeEnhanceYourCalm, []byte("too_many_pings"))

	// The peer reads them back with a Framer: the bytes are intact.
	cfr := http2.NewFramer(nil, c)
	for range 4 {
		if _, err := cfr.ReadFrame(); err != nil {
			t.Fatalf("peer ReadFrame: %v", err)
		}
	}

	want := []event{
		{kind: "ping", dir: Received, data: KeepalivePingData},
		{kind: "rst", dir: Received, stream: 1, code: uint32(http2.ErrCodeCancel)},
		{kind: "goaway", dir: Received, last: 0, code: 0, debug: "client transport shutdown"},
		{kind: "ping", dir: Sent, ack: true, data: KeepalivePingData},
		{kind: "rst", dir: Sent, stream: 3, code: uint32(http2.ErrCodeRefusedStream)},
		{kind: "goaway", dir: Sent, last: 1<<31 - 1, code: codeEnhanceYourCalm, debug: "too_many_pings"},
	}
	got, _ := rec.snapshot()
	if !equalEvents(got, want) {
		t.Fatalf("events\n got: %v\nwant: %v", got, want)
	}
	// The peer's SETTINGS are reported, its acknowledgement and this
	// side's own SETTINGS are not.
	rec.mu.Lock()
	settings := rec.settings
	rec.mu.Unlock()
	if settings != 1 {
		t.Errorf("%d SETTINGS reported, want 1: the peer's, not its ACK, not the ones sent", settings)
	}
}

func TestConnUnwrapAndSyscallConn(t *testing.T) {
	c, _ := tcpPair(t)
	wc := NewConn(c, true, &recorder{})
	if wc.Unwrap() != net.Conn(c) {
		t.Error("Unwrap did not return the wrapped conn")
	}
	if _, err := wc.SyscallConn(); err != nil {
		t.Errorf("SyscallConn on a TCP conn: %v", err)
	}
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if _, err := NewConn(p1, true, &recorder{}).SyscallConn(); err == nil {
		t.Error("SyscallConn on net.Pipe: want an error")
	}
}

// opErr and sysErr build the errors a TCP conn's Read and Write return.
func opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Err: err}
}

func sysErr(op string, errno syscall.Errno) error {
	return opErr(op, os.NewSyscallError(op, errno))
}

func TestClassifyError(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want EndKind
	}{
		{"EOF", io.EOF, EndEOF},
		{"unexpected EOF", io.ErrUnexpectedEOF, EndEOF},
		{"wrapped EOF", fmt.Errorf("read: %w", io.EOF), EndEOF},
		{"net.ErrClosed", net.ErrClosed, EndLocalClose},
		{"net.ErrClosed in OpError", opErr("read", net.ErrClosed), EndLocalClose},
		{"deadline", os.ErrDeadlineExceeded, EndDeadline},
		{"deadline in OpError", opErr("read", os.ErrDeadlineExceeded), EndDeadline},
		{"ECONNRESET", syscall.ECONNRESET, EndReset},
		{"ECONNRESET in OpError+SyscallError", sysErr("read", syscall.ECONNRESET), EndReset},
		{"EPIPE", sysErr("write", syscall.EPIPE), EndReset},
		{"ETIMEDOUT", sysErr("read", syscall.ETIMEDOUT), EndTimedOut},
		{"ECONNABORTED", sysErr("read", syscall.ECONNABORTED), EndAborted},
		{"ECONNREFUSED", sysErr("read", syscall.ECONNREFUSED), EndError},
		{"other", errors.New("boom"), EndError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classifyError(tc.err); got != tc.want {
				t.Errorf("classifyError(%v) = %v; want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestEndKindAndDirectionStrings(t *testing.T) {
	for k, want := range map[EndKind]string{
		EndLocalClose: "local_close", EndDeadline: "deadline", EndEOF: "eof", EndReset: "reset",
		EndTimedOut: "timed_out", EndAborted: "aborted", EndError: "error", EndKind(200): "error",
	} {
		if got := k.String(); got != want {
			t.Errorf("EndKind(%d).String() = %q; want %q", k, got, want)
		}
	}
	if Received.String() != "received" || Sent.String() != "sent" {
		t.Errorf("Direction strings: %q %q", Received, Sent)
	}
}

// TestConnConcurrentReadWrite runs Read and Write (and the deadline setters
// that grpc-go calls) concurrently on one wrapped conn; run it with -race.
func TestConnConcurrentReadWrite(t *testing.T) {
	c, s := tcpPair(t)
	sink := &countingSink{}
	wc := NewConn(c, true, sink)

	up := buildGRPCStream(t, 2<<20, 1024, true)
	down := buildGRPCStream(t, 2<<20, 1024, false)
	wantUp, _ := oracleEvents(up, true, Sent)
	wantDown, _ := oracleEvents(down, false, Received)

	var wg sync.WaitGroup
	wg.Add(5)
	go func() { // wrapped writer, in uneven pieces
		defer wg.Done()
		b := up
		for i := 0; len(b) > 0; i++ {
			n := min(len(b), 1+i*37%20000)
			if _, err := wc.Write(b[:n]); err != nil {
				t.Errorf("Write: %v", err)
				return
			}
			b = b[n:]
		}
	}()
	go func() { // wrapped reader
		defer wg.Done()
		if _, err := readN(wc, len(down)); err != nil {
			t.Errorf("Read: %v", err)
		}
	}()
	go func() { // peer drains
		defer wg.Done()
		io.CopyN(io.Discard, s, int64(len(up)))
	}()
	go func() { // peer writes
		defer wg.Done()
		s.Write(down)
	}()
	go func() { // deadline churn, as grpc-go's keepalive does
		defer wg.Done()
		for range 100 {
			wc.SetReadDeadline(time.Now().Add(time.Minute))
			wc.SetWriteDeadline(time.Now().Add(time.Minute))
			_ = wc.LocalAddr()
			time.Sleep(100 * time.Microsecond)
		}
	}()
	wg.Wait()
	wc.Close()

	var pings, goaways, rsts int64
	for _, e := range append(wantUp, wantDown...) {
		switch e.kind {
		case "ping":
			pings++
		case "goaway":
			goaways++
		case "rst":
			rsts++
		}
	}
	if pings == 0 {
		t.Fatal("test stream has no PINGs")
	}
	if sink.pings.Load() != pings || sink.goaways.Load() != goaways || sink.rsts.Load() != rsts {
		t.Errorf("counted %d pings %d goaways %d rsts; want %d %d %d",
			sink.pings.Load(), sink.goaways.Load(), sink.rsts.Load(), pings, goaways, rsts)
	}
	if sink.ends.Load() != 1 {
		t.Errorf("ends = %d; want 1", sink.ends.Load())
	}
}

// scriptedConn is a conn whose Read returns EOF and whose Write fails with
// the errors given, in turn: the two calls of grpc-go's reader and writer
// on a socket that has just failed.
type scriptedConn struct {
	net.Conn
	writeErrs []error
}

func (s *scriptedConn) Read([]byte) (int, error) { return 0, io.EOF }

func (s *scriptedConn) Write([]byte) (int, error) {
	err := s.writeErrs[0]
	s.writeErrs = s.writeErrs[1:]
	return 0, err
}

// Linux reports a socket's failure once, to the first call on the socket:
// when the writer takes it, the reader finds an EOF. An ECONNRESET or an
// ETIMEDOUT that a write reports after a read's EOF is what the EOF stood
// for, and replaces it, once; an EPIPE, which is how a reset after the
// peer's FIN is reported, does not.
func TestConnEOFThenWriteFailure(t *testing.T) {
	for _, tt := range []struct {
		name      string
		writeErrs []error
		want      []EndKind // on Linux; elsewhere the EOF alone
	}{
		{"reset", []error{sysErr("write", syscall.ECONNRESET)}, []EndKind{EndEOF, EndReset}},
		{"timed out", []error{sysErr("write", syscall.ETIMEDOUT)}, []EndKind{EndEOF, EndTimedOut}},
		{"reset after FIN", []error{sysErr("write", syscall.EPIPE)}, []EndKind{EndEOF}},
		{"once", []error{sysErr("write", syscall.ETIMEDOUT), sysErr("write", syscall.ECONNRESET)}, []EndKind{EndEOF, EndTimedOut}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := tcpPair(t)
			rec := &recorder{}
			wc := NewConn(&scriptedConn{Conn: c, writeErrs: tt.writeErrs}, false, rec)
			if _, err := wc.Read(make([]byte, 9)); err != io.EOF {
				t.Fatalf("Read = %v; want EOF", err)
			}
			for range tt.writeErrs {
				if _, err := wc.Write([]byte("x")); err == nil {
					t.Fatal("Write succeeded")
				}
			}
			want := tt.want
			if runtime.GOOS != "linux" {
				want = want[:1]
			}
			_, ends := rec.snapshot()
			var got []EndKind
			for _, e := range ends {
				got = append(got, e.Kind)
			}
			if !slices.Equal(got, want) {
				t.Errorf("ends %v, want %v", got, want)
			}
		})
	}
}
