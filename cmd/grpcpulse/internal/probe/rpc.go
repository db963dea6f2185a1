package probe

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const (
	healthCheck = "/grpc.health.v1.Health/Check"
	healthWatch = "/grpc.health.v1.Health/Watch"
)

// healthStatus names grpc.health.v1.HealthCheckResponse.ServingStatus values.
var healthStatus = map[uint64]string{0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}

// grpcMessage frames a serialized message with gRPC's 5-byte prefix
// (uncompressed flag, big-endian length).
func grpcMessage(msg []byte) []byte {
	b := make([]byte, 5+len(msg))
	binary.BigEndian.PutUint32(b[1:5], uint32(len(msg)))
	copy(b[5:], msg)
	return b
}

// openStream starts a gRPC call on path. With msg non-nil it sends that
// message too; endStream half-closes the client side.
func (c *h2conn) openStream(path string, authority string, msg []byte, endStream bool) (*h2stream, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	id := c.next
	c.next += 2
	s := &h2stream{id: id, gotHdr: make(chan struct{}), ended: make(chan struct{}), gotData: make(chan struct{})}
	now := time.Now()
	c.mu.Lock()
	c.streams[id] = s
	c.hadStream = true
	c.openStreams++
	c.probeData = true
	c.lastData = now
	s.lastAt = now
	c.mu.Unlock()
	scheme := "http"
	if c.tls {
		scheme = "https"
	}
	c.hbuf.Reset()
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", scheme}, {":path", path}, {":authority", authority},
		{"content-type", "application/grpc"}, {"te", "trailers"}, {"user-agent", "grpcpulse-probe"},
	} {
		_ = c.henc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID: id, BlockFragment: c.hbuf.Bytes(), EndHeaders: true, EndStream: msg == nil && endStream,
	})
	if err == nil && msg != nil {
		err = c.fr.WriteData(id, endStream, grpcMessage(msg))
	}
	c.mu.Lock()
	c.touchWriteLocked(time.Now())
	c.mu.Unlock()
	return s, err
}

// cancelStream resets a stream with CANCEL.
func (c *h2conn) cancelStream(s *h2stream) {
	_ = c.write(func() error { return c.fr.WriteRSTStream(s.id, http2.ErrCodeCancel) })
	c.mu.Lock()
	c.streamDoneLocked(s, time.Now())
	c.mu.Unlock()
}

// streamView is a consistent copy of what a stream received.
type streamView struct {
	headers, trailers []hpack.HeaderField
	data              []byte
	rst               http2.ErrCode
	ended             bool
}

func (c *h2conn) view(s *h2stream) streamView {
	ended := false
	select {
	case <-s.ended:
		ended = true
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return streamView{
		headers: append([]hpack.HeaderField(nil), s.headers...), trailers: append([]hpack.HeaderField(nil), s.trailers...),
		data: append([]byte(nil), s.data...), rst: s.rst, ended: ended,
	}
}

func field(fs []hpack.HeaderField, name string) string {
	for _, f := range fs {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// grpcStatus is the grpc-status of a finished call: from the trailers, or
// from the headers of a trailers-only response.
func (v streamView) grpcStatus() string {
	if s := field(v.trailers, "grpc-status"); s != "" {
		return s
	}
	return field(v.headers, "grpc-status")
}

func (v streamView) grpcMessage() string {
	if s := field(v.trailers, "grpc-message"); s != "" {
		return s
	}
	return field(v.headers, "grpc-message")
}

// notGRPC describes why a response is not a gRPC response, or returns "".
func (v streamView) notGRPC() string {
	st := field(v.headers, ":status")
	ct := field(v.headers, "content-type")
	if st != "200" || !strings.HasPrefix(ct, "application/grpc") {
		return fmt.Sprintf(":status %s, content-type %q", st, ct)
	}
	return ""
}

// healthServing decodes the serving status of the first
// HealthCheckResponse in data (field 1, a varint).
func healthServing(data []byte) string {
	if len(data) < 5 {
		return ""
	}
	n := binary.BigEndian.Uint32(data[1:5])
	msg := data[5:]
	if uint32(len(msg)) < n {
		return ""
	}
	msg = msg[:n]
	if len(msg) == 0 {
		return "UNKNOWN" // every field at its zero value
	}
	if msg[0] != 0x08 || len(msg) < 2 {
		return ""
	}
	v, k := binary.Uvarint(msg[1:])
	if k <= 0 {
		return ""
	}
	if s, ok := healthStatus[v]; ok {
		return s
	}
	return fmt.Sprintf("status %d", v)
}

// unary runs a unary call with an empty request message and waits for it
// to end.
func (c *h2conn) unary(ctx context.Context, path, authority string, wait time.Duration) (streamView, error) {
	s, err := c.openStream(path, authority, []byte{}, true)
	if err != nil {
		return streamView{}, err
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-s.ended:
		return c.view(s), nil
	case <-t.C:
		v := c.view(s)
		c.cancelStream(s)
		return v, fmt.Errorf("no complete response within %s", wait)
	case <-ctx.Done():
		return c.view(s), ctx.Err()
	}
}

// grpcCodeName names a grpc-status value.
func grpcCodeName(s string) string {
	names := map[string]string{
		"0": "OK", "1": "CANCELLED", "2": "UNKNOWN", "3": "INVALID_ARGUMENT", "4": "DEADLINE_EXCEEDED",
		"5": "NOT_FOUND", "6": "ALREADY_EXISTS", "7": "PERMISSION_DENIED", "8": "RESOURCE_EXHAUSTED",
		"9": "FAILED_PRECONDITION", "10": "ABORTED", "11": "OUT_OF_RANGE", "12": "UNIMPLEMENTED",
		"13": "INTERNAL", "14": "UNAVAILABLE", "15": "DATA_LOSS", "16": "UNAUTHENTICATED",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return "status " + s
}
