package chaos

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"

	"github.com/grpcpulse/grpcpulse/internal/testenv"
)

// malformedFrame is a frame that breaks HTTP/2 in a way grpc-go's framer
// rejects as a connection error, and grpcpulse's frame observer sees.
type malformedFrame struct {
	name  string
	write func(fr *http2.Framer) error
}

var malformedFrames = []malformedFrame{
	{"ping_length_7", func(fr *http2.Framer) error {
		return fr.WriteRawFrame(http2.FramePing, 0, 0, make([]byte, 7))
	}},
	{"ping_on_a_stream", func(fr *http2.Framer) error {
		return fr.WriteRawFrame(http2.FramePing, 0, 1, make([]byte, 8))
	}},
	{"window_update_length_3", func(fr *http2.Framer) error {
		return fr.WriteRawFrame(http2.FrameWindowUpdate, 0, 0, []byte{0, 0, 1})
	}},
	{"settings_length_5", func(fr *http2.Framer) error {
		return fr.WriteRawFrame(http2.FrameSettings, 0, 0, make([]byte, 5))
	}},
	{"rst_stream_on_stream_0", func(fr *http2.Framer) error {
		return fr.WriteRSTStream(0, http2.ErrCodeCancel)
	}},
	{"priority_length_4", func(fr *http2.Framer) error {
		return fr.WriteRawFrame(http2.FramePriority, 0, 1, make([]byte, 4))
	}},
	{"data_on_stream_0", func(fr *http2.Framer) error {
		return fr.WriteData(0, false, []byte("x"))
	}},
	{"continuation_without_headers", func(fr *http2.Framer) error {
		return fr.WriteContinuation(1, true, []byte{0x88})
	}},
	{"data_over_max_frame_size", func(fr *http2.Framer) error {
		return fr.WriteRawFrame(http2.FrameData, 0, 1, make([]byte, 16385))
	}},
}

// frameBytes returns malformed frame i as bytes.
func frameBytes(t testing.TB, i int) []byte {
	var b bytes.Buffer
	fr := http2.NewFramer(&b, nil)
	fr.AllowIllegalWrites = true
	if err := malformedFrames[i].write(fr); err != nil {
		t.Fatalf("frame %s: %v", malformedFrames[i].name, err)
	}
	return b.Bytes()
}

// rawClient is an HTTP/2 client on x/net's Framer: a peer that sends what
// grpc-go's client never would.
type rawClient struct {
	c    net.Conn
	fr   *http2.Framer
	done chan struct{} // closed when the reader has seen the connection end
}

// dialRaw connects to addr, exchanges the preface and SETTINGS, and reads
// whatever the server sends until the connection ends.
func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(testenv.Patience)) // a hung server fails the trial, not the run
	r := &rawClient{c: c, fr: http2.NewFramer(c, c), done: make(chan struct{})}
	r.fr.AllowIllegalWrites = true
	testenv.H2Handshake(t, c, r.fr)
	go func() {
		defer close(r.done)
		for {
			if _, err := r.fr.ReadFrame(); err != nil {
				var se http2.StreamError
				if errors.As(err, &se) {
					continue
				}
				return
			}
		}
	}()
	return r
}

// openStream starts StreamingOutputCall on stream 1, named name, and
// half-closes it: the Go server's handler then holds it.
func (r *rawClient) openStream(t *testing.T, name string) {
	t.Helper()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", "/grpc.testing.TestService/StreamingOutputCall"},
		{":authority", "chaos"}, {"content-type", "application/grpc"}, {"te", "trailers"}, {streamKey, name},
	} {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	req, err := proto.Marshal(&testgrpc.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	msg := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(req)))
	if err := r.fr.WriteData(1, true, append(msg, req...)); err != nil {
		t.Fatal(err)
	}
}
