package interceptors_test

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	grpcstats "google.golang.org/grpc/stats"

	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
)

// refuseFirst is a TCP front for a real server. Its first connection is
// answered by a raw HTTP/2 peer that refuses the first stream with GOAWAY
// (last-stream-id 0, so the stream was never processed); every later
// connection is relayed to the server. grpc-go retries the refused stream
// transparently on a new connection.
type refuseFirst struct {
	ln       net.Listener
	upstream string
	refused  chan struct{} // closed once the GOAWAY is written
	wg       sync.WaitGroup
}

func newRefuseFirst(t *testing.T, upstream string) *refuseFirst {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &refuseFirst{ln: ln, upstream: upstream, refused: make(chan struct{})}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for first := true; ; first = false {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			track(c)
			f.wg.Add(1)
			if first {
				go func() { defer f.wg.Done(); f.refuse(t, c) }()
				continue
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				f.wg.Done()
				_ = c.Close()
				continue
			}
			track(up)
			go func() {
				defer f.wg.Done()
				relay(c, up)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		f.wg.Wait()
	})
	return f
}

// relay copies both ways until both directions end.
func relay(a, b net.Conn) {
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(a, b)
		_ = a.Close()
		close(done)
	}()
	_, _ = io.Copy(b, a)
	_ = b.Close()
	<-done
}

func (f *refuseFirst) refuse(t *testing.T, c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(testenv.Patience))
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(c, preface); err != nil {
		t.Errorf("refuse: preface: %v", err)
		return
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Errorf("refuse: %v", err)
		return
	}
	for {
		fm, err := fr.ReadFrame()
		if err != nil {
			t.Errorf("refuse: no HEADERS before %v", err)
			return
		}
		switch fm := fm.(type) {
		case *http2.SettingsFrame:
			if !fm.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			if err := fr.WriteGoAway(0, http2.ErrCodeNo, nil); err != nil {
				t.Errorf("refuse: %v", err)
			}
			close(f.refused)
			// Read until the client closes, as a server would.
			_, _ = io.Copy(io.Discard, c)
			return
		}
	}
}

// retries counts attempts that grpc-go marked as transparent retries.
type retries struct {
	testenv.ConnCounter
	n atomic.Int64
}

func (r *retries) HandleRPC(_ context.Context, s grpcstats.RPCStats) {
	if b, ok := s.(*grpcstats.Begin); ok && b.IsTransparentRetryAttempt {
		r.n.Add(1)
	}
}

// A stream refused by a GOAWAY is retried by grpc-go on a new connection and
// succeeds: the call is not a transport failure, though its first attempt
// failed and its first connection ended with a GOAWAY.
func TestTransparentRetryIsNotAFailure(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{})
	front := newRefuseFirst(t, s.Target)
	s.Target = front.ln.Addr().String()
	r := &retries{}
	testenv.Call(t, s.Dial(t, nil, true, grpc.WithStatsHandler(r)))
	<-front.refused
	if n := r.n.Load(); n != 1 {
		t.Fatalf("transparent retry attempts = %d, want 1: the scenario did not happen", n)
	}
	s.Client.WaitClose(t, "server_drain", "peer")
	if n := s.Client.Failures(t); n != 0 {
		t.Errorf("client counted %d transport failures:\n%s", n, s.Client.M.Dump(t, semconv.MetricTransportFailures))
	}
	if n := s.Server.Failures(t); n != 0 {
		t.Errorf("server counted %d transport failures", n)
	}
}
