package faultproxy

import "encoding/binary"

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
		pr.injectMu.Lock()
		pr.injectBuf = append(pr.injectBuf, frames...)
		pr.injectMu.Unlock()
		select {
		case pr.inject <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// takeInjected returns the frames owed to the upstream, and forgets them.
func (pr *pair) takeInjected() []byte {
	pr.injectMu.Lock()
	defer pr.injectMu.Unlock()
	b := pr.injectBuf
	pr.injectBuf = nil
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

func newFrameCursor() frameCursor { return frameCursor{preface: 24} }

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
