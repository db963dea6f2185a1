package stats_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// rawClient is an HTTP/2 client on x/net's Framer over any net.Conn, for
// peers that misbehave in ways grpc-go's client never does.
type rawClient struct {
	c  net.Conn
	fr *http2.Framer
}

func newRawClient(t testing.TB, c net.Conn) *rawClient {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second)) // a hung server fails the test, not CI
	fr := http2.NewFramer(c, c)
	fr.AllowIllegalWrites = true
	fr.AllowIllegalReads = true
	return &rawClient{c: c, fr: fr}
}

// handshake writes the preface and an empty SETTINGS and acknowledges the
// server's SETTINGS, as a real client would.
func (r *rawClient) handshake(t testing.TB) {
	t.Helper()
	if _, err := io.WriteString(r.c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := r.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading server SETTINGS: %v", err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			if err := r.fr.WriteSettingsAck(); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
}

// goAwayInfo is a GOAWAY a raw peer read, copied out of the Framer's buffer.
type goAwayInfo struct {
	code  http2.ErrCode
	debug string
}

// readUntilEnd reads frames until the connection ends and returns the first
// GOAWAY among them, or nil.
func (r *rawClient) readUntilEnd() *goAwayInfo {
	var first *goAwayInfo
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				continue
			}
			return first
		}
		if g, ok := f.(*http2.GoAwayFrame); ok && first == nil {
			first = &goAwayInfo{code: g.ErrCode, debug: string(g.DebugData())}
		}
	}
}
