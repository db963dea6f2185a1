package faultproxy

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

func TestFrameCursor(t *testing.T) {
	var stream bytes.Buffer
	stream.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&stream, nil)
	_ = fr.WriteSettings()
	_ = fr.WriteData(1, false, bytes.Repeat([]byte{7}, 16000))
	_ = fr.WritePing(false, [8]byte{})
	_ = fr.WriteData(3, true, nil)
	b := stream.Bytes()
	// Every offset at which the preface or a frame ends.
	ends := map[int]bool{24: true}
	for off := 24; off < len(b); {
		off += 9 + (int(b[off])<<16 | int(b[off+1])<<8 | int(b[off+2]))
		ends[off] = true
	}
	// From any offset, toBoundary reaches the next end exactly.
	for off := 0; off < len(b); off++ {
		c := newFrameCursor()
		c.advance(b[:off])
		next := off + 1
		for !ends[next] && next < len(b) {
			next++
		}
		if got := c.toBoundary(b[off:]); got != next-off {
			t.Fatalf("at offset %d toBoundary = %d, want %d", off, got, next-off)
		}
	}
	// Whatever the chunking, the cursor is at a boundary exactly at the
	// ends of frames.
	for _, chunk := range []int{1, 2, 5, 9, 17, 4096, len(b)} {
		c := newFrameCursor()
		for off := 0; off < len(b); {
			n := min(chunk, len(b)-off)
			c.advance(b[off : off+n])
			off += n
			if c.atBoundary() != ends[off] {
				t.Fatalf("chunk %d: at offset %d atBoundary=%v, want %v", chunk, off, c.atBoundary(), ends[off])
			}
		}
	}
}

// throughProxy connects a client c through a proxy p to an upstream
// connection up that the test speaks for, each end bounded by ioTimeout.
func throughProxy(t *testing.T) (p *Proxy, c, up net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p = newProxy(t, ln.Addr().String())
	c = dial(t, p.Addr())
	if up, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	_ = up.SetDeadline(time.Now().Add(ioTimeout))
	return p, c, up
}

// Pings injected while the client is in the middle of a frame arrive after
// that frame, intact, and every frame the client wrote arrives unchanged.
func TestInjectPings(t *testing.T) {
	t.Parallel()
	p, c, up := throughProxy(t)

	// The client writes the preface and half of a DATA frame, then the
	// test asks for pings, then the client finishes the frame.
	var frame bytes.Buffer
	_ = http2.NewFramer(&frame, nil).WriteData(1, false, []byte("0123456789"))
	half := frame.Len() / 2
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(frame.Bytes()[:half]); err != nil {
		t.Fatal(err)
	}
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(up, preface); err != nil {
		t.Fatal(err)
	}
	// The first half has reached the upstream: the proxy's cursor is
	// mid-frame when the injection is requested.
	first := make([]byte, half)
	if _, err := io.ReadFull(up, first); err != nil {
		t.Fatal(err)
	}
	p.InjectPings(3)
	if _, err := c.Write(frame.Bytes()[half:]); err != nil {
		t.Fatal(err)
	}

	fr := http2.NewFramer(nil, io.MultiReader(bytes.NewReader(first), up))
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := f.(*http2.DataFrame); !ok || string(d.Data()) != "0123456789" {
		t.Fatalf("first frame = %v, want the client's DATA frame", f)
	}
	for i := range 3 {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		pf, ok := f.(*http2.PingFrame)
		if !ok || pf.IsAck() || pf.Data != InjectedPingData {
			t.Fatalf("frame %d after DATA = %v, want an injected PING", i, f)
		}
	}
}

// Inject writes any frames, a malformed one here, between two of the
// client's frames, byte for byte.
func TestInject(t *testing.T) {
	t.Parallel()
	p, c, up := throughProxy(t)

	var first, bad, last bytes.Buffer
	first.WriteString(http2.ClientPreface)
	_ = http2.NewFramer(&first, nil).WritePing(false, [8]byte{1})
	_ = http2.NewFramer(&bad, nil).WriteRawFrame(http2.FramePing, 0, 0, make([]byte, 7))
	_ = http2.NewFramer(&last, nil).WritePing(false, [8]byte{2})
	if _, err := c.Write(first.Bytes()); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, first.Len())
	if _, err := io.ReadFull(up, got); err != nil {
		t.Fatal(err)
	}
	p.Inject(bad.Bytes())
	if _, err := c.Write(last.Bytes()); err != nil {
		t.Fatal(err)
	}
	want := append(bytes.Clone(bad.Bytes()), last.Bytes()...)
	got = make([]byte, len(want))
	if _, err := io.ReadFull(up, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("upstream read % x, want the injected frame and then the client's: % x", got, want)
	}
}

// InjectToClient writes frames into the upstream's byte stream, which has
// no preface, between two of its frames.
func TestInjectToClient(t *testing.T) {
	t.Parallel()
	p, c, up := throughProxy(t)

	var first, bad, last bytes.Buffer
	_ = http2.NewFramer(&first, nil).WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16384})
	_ = http2.NewFramer(&bad, nil).WriteRawFrame(http2.FramePing, 0, 0, make([]byte, 7))
	_ = http2.NewFramer(&last, nil).WritePing(false, [8]byte{2})
	half := first.Len() / 2
	if _, err := up.Write(first.Bytes()[:half]); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, half)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	// Mid-frame: the frames wait for the end of the SETTINGS frame.
	p.InjectToClient(bad.Bytes())
	if _, err := up.Write(append(bytes.Clone(first.Bytes()[half:]), last.Bytes()...)); err != nil {
		t.Fatal(err)
	}
	want := append(append(bytes.Clone(first.Bytes()[half:]), bad.Bytes()...), last.Bytes()...)
	got = make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("client read % x, want the rest of the SETTINGS frame, the injected frame and the next: % x", got, want)
	}
}
