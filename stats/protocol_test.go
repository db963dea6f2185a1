package stats_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
)

// validHeaders is an HPACK block of a real gRPC request.
func validHeaders(t testing.TB) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", "/grpc.testing.TestService/EmptyCall"},
		{":authority", "x"}, {"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// checkServerVerdict waits until the server recorded exactly one close and
// checks it against the wanted reason and initiator (and A94 label, if
// given); a server that never stopped must never record server_shutdown.
func checkServerVerdict(t *testing.T, s *testenv.Scenario, reason, initiator, disconnect string) {
	t.Helper()
	testenv.Eventually(t, func() string {
		if s.Server.Closes(t) > 0 {
			return ""
		}
		return "no close recorded yet"
	})
	got := s.Server.Closes(t, semconv.CloseReason.String(reason), semconv.CloseInitiator.String(initiator))
	if disconnect != "" {
		got = s.Server.Closes(t, semconv.CloseReason.String(reason), semconv.CloseInitiator.String(initiator),
			semconv.DisconnectError.String(disconnect))
	}
	if got != 1 || s.Server.Closes(t) != 1 {
		t.Errorf("want one close %s/%s %s\n%s", reason, initiator, disconnect, s.Server.M.Dump(t, semconv.MetricCloses))
	}
	if n := s.Server.Closes(t, semconv.CloseReason.String("server_shutdown")); n != 0 {
		t.Errorf("server_shutdown recorded by a server that never stopped\n%s", s.Server.M.Dump(t, semconv.MetricCloses))
	}
}

// A raw HTTP/2 client breaks the protocol against a bundled grpc-go server,
// which closes the transport: with no GOAWAY when its framer rejects a frame,
// with GOAWAY PROTOCOL_ERROR when the headers make no sense. The server
// records protocol_error where the observer saw the violation, unknown where
// only grpc-go's HPACK decoder or a payload check did, and never
// server_shutdown.
func TestProtocolViolationsAgainstServer(t *testing.T) {
	hdrs := validHeaders(t)
	tests := []struct {
		name       string
		send       func(r *rawClient) error
		reason     string
		disconnect string
	}{
		{"PING of length 7", func(r *rawClient) error {
			return r.fr.WriteRawFrame(http2.FramePing, 0, 0, make([]byte, 7))
		}, "protocol_error", "unknown"},
		{"PING on a stream", func(r *rawClient) error {
			return r.fr.WriteRawFrame(http2.FramePing, 0, 1, make([]byte, 8))
		}, "protocol_error", "unknown"},
		{"DATA over SETTINGS_MAX_FRAME_SIZE", func(r *rawClient) error {
			return r.fr.WriteRawFrame(http2.FrameData, 0, 1, make([]byte, 16385))
		}, "protocol_error", "unknown"},
		{"DATA on stream 0", func(r *rawClient) error {
			return r.fr.WriteData(0, false, []byte("x"))
		}, "protocol_error", "unknown"},
		{"DATA padding longer than its payload", func(r *rawClient) error {
			return r.fr.WriteRawFrame(http2.FrameData, http2.FlagDataPadded, 1, []byte{10, 'x', 'y'})
		}, "protocol_error", "unknown"},
		{"CONTINUATION without HEADERS", func(r *rawClient) error {
			return r.fr.WriteContinuation(1, true, hdrs)
		}, "protocol_error", "unknown"},
		{"DATA inside a header block", func(r *rawClient) error {
			if err := r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hdrs[:3]}); err != nil {
				return err
			}
			return r.fr.WriteData(1, false, []byte("x"))
		}, "protocol_error", "unknown"},
		{"HEADERS on stream 0", func(r *rawClient) error {
			return r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 0, BlockFragment: hdrs, EndHeaders: true})
		}, "protocol_error", "unknown"},
		{"WINDOW_UPDATE of length 3", func(r *rawClient) error {
			return r.fr.WriteRawFrame(http2.FrameWindowUpdate, 0, 0, []byte{0, 0, 1})
		}, "protocol_error", "unknown"},
		{"SETTINGS of length 5", func(r *rawClient) error {
			return r.fr.WriteRawFrame(http2.FrameSettings, 0, 0, make([]byte, 5))
		}, "protocol_error", "unknown"},
		{"RST_STREAM on stream 0", func(r *rawClient) error {
			return r.fr.WriteRSTStream(0, http2.ErrCodeCancel)
		}, "protocol_error", "unknown"},
		{"PRIORITY of length 4", func(r *rawClient) error {
			return r.fr.WriteRawFrame(http2.FramePriority, 0, 1, make([]byte, 4))
		}, "protocol_error", "unknown"},
		// grpc-go's operateHeaders refuses an even (server-initiated)
		// stream id and answers GOAWAY PROTOCOL_ERROR.
		{"HEADERS on an even stream", func(r *rawClient) error {
			return r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 2, BlockFragment: hdrs, EndHeaders: true})
		}, "protocol_error", "GOAWAY PROTOCOL_ERROR"},
		{"HEADERS reusing a closed stream id", func(r *rawClient) error {
			if err := r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: hdrs, EndHeaders: true}); err != nil {
				return err
			}
			return r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hdrs, EndHeaders: true})
		}, "protocol_error", "GOAWAY PROTOCOL_ERROR"},
		// Violations only a payload or the HPACK decoder shows: grpc-go's
		// reader closes the transport itself, which is all the observer
		// can tell.
		{"HEADERS with garbage HPACK", func(r *rawClient) error {
			return r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0xff, 0xff, 0xff, 0xff, 0xff}, EndHeaders: true})
		}, "unknown", "unknown"},
		{"WINDOW_UPDATE of 0 on the connection", func(r *rawClient) error {
			return r.fr.WriteRawFrame(http2.FrameWindowUpdate, 0, 0, []byte{0, 0, 0, 0})
		}, "unknown", "unknown"},
		{"SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1", func(r *rawClient) error {
			return r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 31})
		}, "unknown", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, testenv.Setup{})
			r := dialRaw(t, s.Target)
			if err := tt.send(r); err != nil {
				t.Fatal(err)
			}
			r.readUntilEnd() // grpc-go closes the connection
			checkServerVerdict(t, s, tt.reason, "local", tt.disconnect)
		})
	}
}

// A bad preface ends the connection before grpc-go has a transport: no
// stats.ConnBegin, so no close is recorded (and the journal is freed, which
// start's end-of-test check asserts).
func TestProtocolBadPreface(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{})
	c, err := net.Dial("tcp", s.Target)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.WriteString(c, "PRI * HTTP/1.1\r\n\r\nSM\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, c) // until grpc-go hangs up
	time.Sleep(100 * time.Millisecond)
	if n := s.Server.Closes(t); n != 0 {
		t.Errorf("a connection without a transport recorded a close\n%s", s.Server.M.Dump(t, semconv.MetricCloses))
	}
}

// DATA on a stream that was never opened is not a connection error for
// grpc-go: it drops the frame and goes on. The verdict is whatever ends the
// connection afterwards, here the raw client's own GOAWAY.
func TestProtocolDataOnIdleStream(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{})
	r := dialRaw(t, s.Target)
	if err := r.fr.WriteData(5, false, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := r.fr.WriteGoAway(0, http2.ErrCodeNo, []byte("client transport shutdown")); err != nil {
		t.Fatal(err)
	}
	_ = r.c.(*net.TCPConn).CloseWrite()
	r.readUntilEnd()
	checkServerVerdict(t, s, "client_shutdown", "peer", "GOAWAY NO_ERROR")
}

// The peer must not choose the verdict: a client's GOAWAY is read as the
// client's, whatever its debug data says.
func TestProtocolClientGoAwayRole(t *testing.T) {
	tests := []struct {
		name       string
		code       http2.ErrCode
		debug      string
		reason     string
		disconnect string
	}{
		{"NO_ERROR max_age", http2.ErrCodeNo, "max_age", "client_shutdown", "GOAWAY NO_ERROR"},
		{"NO_ERROR max_idle", http2.ErrCodeNo, "max_idle", "client_shutdown", "GOAWAY NO_ERROR"},
		{"NO_ERROR graceful_stop", http2.ErrCodeNo, "graceful_stop", "client_shutdown", "GOAWAY NO_ERROR"},
		{"ENHANCE_YOUR_CALM too_many_pings", http2.ErrCodeEnhanceYourCalm, "too_many_pings", "goaway", "GOAWAY ENHANCE_YOUR_CALM"},
		{"PROTOCOL_ERROR", http2.ErrCodeProtocol, "max_age", "protocol_error", "GOAWAY PROTOCOL_ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, testenv.Setup{})
			r := dialRaw(t, s.Target)
			if err := r.fr.WriteGoAway(0, tt.code, []byte(tt.debug)); err != nil {
				t.Fatal(err)
			}
			_ = r.c.(*net.TCPConn).CloseWrite()
			r.readUntilEnd()
			checkServerVerdict(t, s, tt.reason, "peer", tt.disconnect)
			if n := s.Server.M.Sum(t, semconv.MetricGoAways, semconv.GoAwayDirection.String("received"),
				semconv.GoAwayReason.String("other")); n != 1 {
				t.Errorf("want the received GOAWAY counted with reason other\n%s", s.Server.M.Dump(t, semconv.MetricGoAways))
			}
			for _, sp := range s.Server.EndedSpans("grpc.transport") {
				for _, ev := range sp.Events() {
					for _, a := range ev.Attributes {
						if a.Key == semconv.GoAwayReason && a.Value.AsString() != "other" {
							t.Errorf("span event %s has %s=%s, want other", ev.Name, a.Key, a.Value.AsString())
						}
					}
				}
			}
		})
	}
}

// rawFrameServer accepts HTTP/2 connections on 127.0.0.1, completes the
// SETTINGS exchange and then calls send, standing in for a server that
// breaks the protocol against a bundled grpc-go client.
func rawFrameServer(t *testing.T, send func(fr *http2.Framer) error) (addr string, wait func()) {
	lis := listenTCP(t)
	return lis.Addr().String(), serveRaw(lis, func(_ int, fr *http2.Framer, c net.Conn) {
		if send(fr) == nil {
			_, _ = io.Copy(io.Discard, c)
		}
	})
}

// The same on the client: a server that breaks HTTP/2 gets protocol_error
// where the observer saw it, unknown where only grpc-go's decoder did, and
// never client_shutdown, which the client's own shutdown GOAWAY would
// otherwise suggest.
func TestProtocolViolationsAgainstClient(t *testing.T) {
	tests := []struct {
		name   string
		send   func(fr *http2.Framer) error
		reason string
	}{
		{"PING of length 7", func(fr *http2.Framer) error {
			return fr.WriteRawFrame(http2.FramePing, 0, 0, make([]byte, 7))
		}, "protocol_error"},
		{"frame over SETTINGS_MAX_FRAME_SIZE", func(fr *http2.Framer) error {
			return fr.WriteRawFrame(0x21, 0, 0, make([]byte, 20000))
		}, "protocol_error"},
		{"HEADERS with garbage HPACK", func(fr *http2.Framer) error {
			return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0xff, 0xff, 0xff, 0xff}, EndHeaders: true})
		}, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, testenv.Setup{})
			addr, wait := rawFrameServer(t, tt.send)
			s.Target = addr
			cc := s.Dial(t, nil, true)
			cc.Connect()
			// The channel reconnects after each failure; every transport
			// that ended before the channel was closed met the same server.
			testenv.Eventually(t, func() string {
				if s.Client.Closes(t) > 0 {
					return ""
				}
				return "no close recorded yet"
			})
			// One collection: the channel may record another close
			// between two reads.
			for _, p := range s.Client.M.Points(t, semconv.MetricCloses) {
				r, _ := p.Attrs.Value(semconv.CloseReason)
				i, _ := p.Attrs.Value(semconv.CloseInitiator)
				if r.AsString() != tt.reason || i.AsString() != "local" {
					t.Errorf("a close %s/%s, want every close %s/local", r.AsString(), i.AsString(), tt.reason)
				}
			}
			_ = cc.Close()
			wait()
		})
	}
}
