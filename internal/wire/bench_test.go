package wire

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// grpcStream builds what a gRPC server writes for a run of unary RPCs:
// response HEADERS, a DATA frame carrying a length-prefixed message of
// payload bytes, trailers, with connection and stream WINDOW_UPDATEs and
// BDP PING/PING-ACK pairs interleaved the way grpc-go sends them. It stops
// once it has at least minFrames frames and minBytes bytes, and always ends on
// a frame boundary.
func grpcStream(tb testing.TB, minFrames, minBytes, payload int, preface bool) (stream []byte, frames int) {
	tb.Helper()
	var buf, hbuf bytes.Buffer
	if preface {
		buf.WriteString(clientPreface)
	}
	fr := http2.NewFramer(&buf, nil)
	enc := hpack.NewEncoder(&hbuf)
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
		frames++
	}
	headers := func(id uint32, end bool, fields ...string) {
		hbuf.Reset()
		for i := 0; i < len(fields); i += 2 {
			enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		must(fr.WriteHeaders(http2.HeadersFrameParam{
			StreamID: id, BlockFragment: hbuf.Bytes(), EndHeaders: true, EndStream: end,
		}))
	}
	must(fr.WriteSettings(grpcSettings...))
	must(fr.WriteSettingsAck())
	msg := make([]byte, payload)
	msg[0] = 0 // uncompressed
	msg[1], msg[2], msg[3], msg[4] = byte((payload-5)>>24), byte((payload-5)>>16), byte((payload-5)>>8), byte(payload-5)
	for i := 5; i < payload; i++ {
		msg[i] = byte(i * 7)
	}
	for rpc := 0; frames < minFrames || buf.Len() < minBytes; rpc++ {
		id := uint32(2*rpc + 1)
		headers(id, false, ":status", "200", "content-type", "application/grpc")
		must(fr.WriteData(id, false, msg))
		headers(id, true, "grpc-status", "0", "grpc-message", "", "x-rpc", strconv.Itoa(rpc))
		must(fr.WriteWindowUpdate(id, uint32(payload)))
		if rpc%4 == 3 {
			must(fr.WriteWindowUpdate(0, uint32(4*payload)))
		}
		if rpc%8 == 7 {
			must(fr.WritePing(false, BDPPingData))
			must(fr.WritePing(true, BDPPingData))
		}
	}
	return buf.Bytes(), frames
}

func buildGRPCStream(tb testing.TB, minBytes, payload int, preface bool) []byte {
	s, _ := grpcStream(tb, 0, minBytes, payload, preface)
	return s
}

const feedChunk = 4 << 10

func feedInChunks(p *parser, stream []byte, s Sink) {
	for len(stream) > 0 {
		n := min(len(stream), feedChunk)
		p.feed(stream[:n], s)
		stream = stream[n:]
	}
}

func BenchmarkObserverFeed(b *testing.B) {
	for _, dir := range []Direction{Received, Sent} {
		b.Run(dir.String(), func(b *testing.B) { benchmarkFeed(b, dir) })
	}
}

func benchmarkFeed(b *testing.B, dir Direction) {
	stream, frames := grpcStream(b, 1000, 0, 1024, false)
	sink := &countingSink{}
	p := newParser(dir, false)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		feedInChunks(&p, stream, sink)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(frames), "ns/frame")
	b.ReportMetric(float64(frames), "frames/op")
	if p.inert || sink.pings.Load() == 0 {
		b.Fatalf("parser lost track of the stream (inert=%v, pings=%d)", p.inert, sink.pings.Load())
	}
}

func TestFeedDoesNotAllocate(t *testing.T) {
	stream, frames := grpcStream(t, 1000, 0, 1024, true)
	// Exercise every reporting path: add RST_STREAM and GOAWAY frames, one
	// with debug data beyond MaxDebugData.
	var extra bytes.Buffer
	fr := http2.NewFramer(&extra, nil)
	fr.WriteRSTStream(1, http2.ErrCodeCancel)
	fr.WriteGoAway(1<<31-1, http2.ErrCodeEnhanceYourCalm, []byte("too_many_pings"))
	fr.WriteGoAway(5, http2.ErrCodeNo, bytes.Repeat([]byte("d"), 1000))
	stream = append(stream, extra.Bytes()...)

	sink := &countingSink{}
	p := newParser(Sent, true)
	feedInChunks(&p, stream[:len(clientPreface)], sink) // the preface only once
	body := stream[len(clientPreface):]
	for _, chunk := range []int{1, 9, 100, feedChunk, len(body)} {
		allocs := testing.AllocsPerRun(20, func() {
			for b := body; len(b) > 0; {
				n := min(len(b), chunk)
				p.feed(b[:n], sink)
				b = b[n:]
			}
		})
		if allocs != 0 {
			t.Errorf("feeding %d frames in %d-byte chunks: %v allocs/run; want 0", frames, chunk, allocs)
		}
	}
	if p.inert || sink.rsts.Load() == 0 || sink.goaways.Load() == 0 || sink.pings.Load() == 0 {
		t.Fatalf("parser lost track (inert=%v pings=%d goaways=%d rsts=%d)",
			p.inert, sink.pings.Load(), sink.goaways.Load(), sink.rsts.Load())
	}
}

// BenchmarkConnCopy moves the same 4 MiB stream of frames over a loopback TCP
// connection, through bare conns and through wire.Conns on both ends (the
// writer observes Sent, the reader Received), in 32 KiB writes and reads as
// grpc-go's buffered framer does: each write from a 32 KiB buffer the frames
// were just copied into, as grpc-go's framer writes from the buffer it just
// framed them in.
func BenchmarkConnCopy(b *testing.B) {
	stream := buildGRPCStream(b, 4<<20, 1024, false)
	for _, observed := range []bool{false, true} {
		name := "bare"
		if observed {
			name = "observed"
		}
		b.Run(name, func(b *testing.B) {
			c, s := tcpPair(b)
			var w, r net.Conn = c, s
			if observed {
				w = NewConn(c, true, &countingSink{})
				r = NewConn(s, false, &countingSink{})
			}
			// The preface once, outside the measurement.
			if _, err := w.Write([]byte(clientPreface)); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(r, make([]byte, len(clientPreface))); err != nil {
				b.Fatal(err)
			}

			start := make(chan struct{})
			done := make(chan error)
			go func() {
				// grpc-go's framer writes frames into a 32 KiB buffer and
				// writes the buffer to the conn when full: what is written
				// was just produced, and is in the CPU's cache.
				wbuf := make([]byte, 32<<10)
				for range start {
					var err error
					for p := stream; len(p) > 0 && err == nil; {
						n := copy(wbuf, p)
						_, err = w.Write(wbuf[:n])
						p = p[n:]
					}
					done <- err
				}
			}()
			defer close(start)

			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(stream)))
			b.ResetTimer()
			for range b.N {
				start <- struct{}{}
				for got := 0; got < len(stream); {
					n, err := r.Read(buf)
					if err != nil {
						b.Fatal(err)
					}
					got += n
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if observed {
				if wc, rc := w.(*Conn), r.(*Conn); wc.wr.inert || rc.rd.inert {
					b.Fatal("observer lost track of the stream")
				}
			}
		})
	}
}
