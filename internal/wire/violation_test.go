package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"golang.org/x/net/http2"
)

// oracleStop is why the grpc-go oracle stopped reading.
type oracleStop uint8

const (
	stopClean     oracleStop = iota // input ended on a frame boundary
	stopTruncated                   // input ended inside the preface or a frame
	stopViolation                   // a connection error the observer can see
	stopHidden                      // a connection error only a payload shows
)

// grpcOracle reads a received stream the way grpc-go's transport does: the
// preface, then x/net's Framer with SETTINGS_MAX_FRAME_SIZE 16384, carrying
// on past stream errors and stopping at the first connection error. It
// returns the PING/GOAWAY/RST_STREAM events before it stopped and why it
// stopped. HPACK is not decoded: the observer does not look at it either.
func grpcOracle(stream []byte, preface bool) ([]event, oracleStop) {
	if preface {
		n := min(len(stream), len(clientPreface))
		if string(stream[:n]) != clientPreface[:n] {
			return nil, stopViolation
		}
		if n < len(clientPreface) {
			return nil, stopTruncated
		}
		stream = stream[n:]
	}
	r := bytes.NewReader(stream)
	fr := http2.NewFramer(io.Discard, r)
	fr.SetMaxReadFrameSize(MaxFrameSize)
	var evs []event
	for {
		fh, err := fr.ReadFrameHeader()
		switch {
		case err == io.EOF:
			return evs, stopClean
		case err == io.ErrUnexpectedEOF:
			return evs, stopTruncated
		case err != nil:
			return evs, stopViolation // too large, or out of header-block order
		}
		if uint32(r.Len()) < fh.Length {
			return evs, stopTruncated
		}
		f, err := fr.ReadFrameForHeader(fh)
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				continue // grpc-go resets the stream and goes on
			}
			// Not judged by the observer: SETTINGS values and WINDOW_UPDATE
			// increments are payload; PRIORITY_UPDATE (RFC 9218) is parsed
			// only by recent x/net releases, older ones skip it, so
			// judging it could report a violation grpc-go never saw.
			var ce http2.ConnectionError
			hidden := (fh.Type == http2.FrameSettings && errors.As(err, &ce) && http2.ErrCode(ce) == http2.ErrCodeFlowControl) ||
				(fh.Type == http2.FrameWindowUpdate && fh.Length == 4) ||
				fh.Type == http2.FramePriorityUpdate
			if hidden {
				return evs, stopHidden
			}
			return evs, stopViolation
		}
		switch f := f.(type) {
		case *http2.PingFrame:
			evs = append(evs, event{kind: "ping", dir: Received, ack: f.IsAck(), data: f.Data})
		case *http2.GoAwayFrame:
			d := f.DebugData()
			if len(d) > MaxDebugData {
				d = d[:MaxDebugData]
			}
			evs = append(evs, event{kind: "goaway", dir: Received, last: f.LastStreamID, code: uint32(f.ErrCode), debug: string(d)})
		case *http2.RSTStreamFrame:
			evs = append(evs, event{kind: "rst", dir: Received, stream: f.StreamID, code: uint32(f.ErrCode)})
		}
	}
}

// observeAll runs a fresh parser over stream, chunked by cuts, and returns
// its events and violations.
func observeAll(stream, cuts []byte, preface bool, dir Direction) ([]event, []violationEvent) {
	p := newParser(dir, preface)
	rec := &recorder{}
	feedChunked(&p, stream, cuts, rec)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.events, rec.violations
}

// checkAgreement asserts that the observer's violation reports agree with
// grpc-go's framer wherever both can tell.
func checkAgreement(t *testing.T, stream, cuts []byte, preface bool) {
	t.Helper()
	want, stop := grpcOracle(stream, preface)
	evs, vs := observeAll(stream, cuts, preface, Received)
	if len(vs) > 1 {
		t.Fatalf("%d violations reported, want at most one: %v", len(vs), vs)
	}
	prefix := len(evs) >= len(want) && equalEvents(evs[:len(want)], want)
	switch stop {
	case stopClean:
		if len(vs) != 0 || !equalEvents(evs, want) {
			t.Fatalf("framer read the stream cleanly; observer: %v %v\nframer: %v", evs, vs, want)
		}
	case stopTruncated:
		// The observer may already judge a truncated frame by its header
		// or pad length, but nothing before it.
		if !equalEvents(evs, want) || (len(vs) == 1 && vs[0].after != len(want)) {
			t.Fatalf("truncated input; observer: %v %v\nframer: %v", evs, vs, want)
		}
	case stopViolation:
		if len(vs) != 1 || vs[0].after != len(want) || !equalEvents(evs, want) {
			t.Fatalf("framer found a connection error after %d events; observer: %v %v\nframer: %v", len(want), evs, vs, want)
		}
	case stopHidden:
		// Only a payload shows it; the observer goes on, and anything it
		// reports comes after.
		if !prefix || (len(vs) == 1 && vs[0].after < len(want)) {
			t.Fatalf("framer found a payload-deep error after %d events; observer: %v %v\nframer: %v", len(want), evs, vs, want)
		}
	}
	// The sent direction is never validated.
	if _, vs := observeAll(stream, cuts, preface, Sent); len(vs) != 0 {
		t.Fatalf("sent direction reported %v", vs)
	}
}

// frame builds one raw frame.
func frame(typ, flags uint8, stream uint32, payload []byte) []byte {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	fr.AllowIllegalWrites = true
	if err := fr.WriteRawFrame(http2.FrameType(typ), http2.Flags(flags), stream, payload); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var okPing = frame(framePing, 0, 0, make([]byte, 8))

func TestViolations(t *testing.T) {
	tests := []struct {
		name    string
		stream  []byte
		preface bool
		want    Violation
		none    bool // no violation: grpc-go accepts it or it is a stream error
	}{
		{name: "bad preface", stream: []byte("PRI * HTTP/1.1\r\n\r\nSM\r\n\r\n"), preface: true, want: ViolationPreface},
		{name: "HTTP/1.1 request", stream: []byte("GET / HTTP/1.1\r\n"), preface: true, want: ViolationPreface},
		{name: "PING length 7", stream: frame(framePing, 0, 0, make([]byte, 7)), want: ViolationFrameLength},
		{name: "PING on a stream", stream: frame(framePing, 0, 1, make([]byte, 8)), want: ViolationStreamID},
		{name: "oversized DATA", stream: frame(frameData, 0, 1, make([]byte, MaxFrameSize+1)), want: ViolationFrameSize},
		{name: "largest DATA", stream: frame(frameData, 0, 1, make([]byte, MaxFrameSize)), none: true},
		{name: "DATA on stream 0", stream: frame(frameData, 0, 0, []byte("x")), want: ViolationStreamID},
		{name: "padded DATA without payload", stream: frame(frameData, flagPadded, 1, nil), want: ViolationFrameLength},
		{name: "DATA pad too long", stream: frame(frameData, flagPadded, 1, []byte{3, 'a', 'b'}), want: ViolationPadding},
		{name: "DATA pad fills payload", stream: frame(frameData, flagPadded, 1, []byte{2, 'a', 'b'}), none: true},
		{name: "CONTINUATION without HEADERS", stream: frame(frameContinuation, flagEndHeaders, 1, []byte{0x82}), want: ViolationContinuation},
		{name: "CONTINUATION on another stream", stream: cat(frame(frameHeaders, 0, 1, []byte{0x82}), frame(frameContinuation, flagEndHeaders, 3, []byte{0x82})), want: ViolationContinuation},
		{name: "PING inside a header block", stream: cat(frame(frameHeaders, 0, 1, []byte{0x82}), okPing), want: ViolationContinuation},
		{name: "header block completed", stream: cat(frame(frameHeaders, 0, 1, []byte{0x82}), frame(frameContinuation, 0, 1, nil), frame(frameContinuation, flagEndHeaders, 1, nil), okPing), none: true},
		{name: "PUSH_PROMISE without END_HEADERS opens no block", stream: cat(frame(framePushPromise, 0, 1, []byte{0, 0, 0, 2}), okPing), none: true},
		{name: "HEADERS on stream 0", stream: frame(frameHeaders, flagEndHeaders, 0, []byte{0x82}), want: ViolationStreamID},
		{name: "HEADERS priority too short", stream: frame(frameHeaders, flagEndHeaders|flagPriority, 1, []byte{0, 0, 0, 0}), want: ViolationFrameLength},
		{name: "HEADERS pad too long is a stream error", stream: cat(frame(frameHeaders, flagEndHeaders|flagPadded, 1, []byte{9, 0x82}), okPing), none: true},
		{name: "WINDOW_UPDATE length 3", stream: frame(frameWindowUpdate, 0, 0, []byte{0, 0, 1}), want: ViolationFrameLength},
		{name: "SETTINGS length 5", stream: frame(frameSettings, 0, 0, make([]byte, 5)), want: ViolationFrameLength},
		{name: "SETTINGS ACK with payload", stream: frame(frameSettings, flagAck, 0, make([]byte, 6)), want: ViolationFrameLength},
		{name: "SETTINGS on a stream", stream: frame(frameSettings, 0, 1, nil), want: ViolationStreamID},
		{name: "RST_STREAM on stream 0", stream: frame(frameRSTStream, 0, 0, make([]byte, 4)), want: ViolationStreamID},
		{name: "PRIORITY length 4", stream: frame(framePriority, 0, 1, make([]byte, 4)), want: ViolationFrameLength},
		{name: "GOAWAY on a stream", stream: frame(frameGoAway, 0, 1, make([]byte, 8)), want: ViolationStreamID},
		{name: "PUSH_PROMISE pad too long", stream: frame(framePushPromise, flagPadded|flagEndHeaders, 1, []byte{2, 0, 0, 0, 2, 0}), want: ViolationPadding},
		{name: "unknown frame type on stream 0", stream: cat(frame(0x42, 0xff, 0, []byte("ext")), okPing), none: true},
		{name: "PRIORITY_UPDATE on a stream is not judged", stream: frame(0x10, 0, 1, nil), none: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, cuts := range [][]byte{nil, {0}, {2, 9}} {
				_, vs := observeAll(tt.stream, cuts, tt.preface, Received)
				switch {
				case tt.none && len(vs) != 0:
					t.Fatalf("cuts %v: violation %v, want none", cuts, vs)
				case !tt.none && (len(vs) != 1 || vs[0].v != tt.want):
					t.Fatalf("cuts %v: violations %v, want %v", cuts, vs, tt.want)
				}
				checkAgreement(t, tt.stream, cuts, tt.preface)
			}
		})
	}
}

// The validated direction allocates nothing per frame either.
func TestFeedReceivedDoesNotAllocate(t *testing.T) {
	stream, _ := grpcStream(t, 1000, 0, 1024, false)
	var extra bytes.Buffer
	fr := http2.NewFramer(&extra, nil)
	_ = fr.WriteDataPadded(1, false, []byte("data"), make([]byte, 7))
	_ = fr.WriteRSTStream(1, http2.ErrCodeCancel)
	stream = append(stream, extra.Bytes()...)
	sink := &countingSink{}
	p := newParser(Received, false)
	for _, chunk := range []int{1, 9, 100, feedChunk, len(stream)} {
		allocs := testing.AllocsPerRun(20, func() {
			for b := stream; len(b) > 0; {
				n := min(len(b), chunk)
				p.feed(b[:n], sink)
				b = b[n:]
			}
		})
		if allocs != 0 {
			t.Errorf("%d-byte chunks: %v allocs/run; want 0", chunk, allocs)
		}
	}
	if p.inert || sink.violations.Load() != 0 || sink.pings.Load() == 0 {
		t.Fatalf("parser lost track (inert=%v violations=%d pings=%d)", p.inert, sink.violations.Load(), sink.pings.Load())
	}
}

// FuzzViolationsMatchFramer feeds a valid frame sequence followed by
// arbitrary bytes to the received-direction observer, and checks that its
// violation reports agree with grpc-go's framer wherever both can tell: a
// connection error the framer finds from a frame header or pad length is
// reported once, at that frame; nothing the framer accepts, or answers with
// a stream error only, is reported.
func FuzzViolationsMatchFramer(f *testing.F) {
	for _, seed := range [][]byte{
		frame(framePing, 0, 0, make([]byte, 7)),
		frame(frameData, 0, 1, make([]byte, MaxFrameSize+1)),
		frame(frameData, flagPadded, 1, []byte{3, 'a', 'b'}),
		frame(frameContinuation, flagEndHeaders, 1, nil),
		cat(frame(frameHeaders, 0, 1, []byte{0x82}), frame(frameData, 0, 1, nil)),
		frame(frameHeaders, flagEndHeaders|flagPadded|flagPriority, 1, []byte{1, 0, 0, 0, 3, 15}),
		frame(frameWindowUpdate, 0, 0, []byte{0, 0, 0, 0}),
		frame(frameSettings, 0, 0, []byte{0, 4, 0x80, 0, 0, 0}),
		frame(framePushPromise, flagPadded, 1, []byte{0, 0, 0, 2, 1}),
		[]byte("\x00\x00\x04\x03\x00\x00\x00\x00\x00abcd"),
	} {
		f.Add(new(progEnc).settings(grpcSettings...).ping(false, KeepalivePingData).b, seed, []byte{3, 0x81}, uint8(0))
		f.Add([]byte{}, seed, []byte{0}, uint8(0))
	}
	f.Add(new(progEnc).settings(grpcSettings...).b, []byte("PRI * HTTP/2.0\r\n"), []byte{}, uint8(flagPreface))

	f.Fuzz(func(t *testing.T, prog, garbage, cuts []byte, flags uint8) {
		preface := flags&flagPreface != 0
		stream := genFrames(t, prog, false)
		if preface {
			// Garbage first: it is where the preface belongs.
			stream = append(append([]byte(nil), garbage...), stream...)
		} else {
			stream = append(stream, garbage...)
		}
		whole, wholeV := observeAll(stream, nil, preface, Received)
		chunked, chunkedV := observeAll(stream, cuts, preface, Received)
		if !equalEvents(whole, chunked) || len(wholeV) != len(chunkedV) || (len(wholeV) == 1 && wholeV[0] != chunkedV[0]) {
			t.Fatalf("chunking changes what is reported\n one chunk: %v %v\n chunked: %v %v", whole, wholeV, chunked, chunkedV)
		}
		checkAgreement(t, stream, cuts, preface)
	})
}
