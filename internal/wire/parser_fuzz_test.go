package wire

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"testing"

	"golang.org/x/net/http2"
)

// byteSource hands out the fuzz input as random decisions. Once it runs out it
// returns zeros, and the generator stops.
type byteSource struct{ b []byte }

func (s *byteSource) empty() bool { return len(s.b) == 0 }

func (s *byteSource) u8() uint8 {
	if len(s.b) == 0 {
		return 0
	}
	v := s.b[0]
	s.b = s.b[1:]
	return v
}

func (s *byteSource) u16() uint16 { return uint16(s.u8())<<8 | uint16(s.u8()) }
func (s *byteSource) u32() uint32 { return uint32(s.u16())<<16 | uint32(s.u16()) }

// bytes returns the next n bytes of input, zero-padded if it runs out.
func (s *byteSource) bytes(n int) []byte {
	out := make([]byte, n)
	copy(out, s.b)
	s.b = s.b[min(n, len(s.b)):]
	return out
}

// streamID returns a stream id >= 1.
func (s *byteSource) streamID() uint32 { return max(s.u32()&(1<<31-1), 1) }

// filler returns n pseudo-random bytes derived from a one-byte seed, so that
// bulk payloads do not eat the fuzz input.
func filler(seed uint8, n int) []byte {
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(r.Uint32())
	}
	return out
}

// Generator operations. The fuzz input is a program: an op byte followed by
// that op's arguments, as read by genFrames and written by progEnc.
const (
	opPing = iota
	opGoAway
	opRST
	opData
	opHeaders
	opSettings
	opSettingsAck
	opWindowUpdate
	opPriority
	opUnknown
	numOps
)

const maxGenFrames = 64

// genFrames interprets prog as a sequence of valid frames and writes them with
// an http2.Framer. It fails the test if the Framer refuses one: that is a
// generator bug, not a parser bug.
func genFrames(t testing.TB, prog []byte, preface bool) []byte {
	var buf bytes.Buffer
	if preface {
		buf.WriteString(clientPreface)
	}
	fr := http2.NewFramer(&buf, nil)
	src := &byteSource{b: prog}
	for n := 0; !src.empty() && n < maxGenFrames; n++ {
		var err error
		switch src.u8() % numOps {
		case opPing:
			ack := src.u8()&1 != 0
			var data [8]byte
			copy(data[:], src.bytes(8))
			err = fr.WritePing(ack, data)
		case opGoAway:
			last := src.u32() & (1<<31 - 1)
			code := http2.ErrCode(src.u32())
			debug := src.bytes(int(src.u8() % 201))
			err = fr.WriteGoAway(last, code, debug)
		case opRST:
			err = fr.WriteRSTStream(src.streamID(), http2.ErrCode(src.u32()))
		case opData:
			id := src.streamID()
			length := int(src.u16() % 1001)
			flags := src.u8()
			data := filler(src.u8(), length)
			if flags&2 != 0 {
				pad := make([]byte, src.u8())
				err = fr.WriteDataPadded(id, flags&1 != 0, data, pad)
			} else {
				err = fr.WriteData(id, flags&1 != 0, data)
			}
		case opHeaders:
			p := http2.HeadersFrameParam{StreamID: src.streamID(), EndHeaders: true}
			length := int(src.u16() % 1001)
			flags := src.u8()
			p.BlockFragment = filler(src.u8(), length)
			p.EndStream = flags&1 != 0
			if flags&2 != 0 {
				p.PadLength = src.u8()
			}
			if flags&4 != 0 {
				p.Priority = http2.PriorityParam{
					StreamDep: src.u32() & (1<<31 - 1),
					Exclusive: flags&8 != 0,
					Weight:    src.u8(),
				}
			}
			err = fr.WriteHeaders(p)
		case opSettings:
			settings := make([]http2.Setting, src.u8()%8)
			for i := range settings {
				id := http2.SettingID(src.u16())
				val := src.u32()
				if id == http2.SettingInitialWindowSize {
					val &= 1<<31 - 1
				}
				settings[i] = http2.Setting{ID: id, Val: val}
			}
			err = fr.WriteSettings(settings...)
		case opSettingsAck:
			err = fr.WriteSettingsAck()
		case opWindowUpdate:
			id := src.u32() & (1<<31 - 1) // 0 is the connection window
			incr := max(src.u32()&(1<<31-1), 1)
			err = fr.WriteWindowUpdate(id, incr)
		case opPriority:
			id := src.streamID()
			dep := src.u32()
			err = fr.WritePriority(id, http2.PriorityParam{
				StreamDep: dep & (1<<31 - 1),
				Exclusive: dep>>31 != 0,
				Weight:    src.u8(),
			})
		case opUnknown:
			typ := http2.FrameType(0x20 + src.u8()%0xe0)
			flags := http2.Flags(src.u8())
			id := src.u32() & (1<<31 - 1)
			payload := filler(src.u8(), int(src.u16()%301))
			err = fr.WriteRawFrame(typ, flags, id, payload)
		}
		if err != nil {
			t.Fatalf("generator: framer refused frame %d: %v", n, err)
		}
	}
	return buf.Bytes()
}

// progEnc writes generator programs for the seed corpus, mirroring genFrames.
type progEnc struct{ b []byte }

func (e *progEnc) u8(v uint8)   { e.b = append(e.b, v) }
func (e *progEnc) u16(v uint16) { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *progEnc) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }

func (e *progEnc) ping(ack bool, data [8]byte) *progEnc {
	e.u8(opPing)
	e.u8(b2u(ack))
	e.b = append(e.b, data[:]...)
	return e
}

func (e *progEnc) goAway(last, code uint32, debug string) *progEnc {
	e.u8(opGoAway)
	e.u32(last)
	e.u32(code)
	e.u8(uint8(len(debug)))
	e.b = append(e.b, debug...)
	return e
}

func (e *progEnc) rst(stream, code uint32) *progEnc {
	e.u8(opRST)
	e.u32(stream)
	e.u32(code)
	return e
}

func (e *progEnc) data(stream uint32, length uint16, endStream bool, pad int) *progEnc {
	e.u8(opData)
	e.u32(stream)
	e.u16(length)
	flags := b2u(endStream)
	if pad >= 0 {
		flags |= 2
	}
	e.u8(flags)
	e.u8(0x5a) // filler seed
	if pad >= 0 {
		e.u8(uint8(pad))
	}
	return e
}

func (e *progEnc) headers(stream uint32, length uint16, endStream bool) *progEnc {
	e.u8(opHeaders)
	e.u32(stream)
	e.u16(length)
	e.u8(b2u(endStream))
	e.u8(0xa5)
	return e
}

func (e *progEnc) settings(s ...http2.Setting) *progEnc {
	e.u8(opSettings)
	e.u8(uint8(len(s)))
	for _, s := range s {
		e.u16(uint16(s.ID))
		e.u32(s.Val)
	}
	return e
}

func (e *progEnc) settingsAck() *progEnc { e.u8(opSettingsAck); return e }

func (e *progEnc) windowUpdate(stream, incr uint32) *progEnc {
	e.u8(opWindowUpdate)
	e.u32(stream)
	e.u32(incr)
	return e
}

func (e *progEnc) priority(stream, dep uint32, weight uint8) *progEnc {
	e.u8(opPriority)
	e.u32(stream)
	e.u32(dep)
	e.u8(weight)
	return e
}

func (e *progEnc) unknown(typ, flags uint8, stream uint32, length uint16) *progEnc {
	e.u8(opUnknown)
	e.u8(typ - 0x20)
	e.u8(flags)
	e.u32(stream)
	e.u8(0x33)
	e.u16(length)
	return e
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

const (
	codeNoError         = 0x0
	codeEnhanceYourCalm = 0xb // grpc-go's GOAWAY for "too_many_pings"
)

var grpcSettings = []http2.Setting{
	{ID: http2.SettingInitialWindowSize, Val: 65535},
	{ID: http2.SettingMaxFrameSize, Val: 16384},
	{ID: http2.SettingMaxHeaderListSize, Val: 16 << 20},
}

// fuzz flags for FuzzParserMatchesFramer.
const (
	flagPreface = 1 << 0
	flagSent    = 1 << 1
)

func FuzzParserMatchesFramer(f *testing.F) {
	// Preface + SETTINGS + keepalive PING, fed in random pieces.
	f.Add(new(progEnc).settings(grpcSettings...).settingsAck().ping(false, KeepalivePingData).ping(true, KeepalivePingData).b,
		[]byte{3, 0x81, 0, 7}, uint8(flagPreface))
	// Server's GOAWAY "too_many_pings" (ENHANCE_YOUR_CALM), received.
	f.Add(new(progEnc).ping(false, BDPPingData).goAway(1<<31-1, codeEnhanceYourCalm, "too_many_pings").b,
		[]byte{0x90}, uint8(0))
	// Graceful drain after max connection age: GOAWAY "max_age", drain PING,
	// second GOAWAY, then traffic, sent by a server.
	f.Add(new(progEnc).goAway(1<<31-1, codeNoError, "max_age").ping(false, DrainPingData).
		ping(true, DrainPingData).goAway(7, codeNoError, "max_age").
		headers(7, 120, false).data(7, 1000, true, -1).rst(9, 8).b,
		[]byte{0x85, 5, 0x80}, uint8(flagSent))
	// Everything in 1-byte chunks, including the preface.
	f.Add(new(progEnc).settings(grpcSettings...).headers(1, 60, false).data(1, 300, false, 17).
		windowUpdate(0, 1<<20).windowUpdate(1, 300).priority(3, 1, 15).
		unknown(0xfa, 0xff, 5, 40).rst(1, 0x8).goAway(1, 2, string(bytes.Repeat([]byte("x"), 200))).b,
		[]byte{0}, uint8(flagPreface))
	// A GOAWAY with debug data longer than MaxDebugData, cut just around the cap.
	f.Add(new(progEnc).goAway(3, 0x2, string(bytes.Repeat([]byte("abcdefgh"), 20))).b,
		[]byte{8, 8, 63, 1, 0x81}, uint8(0))
	// Empty frames and padding: zero-length DATA, padded DATA with no data.
	f.Add(new(progEnc).data(1, 0, false, -1).data(1, 0, true, 255).headers(3, 0, true).
		unknown(0x20, 0, 0, 0).ping(true, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}).b,
		[]byte{2, 0, 9}, uint8(flagPreface|flagSent))
	// Garbage as a program: arbitrary bytes still make a valid frame sequence.
	f.Add([]byte("\xff\x00\x13garbage-in\x07\x01frames-out\xde\xad\xbe\xef"), []byte{0x7f, 0x01}, uint8(0))
	// Bad preface cannot be generated (the generator only writes valid
	// streams); FuzzParserGarbage covers it.

	f.Fuzz(func(t *testing.T, prog, cuts []byte, flags uint8) {
		preface := flags&flagPreface != 0
		dir := Received
		if flags&flagSent != 0 {
			dir = Sent
		}
		stream := genFrames(t, prog, preface)

		want, err := oracleEvents(stream, preface, dir)
		if err != io.EOF {
			t.Fatalf("oracle did not read the generated stream cleanly: %v (after %d events)", err, len(want))
		}

		for _, c := range []struct {
			name string
			cuts []byte
		}{
			{"random", cuts},
			{"one chunk", nil},
			{"1-byte chunks", []byte{0}},
		} {
			got := observe(stream, c.cuts, preface, dir)
			if !equalEvents(got, want) {
				t.Fatalf("%s: observer events differ from the framer's\n got: %v\nwant: %v", c.name, got, want)
			}
		}
	})
}

// fuzz flags for FuzzParserGarbage.
const (
	garbageExpectPreface = 1 << 0 // parser expects the client preface
	garbageAddPreface    = 1 << 1 // prepend a valid preface to the input
	garbageSent          = 1 << 2
)

func FuzzParserGarbage(f *testing.F) {
	valid := func(preface bool, p *progEnc) []byte {
		return genFrames(f, p.b, preface)
	}
	// Preface + SETTINGS + PING, as one chunk and in pieces.
	f.Add(valid(true, new(progEnc).settings(grpcSettings...).ping(false, KeepalivePingData)),
		[]byte{0x81, 5}, uint8(garbageExpectPreface))
	f.Add(valid(false, new(progEnc).settings(grpcSettings...).ping(false, KeepalivePingData)),
		[]byte{}, uint8(garbageExpectPreface|garbageAddPreface))
	// GOAWAY too_many_pings / max_age.
	f.Add(valid(false, new(progEnc).goAway(1<<31-1, codeEnhanceYourCalm, "too_many_pings")),
		[]byte{4, 3}, uint8(0))
	f.Add(valid(false, new(progEnc).goAway(1<<31-1, codeNoError, "max_age").ping(false, DrainPingData).goAway(5, codeNoError, "max_age")),
		[]byte{0x80}, uint8(garbageSent))
	// Valid frames in 1-byte chunks.
	f.Add(valid(true, new(progEnc).headers(1, 80, false).data(1, 100, true, 3).rst(1, 8).ping(true, BDPPingData)),
		[]byte{0}, uint8(garbageExpectPreface))
	// Garbage: random bytes, HTTP/1.1, a frame of every type with bad lengths.
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), []byte{1}, uint8(0))
	f.Add([]byte("\x00\x00\x08\x06\x00\x00\x00\x00\x01pingdata"), []byte{0}, uint8(0))                                            // PING on a stream
	f.Add([]byte("\x00\x00\x07\x06\x00\x00\x00\x00\x00pingdat"), []byte{0}, uint8(0))                                             // short PING
	f.Add([]byte("\x00\x00\x04\x07\x00\x00\x00\x00\x00abcd"), []byte{2}, uint8(0))                                                // short GOAWAY
	f.Add([]byte("\x00\x00\x04\x03\x00\x00\x00\x00\x00abcd"), []byte{2}, uint8(0))                                                // RST on stream 0
	f.Add([]byte("\x00\x00\x05\x03\x00\x00\x00\x00\x01abcde"), []byte{2}, uint8(0))                                               // long RST
	f.Add([]byte("\x00\x00\x00\x09\x04\x00\x00\x00\x01\x00\x00\x00\x06\x00\x00\x00\x00\x00"), []byte{}, uint8(0))                 // stray CONTINUATION
	f.Add([]byte("\x00\x00\x01\x00\x08\x00\x00\x00\x01\x05"+"\x00\x00\x08\x06\x01\x00\x00\x00\x00ackackac"), []byte{3}, uint8(0)) // pad too long, then PING
	f.Add([]byte("\xff\xff\xff\x00\x00\x00\x00\x00\x01"), []byte{0x8f}, uint8(0))                                                 // huge DATA header, truncated
	// Reserved bits: R bit in the stream id (PING on "stream 0x80000000" is on
	// stream 0), high bit of the GOAWAY last-stream-id, RST_STREAM on
	// 0x80000000 (stream 0 once masked, so malformed), PING with every flag.
	f.Add([]byte("\x00\x00\x08\x06\xff\x80\x00\x00\x00pingdata"+
		"\x00\x00\x0f\x07\x00\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x0bdebug00"+
		"\x00\x00\x04\x03\x00\x80\x00\x00\x00\x00\x00\x00\x08"), []byte{5}, uint8(0))
	// Malformed frames the observer interprets, after a valid PING: the
	// observer must stop reporting, like the framer.
	f.Add([]byte("\x00\x00\x08\x06\x00\x00\x00\x00\x00pingdata"+"\x00\x00\x05\x03\x00\x00\x00\x00\x01abcde"+
		"\x00\x00\x08\x06\x00\x00\x00\x00\x00pingdata"), []byte{3}, uint8(0))
	// Bad preface.
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\r"+"\x00\x00\x08\x06\x00\x00\x00\x00\x00pingdata"), []byte{0}, uint8(garbageExpectPreface))
	f.Add([]byte("PRI * HTTP/1.1\r\n"), []byte{}, uint8(garbageExpectPreface))

	f.Fuzz(func(t *testing.T, data, cuts []byte, flags uint8) {
		preface := flags&garbageExpectPreface != 0
		if flags&garbageAddPreface != 0 {
			data = append([]byte(clientPreface), data...)
		}
		dir := Received
		if flags&garbageSent != 0 {
			dir = Sent
		}

		whole := observe(data, nil, preface, dir)
		if bytewise := observe(data, []byte{0}, preface, dir); !equalEvents(bytewise, whole) {
			t.Fatalf("chunking changes events\n one chunk: %v\n 1-byte chunks: %v", whole, bytewise)
		}
		if random := observe(data, cuts, preface, dir); !equalEvents(random, whole) {
			t.Fatalf("chunking changes events\n one chunk: %v\n random chunks: %v", whole, random)
		}

		want, err, strict := oracleRead(data, preface, dir)
		if err == nil {
			t.Fatal("oracle ended without an error")
		}
		if len(whole) < len(want) || !equalEvents(whole[:len(want)], want) {
			t.Fatalf("framer's events (until %v) are not a prefix of the observer's\n observer: %v\n framer:   %v", err, whole, want)
		}
		// Where the framer stopped at the end of the input, a bad preface or
		// a malformed PING/GOAWAY/RST_STREAM, the observer must report
		// nothing more.
		if strict && len(whole) != len(want) {
			t.Fatalf("framer stopped with %v but the observer reported more\n observer: %v\n framer:   %v", err, whole, want)
		}
	})
}

// TestParserKnownFrames pins the oracle comparison to hand-written
// expectations, so that a generator or oracle that silently produces nothing
// cannot make the fuzz tests pass vacuously.
func TestParserKnownFrames(t *testing.T) {
	prog := new(progEnc).settings(grpcSettings...).ping(false, KeepalivePingData).
		headers(1, 50, false).data(1, 40, true, 4).rst(1, 8).ping(true, BDPPingData).
		goAway(1<<31-1, codeEnhanceYourCalm, "too_many_pings").
		goAway(3, codeNoError, string(bytes.Repeat([]byte("m"), 100))).b
	stream := genFrames(t, prog, true)
	want := []event{
		{kind: "ping", dir: Received, data: KeepalivePingData},
		{kind: "rst", dir: Received, stream: 1, code: 8},
		{kind: "ping", dir: Received, ack: true, data: BDPPingData},
		{kind: "goaway", dir: Received, last: 1<<31 - 1, code: codeEnhanceYourCalm, debug: "too_many_pings"},
		{kind: "goaway", dir: Received, last: 3, code: codeNoError, debug: string(bytes.Repeat([]byte("m"), MaxDebugData))},
	}
	oracle, err := oracleEvents(stream, true, Received)
	if err != io.EOF || !equalEvents(oracle, want) {
		t.Fatalf("oracle: %v, %v\nwant %v", oracle, err, want)
	}
	for _, cuts := range [][]byte{nil, {0}, {3, 0x81}} {
		if got := observe(stream, cuts, true, Received); !equalEvents(got, want) {
			t.Errorf("cuts %v: got %v\nwant %v", cuts, got, want)
		}
	}
	// Without the expected preface the direction goes inert: nothing at all.
	if got := observe(stream, nil, false, Received); len(got) != 0 {
		t.Errorf("preface not expected: got %v, want nothing", got)
	}
}
