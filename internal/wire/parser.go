package wire

import "encoding/binary"

// parser follows one direction of an HTTP/2 connection incrementally. Bytes
// arrive in arbitrary pieces, so every piece of state that spans a Read or
// Write boundary lives here, in fixed-size fields: feeding never allocates.
//
// The fields are ordered and sized to pack: a connection holds two parsers.
type parser struct {
	// contStream is the stream whose header block a CONTINUATION must
	// continue next, 0 when no header block is open.
	contStream uint32
	length     uint32 // payload length of the current frame
	stream     uint32
	remain     uint32 // payload bytes of the current frame not yet consumed

	dir      Direction
	validate bool  // report the violations grpc-go's framer rejects (received direction)
	preface  uint8 // bytes of the client preface still expected
	inert    bool  // input could not be parsed; stop looking for good
	inFrame  bool  // a header was read and its payload is being consumed
	// padCheck says the frame's pad length (its first payload byte) must
	// be checked against its length once it arrives.
	padCheck bool
	typ      uint8
	flags    uint8
	hdrN     uint8
	capture  uint8 // payload bytes of the current frame worth keeping
	bufN     uint8

	hdr [frameHeaderLen]byte
	buf [8 + MaxDebugData]byte
}

func newParser(dir Direction, expectPreface bool) parser {
	p := parser{dir: dir, validate: dir == Received}
	if expectPreface {
		p.preface = uint8(len(clientPreface))
	}
	return p
}

// feed consumes b and reports the frames it completes to s.
func (p *parser) feed(b []byte, s Sink) {
	for len(b) > 0 && !p.inert {
		switch {
		case p.preface > 0:
			off := len(clientPreface) - int(p.preface)
			n := min(int(p.preface), len(b))
			if string(b[:n]) != clientPreface[off:off+n] {
				p.violate(s, ViolationPreface)
				return
			}
			p.preface -= uint8(n)
			b = b[n:]
		case !p.inFrame:
			if p.hdrN == 0 {
				if b = p.skipWhole(b); len(b) == 0 {
					return
				}
				if n := p.wholePing(b, s); n > 0 {
					b = b[n:]
					continue
				}
			}
			n := copy(p.hdr[p.hdrN:], b)
			p.hdrN += uint8(n)
			b = b[n:]
			if p.hdrN == frameHeaderLen {
				p.hdrN = 0
				p.startFrame(s)
			}
		default:
			n := uint32(min(uint64(p.remain), uint64(len(b))))
			if p.bufN < p.capture {
				p.bufN += uint8(copy(p.buf[p.bufN:p.capture], b[:n]))
			}
			p.remain -= n
			b = b[n:]
			if p.padCheck && p.bufN > 0 {
				p.padCheck = false
				if !p.padFits() {
					p.violate(s, ViolationPadding)
					return
				}
			}
			if p.remain == 0 {
				p.inFrame = false
				p.emit(s)
			}
		}
	}
}

// skipWhole is feed's fast path: it consumes the frames at the start of b
// that lie wholly in b and that the observer would only skip, and returns the
// rest of b. Anything else is left to the general path, which treats these
// frames the same way.
//
// It runs once per frame of every connection, and a gRPC connection moving
// small messages carries millions of frames a second, so it decodes no more
// of a header than it must: in the sent direction, which is only watched for
// PING, GOAWAY and RST_STREAM, the type alone; in the validated direction,
// with no header block open, DATA without padding, HEADERS that end their
// header block with neither padding nor priority, and WINDOW_UPDATE of the
// right length, on the streams each must have.
//
// The loop is a chain of dependent loads (where a frame ends says where the
// next begins), so it is written for the length of that chain: one 8-byte
// load reads a header's length, type, flags and all of its stream id but
// the last byte, from b[i:i+8], whose address is one addition away from i
// (b[i:] could be empty, and the compiler would guard its pointer with
// three more instructions in the chain), and it calls nothing, so that
// nothing it holds in registers is spilled on the way.
func (p *parser) skipWhole(b []byte) []byte {
	if p.contStream != 0 {
		return b
	}
	i := 0
	for len(b)-i >= frameHeaderLen {
		h := binary.BigEndian.Uint64(b[i : i+8])
		length := int(h >> 40)
		if length > MaxFrameSize || len(b)-i-frameHeaderLen < length {
			break
		}
		typ, flags := byte(h>>32), byte(h>>24)
		switch {
		case !p.validate:
			if typ == framePing || typ == frameGoAway || typ == frameRSTStream {
				return b[i:]
			}
		case typ == frameData:
			if flags&flagPadded != 0 || h&0x7fffff == 0 && b[i+8] == 0 {
				return b[i:]
			}
		case typ == frameHeaders:
			if flags&(flagPadded|flagPriority|flagEndHeaders) != flagEndHeaders || h&0x7fffff == 0 && b[i+8] == 0 {
				return b[i:]
			}
		case typ == frameWindowUpdate:
			if length != 4 {
				return b[i:]
			}
		default:
			return b[i:]
		}
		i += frameHeaderLen + length
	}
	return b[i:]
}

// wholePing reports a well-formed PING that lies wholly at the start of b,
// as the general path would, and returns its size; it returns 0 for
// anything else. grpc-go sends a PING with every burst of DATA it receives
// (its BDP estimator), so a busy connection carries many, and each would
// cost the general path as much as a dozen skipped frames.
func (p *parser) wholePing(b []byte, s Sink) int {
	const size = frameHeaderLen + 8
	if len(b) < size || p.contStream != 0 || b[3] != framePing ||
		b[0] != 0 || b[1] != 0 || b[2] != 8 || binary.BigEndian.Uint32(b[5:9])&(1<<31-1) != 0 {
		return 0
	}
	s.Ping(p.dir, b[4]&flagAck != 0, [8]byte(b[frameHeaderLen:size]))
	return size
}

// startFrame decodes a complete frame header. A header that breaks a rule the
// observer relies on to interpret its payload makes the direction inert: the
// peer at the other end will treat it as a connection error anyway, and a
// guessed interpretation would be worse than none. In the validated
// direction every rule grpc-go's framer enforces from the header alone is
// checked too, and a breach is reported.
func (p *parser) startFrame(s Sink) {
	length := uint32(p.hdr[0])<<16 | uint32(p.hdr[1])<<8 | uint32(p.hdr[2])
	p.typ = p.hdr[3]
	p.flags = p.hdr[4]
	p.stream = binary.BigEndian.Uint32(p.hdr[5:9]) & (1<<31 - 1)
	p.length = length
	p.remain = length
	p.bufN = 0
	p.capture = 0
	p.padCheck = false
	if p.validate {
		if v, ok := p.checkHeader(); !ok {
			p.violate(s, v)
			return
		}
	}
	switch p.typ {
	case framePing:
		if length != 8 || p.stream != 0 {
			p.violate(s, ViolationFrameLength)
			return
		}
		p.capture = 8
	case frameGoAway:
		if length < 8 || p.stream != 0 {
			p.violate(s, ViolationFrameLength)
			return
		}
		p.capture = uint8(min(length, uint32(len(p.buf))))
	case frameRSTStream:
		if length != 4 || p.stream == 0 {
			p.violate(s, ViolationFrameLength)
			return
		}
		p.capture = 4
	}
	if p.padCheck {
		p.capture = 1
	}
	if length == 0 {
		p.emit(s)
		return
	}
	p.inFrame = true
}

// checkHeader applies, in the order golang.org/x/net/http2's Framer does,
// the rules whose breach the Framer (and grpc-go's DATA reader) returns as a
// connection error, and which a frame header tells. Rules whose breach is
// only a stream error (a HEADERS pad length beyond its payload, a zero
// stream WINDOW_UPDATE) are not violations: grpc-go resets the stream and
// goes on. It keeps the header-block state and arms padCheck.
func (p *parser) checkHeader() (Violation, bool) {
	length, typ, flags, stream := p.length, p.typ, p.flags, p.stream
	if length > MaxFrameSize {
		return ViolationFrameSize, false
	}
	// Header blocks. Like the Framer, only HEADERS and CONTINUATION open
	// or continue one; a PUSH_PROMISE without END_HEADERS does not.
	if p.contStream != 0 {
		if typ != frameContinuation || stream != p.contStream {
			return ViolationContinuation, false
		}
	} else if typ == frameContinuation {
		return ViolationContinuation, false
	}
	if typ == frameHeaders || typ == frameContinuation {
		p.contStream = 0
		if flags&flagEndHeaders == 0 {
			p.contStream = stream
		}
	}
	padded := flags&flagPadded != 0
	switch typ {
	case frameData:
		if stream == 0 {
			return ViolationStreamID, false
		}
		if padded {
			if length == 0 {
				return ViolationFrameLength, false
			}
			p.padCheck = true
		}
	case frameHeaders:
		if stream == 0 {
			return ViolationStreamID, false
		}
		var need uint32
		if padded {
			need++
		}
		if flags&flagPriority != 0 {
			need += 5
		}
		if length < need {
			return ViolationFrameLength, false
		}
	case framePriority:
		if stream == 0 {
			return ViolationStreamID, false
		}
		if length != 5 {
			return ViolationFrameLength, false
		}
	case frameRSTStream:
		if length != 4 {
			return ViolationFrameLength, false
		}
		if stream == 0 {
			return ViolationStreamID, false
		}
	case frameSettings:
		if flags&flagAck != 0 && length > 0 {
			return ViolationFrameLength, false
		}
		if stream != 0 {
			return ViolationStreamID, false
		}
		if length%6 != 0 {
			return ViolationFrameLength, false
		}
	case framePushPromise:
		if stream == 0 {
			return ViolationStreamID, false
		}
		need := uint32(4) // promised stream id
		if padded {
			need++
			p.padCheck = length >= need
		}
		if length < need {
			return ViolationFrameLength, false
		}
	case framePing:
		if length != 8 {
			return ViolationFrameLength, false
		}
		if stream != 0 {
			return ViolationStreamID, false
		}
	case frameGoAway:
		if stream != 0 {
			return ViolationStreamID, false
		}
		if length < 8 {
			return ViolationFrameLength, false
		}
	case frameWindowUpdate:
		if length != 4 {
			return ViolationFrameLength, false
		}
	}
	return 0, true
}

// padFits checks the pad length, the first payload byte of a padded DATA or
// PUSH_PROMISE frame, against the frame's length.
func (p *parser) padFits() bool {
	room := p.length - 1 // payload after the pad length byte
	if p.typ == framePushPromise {
		room -= 4 // promised stream id
	}
	return uint32(p.buf[0]) <= room
}

// violate stops parsing this direction and, if it is validated, reports v.
func (p *parser) violate(s Sink, v Violation) {
	p.inert = true
	p.inFrame = false
	if p.validate {
		s.Violation(p.dir, v)
	}
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
	case frameSettings:
		// Only the validated direction's: it is the received one, and
		// its SETTINGS never take the fast path.
		if p.validate && p.flags&flagAck == 0 {
			s.Settings()
		}
	}
}
