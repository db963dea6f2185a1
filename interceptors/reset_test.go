package interceptors_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/interceptors"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
)

// resettingServer serves one HTTP/2 connection on x/net's Framer: it
// answers the first stream's headers, then, if goAway, sends GOAWAY NO_ERROR
// "max_age", then resets the stream with code, and reads until the client
// closes. It stands for a grpc-js or grpc-java server ending the streams of
// a draining connection, which grpc-go's server never does.
func resettingServer(t *testing.T, goAway bool, code http2.ErrCode) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = lis.Close()
		wg.Wait()
	})
	wg.Go(func() {
		c, err := lis.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(testenv.Patience)) // a hung client fails the test, not CI
		if _, err := io.ReadFull(c, make([]byte, len(http2.ClientPreface))); err != nil {
			return
		}
		fr := http2.NewFramer(c, c)
		if fr.WriteSettings() != nil {
			return
		}
		var stream uint32
		for stream == 0 {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() && fr.WriteSettingsAck() != nil {
					return
				}
			case *http2.HeadersFrame:
				stream = f.StreamID
			}
		}
		var hb bytes.Buffer
		enc := hpack.NewEncoder(&hb)
		_ = enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
		_ = enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "application/grpc"})
		if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: hb.Bytes(), EndHeaders: true}) != nil {
			return
		}
		if goAway && fr.WriteGoAway(stream, http2.ErrCodeNo, []byte("max_age")) != nil {
			return
		}
		if fr.WriteRSTStream(stream, code) != nil {
			return
		}
		_, _ = io.Copy(io.Discard, c)
	})
	return lis.Addr().String()
}

// A server that resets a stream without its status (RST_STREAM NO_ERROR or
// CANCEL) after its GOAWAY is its transport going down, as grpc-js and
// grpc-java end the streams of a draining connection: the client counts
// the stream as a transport failure with the drain's reason, whatever code
// grpc-go gives the reset. The same reset without a GOAWAY is not.
func TestServerResetDuringDrain(t *testing.T) {
	for _, tt := range []struct {
		name     string
		goAway   bool
		code     http2.ErrCode
		wantCode codes.Code
		label    string // its rpc.response.status_code
		cause    string // "" for none
	}{
		{"NO_ERROR after max_age", true, http2.ErrCodeNo, codes.Internal, "INTERNAL", "max_connection_age"},
		{"CANCEL after max_age", true, http2.ErrCodeCancel, codes.Canceled, "CANCELLED", "max_connection_age"},
		{"NO_ERROR without GOAWAY", false, http2.ErrCodeNo, codes.Internal, "INTERNAL", ""},
		{"PROTOCOL_ERROR after max_age", true, http2.ErrCodeProtocol, codes.Internal, "INTERNAL", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, testenv.Setup{}) // its server only keeps the invariants' books
			s.Target = resettingServer(t, tt.goAway, tt.code)
			cc := s.Dial(t, nil, true)
			ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
			defer cancel()
			st, err := testgrpc.NewTestServiceClient(cc).StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{}, grpc.WaitForReady(true))
			if err != nil {
				t.Fatal(err)
			}
			for err == nil {
				_, err = st.Recv()
			}
			t.Logf("client application got: %v", err)
			if status.Code(err) != tt.wantCode {
				t.Fatalf("stream error = %v, want %v", err, tt.wantCode)
			}
			r, ok := interceptors.Cause(ctx, err)
			if got := map[bool]string{true: r.String()}[ok]; got != tt.cause {
				t.Errorf("Cause = %q, want %q", got, tt.cause)
			}
			want := int64(0)
			if tt.cause != "" {
				want = 1
				s.Client.WaitFailure(t, tt.cause, streamMethod, tt.label)
			}
			if n := s.Client.Failures(t); n != want {
				t.Errorf("%d transport failures, want %d\n%s", n, want, s.Client.M.Dump(t, semconv.MetricTransportFailures))
			}
			_ = cc.Close()
		})
	}
}
