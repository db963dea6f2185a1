package stats_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/grpcpulse/grpcpulse/internal/testenv"
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

// dialRaw connects a raw client to addr and completes the preface and
// SETTINGS exchange. The connection is closed when the test ends.
func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	r := newRawClient(t, c)
	r.handshake(t)
	return r
}

// handshake writes the preface and an empty SETTINGS and acknowledges the
// server's SETTINGS, as a real client would.
func (r *rawClient) handshake(t testing.TB) {
	t.Helper()
	testenv.H2Handshake(t, r.c, r.fr)
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

// serveRaw accepts HTTP/2 connections on lis, completes the server side of
// the connection preface and SETTINGS exchange on each, and hands it, with
// its accept number, to handle: a server that misbehaves in ways grpc-go's
// never does. wait closes lis and waits for every connection's handler.
func serveRaw(lis net.Listener, handle func(i int, fr *http2.Framer, c net.Conn)) (wait func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(60 * time.Second)) // a hung client fails the test, not CI
				if _, err := io.ReadFull(c, make([]byte, len(http2.ClientPreface))); err != nil {
					return
				}
				fr := http2.NewFramer(c, c)
				fr.AllowIllegalWrites = true
				if fr.WriteSettings() != nil {
					return
				}
				for {
					f, err := fr.ReadFrame()
					if err != nil {
						return
					}
					if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
						break
					}
				}
				if fr.WriteSettingsAck() != nil {
					return
				}
				handle(i, fr, c)
			}()
		}
	}()
	return func() {
		_ = lis.Close()
		wg.Wait()
	}
}

// listenTCP listens on a loopback port.
func listenTCP(t testing.TB) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}
