package faultproxy

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// clientPreface is the HTTP/2 client connection preface.
const clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// InjectedPingData is the payload of the PING frames InjectPings writes, so
// that tests can tell them (and their ACKs) from the peers' own.
var InjectedPingData = [8]byte{'f', 'a', 'u', 'l', 't', 'p', 'x', 'y'}

// InjectPings makes every live connection send n HTTP/2 PING frames to the
// upstream as if the client had written them, back to back, at the next
// frame boundary of the client's byte stream. It turns a well-behaved
// client into one that pings too often (the server answers with GOAWAY
// ENHANCE_YOUR_CALM "too_many_pings") without changing the client.
//
// The client-to-upstream direction is assumed to be HTTP/2 with the client
// connection preface. A connection that lost client bytes to Blackhole has
// lost its frame boundaries too, and gets no frames.
func (p *Proxy) InjectPings(n int) { p.Inject(pingFrames(n)) }

// Inject makes every live connection send frames, whole HTTP/2 frames
// (a malformed one, say), to the upstream as if the client had written
// them, at the next frame boundary of the client's byte stream, as
// InjectPings does with PINGs.
func (p *Proxy) Inject(frames []byte) {
	for _, pr := range p.snapshot() {
		pr.up.add(frames)
	}
}

// InjectToClient makes every live connection send frames to the client as
// if the upstream had written them, at the next frame boundary of the
// upstream's byte stream (which has no preface). A connection that lost
// upstream bytes to Blackhole gets no frames.
func (p *Proxy) InjectToClient(frames []byte) {
	for _, pr := range p.snapshot() {
		pr.down.add(frames)
	}
}

// injector holds the frames owed to one direction of a pair.
type injector struct {
	mu   sync.Mutex
	buf  []byte
	wake chan struct{} // wakes the direction's writer
	// lost: bytes of this direction were dropped, so its frame
	// boundaries are unknown and nothing more is injected.
	lost    atomic.Bool
	preface int // bytes of client preface the direction starts with
}

func (inj *injector) add(frames []byte) {
	inj.mu.Lock()
	inj.buf = append(inj.buf, frames...)
	inj.mu.Unlock()
	select {
	case inj.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// pending reports whether frames are owed.
func (inj *injector) pending() bool {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	return len(inj.buf) > 0
}

// take returns the frames owed, and forgets them.
func (inj *injector) take() []byte {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	b := inj.buf
	inj.buf = nil
	return b
}

// pingFrames returns n PING frames carrying InjectedPingData.
func pingFrames(n int) []byte {
	const frameLen = 9 + 8
	b := make([]byte, 0, n*frameLen)
	for range n {
		var h [9]byte
		h[2] = 8 // length
		h[3] = 6 // type PING; flags 0; stream 0
		b = append(b, h[:]...)
		b = append(b, InjectedPingData[:]...)
	}
	return b
}

// frameCursor follows HTTP/2 frame boundaries through a byte stream that
// starts with the 24-byte client preface, so that frames can be inserted
// between two of the client's frames and never inside one.
type frameCursor struct {
	preface int     // preface bytes still to pass
	hdr     [9]byte // the current frame header, as far as it has been seen
	hdrLen  int
	payload uint32 // payload bytes of the current frame still to pass
}

func newFrameCursor() frameCursor { return frameCursor{preface: len(clientPreface)} }

// atBoundary reports whether the bytes seen so far end between two frames.
func (c *frameCursor) atBoundary() bool {
	return c.preface == 0 && c.hdrLen == 0 && c.payload == 0
}

// advance moves the cursor over b.
func (c *frameCursor) advance(b []byte) {
	for len(b) > 0 {
		switch {
		case c.preface > 0:
			k := min(c.preface, len(b))
			c.preface -= k
			b = b[k:]
		case c.payload > 0:
			k := min(int(c.payload), len(b))
			c.payload -= uint32(k)
			b = b[k:]
		default:
			k := copy(c.hdr[c.hdrLen:], b)
			c.hdrLen += k
			b = b[k:]
			if c.hdrLen == len(c.hdr) {
				c.payload = uint32(c.hdr[0])<<16 | uint32(binary.BigEndian.Uint16(c.hdr[1:3]))
				c.hdrLen = 0
			}
		}
	}
}

// toBoundary returns how many bytes at the start of b end the preface or
// the frame in progress, or len(b) if b does not reach that boundary.
func (c frameCursor) toBoundary(b []byte) int {
	n := 0
	for n < len(b) {
		k := len(b) - n
		switch {
		case c.preface > 0:
			k = min(c.preface, k)
			c.preface -= k
		case c.payload > 0:
			k = min(int(c.payload), k)
			c.payload -= uint32(k)
		default:
			k = copy(c.hdr[c.hdrLen:], b[n:])
			c.hdrLen += k
			if c.hdrLen == len(c.hdr) {
				c.payload = uint32(c.hdr[0])<<16 | uint32(binary.BigEndian.Uint16(c.hdr[1:3]))
				c.hdrLen = 0
			}
		}
		n += k
		if c.atBoundary() {
			return n
		}
	}
	return n
}
