package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http2"
)

// event is one thing a Sink was told, in a comparable form.
type event struct {
	kind   string // "ping", "goaway", "rst"
	dir    Direction
	ack    bool
	data   [8]byte
	last   uint32
	code   uint32
	debug  string // copied: the Sink's slice is only valid during the call
	stream uint32
}

func (e event) String() string {
	switch e.kind {
	case "ping":
		return fmt.Sprintf("PING{%v ack=%v data=%x}", e.dir, e.ack, e.data)
	case "goaway":
		return fmt.Sprintf("GOAWAY{%v last=%d code=%#x debug=%q}", e.dir, e.last, e.code, e.debug)
	case "rst":
		return fmt.Sprintf("RST_STREAM{%v stream=%d code=%#x}", e.dir, e.stream, e.code)
	}
	return "?" + e.kind
}

// recorder is a Sink that records everything, safe for concurrent use.
type recorder struct {
	mu         sync.Mutex
	events     []event
	ends       []End
	violations []violationEvent
	// settings counts SETTINGS received, closed local Closes.
	settings, closed int
}

// violationEvent is a reported violation and how many events preceded it.
type violationEvent struct {
	dir   Direction
	v     Violation
	after int
}

func (r *recorder) Ping(dir Direction, ack bool, data [8]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{kind: "ping", dir: dir, ack: ack, data: data})
}

func (r *recorder) GoAway(dir Direction, last, code uint32, debug []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{kind: "goaway", dir: dir, last: last, code: code, debug: string(debug)})
}

func (r *recorder) RSTStream(dir Direction, stream, code uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{kind: "rst", dir: dir, stream: stream, code: code})
}

func (r *recorder) Violation(dir Direction, v Violation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.violations = append(r.violations, violationEvent{dir: dir, v: v, after: len(r.events)})
}

func (r *recorder) Settings() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.settings++
}

func (r *recorder) Closed() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed++
}

func (r *recorder) End(e End) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ends = append(r.ends, e)
}

func (r *recorder) snapshot() ([]event, []End) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events...), append([]End(nil), r.ends...)
}

// countingSink counts events and allocates nothing. Safe for concurrent use.
type countingSink struct {
	pings, goaways, rsts, ends atomic.Int64
	violations                 atomic.Int64
	debugBytes                 atomic.Int64
}

func (c *countingSink) Ping(Direction, bool, [8]byte) { c.pings.Add(1) }
func (c *countingSink) GoAway(_ Direction, _, _ uint32, debug []byte) {
	c.goaways.Add(1)
	c.debugBytes.Add(int64(len(debug)))
}
func (c *countingSink) RSTStream(Direction, uint32, uint32) { c.rsts.Add(1) }
func (c *countingSink) Violation(Direction, Violation)      { c.violations.Add(1) }
func (c *countingSink) End(End)                             { c.ends.Add(1) }
func (c *countingSink) Settings()                           {}
func (c *countingSink) Closed()                             {}

// oracleEvents reads stream with x/net/http2's Framer and returns the
// PING/GOAWAY/RST_STREAM frames it returns, in order, up to its first error,
// which is returned too (io.EOF for a clean end). GOAWAY debug data is
// truncated to MaxDebugData as the observer reports it.
func oracleEvents(stream []byte, preface bool, dir Direction) ([]event, error) {
	evs, err, _ := oracleRead(stream, preface, dir)
	return evs, err
}

// oracleRead is oracleEvents that also says whether the observer must report
// exactly the oracle's events, nothing more: when the input ended cleanly or
// in the middle of a frame (or preface), when the preface was wrong, and when
// the framer rejected a PING, GOAWAY or RST_STREAM frame, which the observer
// interprets and so must not be more lenient about. Otherwise (the framer
// rejected a frame the observer only skips) the observer may go on.
func oracleRead(stream []byte, preface bool, dir Direction) (evs []event, err error, strict bool) {
	r := bytes.NewReader(stream)
	if preface {
		var p [len(clientPreface)]byte
		if _, err := io.ReadFull(r, p[:]); err != nil {
			return nil, err, true
		}
		if string(p[:]) != clientPreface {
			return nil, errors.New("bad preface"), true
		}
	}
	fr := http2.NewFramer(io.Discard, r)
	fr.SetMaxReadFrameSize(1<<24 - 1)
	if dir == Received {
		// The observer validates what it receives as grpc-go does, whose
		// framer refuses frames over MaxFrameSize.
		fr.SetMaxReadFrameSize(MaxFrameSize)
	}
	for {
		fh, err := fr.ReadFrameHeader()
		if err != nil {
			// A short header is truncation; anything else (frame order) is
			// a rule the observer does not check.
			return evs, err, err == io.EOF || err == io.ErrUnexpectedEOF
		}
		truncated := uint32(r.Len()) < fh.Length
		f, err := fr.ReadFrameForHeader(fh)
		if err != nil {
			switch fh.Type {
			case http2.FramePing, http2.FrameGoAway, http2.FrameRSTStream:
				strict = true
			}
			return evs, err, strict || truncated
		}
		switch f := f.(type) {
		case *http2.PingFrame:
			evs = append(evs, event{kind: "ping", dir: dir, ack: f.IsAck(), data: f.Data})
		case *http2.GoAwayFrame:
			d := f.DebugData()
			if len(d) > MaxDebugData {
				d = d[:MaxDebugData]
			}
			evs = append(evs, event{kind: "goaway", dir: dir, last: f.LastStreamID, code: uint32(f.ErrCode), debug: string(d)})
		case *http2.RSTStreamFrame:
			evs = append(evs, event{kind: "rst", dir: dir, stream: f.StreamID, code: uint32(f.ErrCode)})
		}
	}
}

// chunker turns cut bytes into chunk sizes: a byte below 0x80 gives a small
// chunk of 1..16 bytes (0x00 is a 1-byte chunk), a byte from 0x80 a large one
// of 1..8129 bytes. The cuts are used cyclically; no cuts means one chunk.
func chunkSize(c byte) int {
	if c < 0x80 {
		return int(c%16) + 1
	}
	return 1 + int(c-0x80)*64
}

// feedChunked feeds stream to p in the pieces cuts describes.
func feedChunked(p *parser, stream, cuts []byte, s Sink) {
	if len(cuts) == 0 {
		p.feed(stream, s)
		return
	}
	for i := 0; len(stream) > 0; i++ {
		n := min(chunkSize(cuts[i%len(cuts)]), len(stream))
		// Hand the parser a slice with no spare capacity: it must never look
		// past the bytes it was given.
		p.feed(stream[:n:n], s)
		stream = stream[n:]
	}
}

// observe runs a fresh parser over stream, chunked by cuts.
func observe(stream, cuts []byte, preface bool, dir Direction) []event {
	p := newParser(dir, preface)
	rec := &recorder{}
	feedChunked(&p, stream, cuts, rec)
	evs, _ := rec.snapshot()
	return evs
}

func equalEvents(a, b []event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
