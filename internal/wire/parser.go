package wire

import "encoding/binary"

// parser follows one direction of an HTTP/2 connection incrementally. Bytes
// arrive in arbitrary pieces, so every piece of state that spans a Read or
// Write boundary lives here, in fixed-size fields: feeding never allocates.
type parser struct {
	dir     Direction
	preface int  // bytes of the client preface still expected
	inert   bool // input could not be parsed; stop looking for good
	inFrame bool // a header was read and its payload is being consumed

	hdr  [frameHeaderLen]byte
	hdrN int

	typ     uint8
	flags   uint8
	stream  uint32
	remain  uint32 // payload bytes of the current frame not yet consumed
	capture int    // payload bytes of the current frame worth keeping
	buf     [8 + MaxDebugData]byte
	bufN    int
}

func newParser(dir Direction, expectPreface bool) parser {
	p := parser{dir: dir}
	if expectPreface {
		p.preface = len(clientPreface)
	}
	return p
}

// feed consumes b and reports the frames it completes to s.
func (p *parser) feed(b []byte, s Sink) {
	for len(b) > 0 && !p.inert {
		switch {
		case p.preface > 0:
			off := len(clientPreface) - p.preface
			n := min(p.preface, len(b))
			if string(b[:n]) != clientPreface[off:off+n] {
				p.inert = true
				return
			}
			p.preface -= n
			b = b[n:]
		case !p.inFrame:
			n := copy(p.hdr[p.hdrN:], b)
			p.hdrN += n
			b = b[n:]
			if p.hdrN == frameHeaderLen {
				p.hdrN = 0
				p.startFrame(s)
			}
		default:
			n := uint32(min(uint64(p.remain), uint64(len(b))))
			if p.bufN < p.capture {
				p.bufN += copy(p.buf[p.bufN:p.capture], b[:n])
			}
			p.remain -= n
			b = b[n:]
			if p.remain == 0 {
				p.inFrame = false
				p.emit(s)
			}
		}
	}
}

// startFrame decodes a complete frame header. A header that breaks a rule the
// observer relies on to interpret its payload makes the direction inert: the
// peer at the other end will treat it as a connection error anyway, and a
// guessed interpretation would be worse than none.
func (p *parser) startFrame(s Sink) {
	length := uint32(p.hdr[0])<<16 | uint32(p.hdr[1])<<8 | uint32(p.hdr[2])
	p.typ = p.hdr[3]
	p.flags = p.hdr[4]
	p.stream = binary.BigEndian.Uint32(p.hdr[5:9]) & (1<<31 - 1)
	p.remain = length
	p.bufN = 0
	p.capture = 0
	switch p.typ {
	case framePing:
		if length != 8 || p.stream != 0 {
			p.inert = true
			return
		}
		p.capture = 8
	case frameGoAway:
		if length < 8 || p.stream != 0 {
			p.inert = true
			return
		}
		p.capture = int(min(length, uint32(len(p.buf))))
	case frameRSTStream:
		if length != 4 || p.stream == 0 {
			p.inert = true
			return
		}
		p.capture = 4
	}
	if length == 0 {
		p.emit(s)
		return
	}
	p.inFrame = true
}

func (p *parser) emit(s Sink) {
	switch p.typ {
	case framePing:
		var data [8]byte
		copy(data[:], p.buf[:8])
		s.Ping(p.dir, p.flags&flagAck != 0, data)
	case frameGoAway:
		last := binary.BigEndian.Uint32(p.buf[0:4]) & (1<<31 - 1)
		code := binary.BigEndian.Uint32(p.buf[4:8])
		s.GoAway(p.dir, last, code, p.buf[8:p.bufN])
	case frameRSTStream:
		s.RSTStream(p.dir, p.stream, binary.BigEndian.Uint32(p.buf[0:4]))
	}
}
