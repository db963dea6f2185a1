package stats_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats"
)

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// What a flood connection sends before it goes away: never a whole HTTP/2
// preface, so grpc-go never makes it a transport.
var floodKinds = []struct {
	name string
	send []byte
	// grpc-go closes it itself: it is not HTTP/2.
	refused bool
}{
	{name: "nothing"},
	{name: "half the client preface", send: []byte(http2.ClientPreface[:12])},
	{name: "the client preface", send: []byte(http2.ClientPreface)},
	{name: "the preface and part of a SETTINGS frame",
		send: append([]byte(http2.ClientPreface), 0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 4)},
	{name: "HTTP/1.1", send: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), refused: true},
}

// A flood of connections that never become transports, as port scanners
// and broken clients make them (TCP connected, the handshake of the wrapped
// credentials done, the HTTP/2 preface never finished), holds nothing once
// they have closed: each journal, with the observed conn it holds, is freed
// when its conn closes, not when the unclaimed timer fires, which the test
// puts an hour away. Transports made during the flood, including ones whose
// client vanishes right after its preface, so that grpc-go may tag them
// after their conn ended, are each counted once with the reason their
// journal gives (the end-of-test check counts them against an independent
// counter).
func TestUnclaimedFloodIsFreedAtClose(t *testing.T) {
	var (
		mu       sync.Mutex
		reported []error
	)
	s := start(t, testenv.Setup{HandlerOpts: []options.HandlerOption{options.WithErrorHandler(func(err error) {
		mu.Lock()
		reported = append(reported, err)
		mu.Unlock()
	})}})
	stats.SetUnclaimedGrace(s.Server.H, time.Hour)
	const n, transports = 2000, 20

	// The first flood leaves behind what any Go server keeps of one: the
	// runtime keeps the goroutines of its peak for reuse, and grpc-go's
	// pools their buffers. What the second leaves is what it costs.
	// The spans the test records of the transports are not what is
	// measured.
	heap := func() uint64 {
		s.Server.Spans.Reset()
		s.Client.Spans.Reset()
		return liveHeap()
	}
	flood(t, s, n, transports, heap)
	base := heap()
	open := flood(t, s, n, transports, heap)
	var after uint64
	testenv.Eventually(t, func() string {
		after = heap()
		// Held, the flood's journals and observed conns cost more than a
		// kilobyte each: a tenth of that per connection is what the rest
		// of the test process may move by in the meantime.
		if after < base+n*128 {
			return ""
		}
		return fmt.Sprintf("after the flood closed, the live heap is %d bytes above the baseline: %d per flood connection",
			int64(after)-int64(base), (int64(after)-int64(base))/n)
	})
	t.Logf("live heap above the baseline: %d bytes with %d flood connections open, %d once they closed",
		int64(open)-int64(base), n, int64(after)-int64(base))

	// Every transport found its journal, however late grpc-go tagged it.
	testenv.Eventually(t, func() string {
		if b, e := s.Server.Counter.Begins.Load(), s.Server.Counter.Ends.Load(); b != e || s.Server.Closes(t) != e {
			return fmt.Sprintf("%d transports began, %d ended, %d closes recorded", b, e, s.Server.Closes(t))
		}
		return ""
	})
	if u := s.Server.Closes(t, semconv.CloseReason.String("unknown")); u != 0 {
		t.Errorf("%d transports were recorded without their journal\n%s", u, s.Server.M.Dump(t, semconv.MetricCloses))
	}
	if b := s.Server.Counter.Begins.Load(); b < 2*transports {
		t.Errorf("%d transports began, want at least the %d clients that called", b, 2*transports)
	}
	// Nor did a freed journal make a transport look unobserved.
	mu.Lock()
	defer mu.Unlock()
	if len(reported) > 0 {
		t.Errorf("%d errors reported, first: %v", len(reported), reported[0])
	}
}

// flood opens n connections to s's server of the kinds of floodKinds, with
// transports clients that call and close and as many raw clients that
// vanish after their preface beside them; waits until the server holds
// the journals of the flood's open connections; closes the flood, and
// waits until the server holds no journal. It returns the live heap, as
// heap measures it, with the flood open.
func flood(t *testing.T, s *testenv.Scenario, n, transports int, heap func() uint64) (open uint64) {
	t.Helper()
	conns := make([]net.Conn, n)
	held := 0 // flood conns grpc-go keeps open, waiting for the rest of a preface
	for i := range conns {
		if !floodKinds[i%len(floodKinds)].refused {
			held++
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan int)
		fail = func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }
	)
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	for range 16 {
		wg.Go(func() {
			for i := range next {
				c, err := net.Dial("tcp", s.Target)
				if err != nil {
					fail(err)
					continue
				}
				conns[i] = c
				k := floodKinds[i%len(floodKinds)]
				if _, err := c.Write(k.send); err != nil {
					fail(fmt.Errorf("%s: %w", k.name, err))
				}
			}
		})
	}
	for range transports {
		wg.Go(func() {
			cc, err := grpc.NewClient(s.Target, s.DialOptions()...)
			if err != nil {
				fail(err)
				return
			}
			defer cc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
			defer cancel()
			if _, err := testgrpc.NewTestServiceClient(cc).EmptyCall(ctx, &testgrpc.Empty{}, grpc.WaitForReady(true)); err != nil {
				fail(err)
			}
		})
		wg.Go(func() {
			c, err := net.Dial("tcp", s.Target)
			if err != nil {
				fail(err)
				return
			}
			defer c.Close()
			if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
				return // the server may have reset it already
			}
			_ = http2.NewFramer(c, nil).WriteSettings()
		})
	}
	for i := range conns {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of the flood failed: %v", len(errs), errs[0])
	}

	// Open, the flood holds its journals: grpc-go waits for the rest of
	// their prefaces.
	testenv.Eventually(t, func() string {
		if j := stats.OpenJournals(s.Server.H); j != held {
			return fmt.Sprintf("%d journals held while the flood is open, want %d (the refused ones freed)", j, held)
		}
		return ""
	})
	open = heap()
	for i, c := range conns {
		_ = c.Close()
		conns[i] = nil
	}
	testenv.Eventually(t, func() string {
		if j := stats.OpenJournals(s.Server.H); j != 0 {
			return fmt.Sprintf("%d journals held after the flood closed, want 0", j)
		}
		return ""
	})
	return open
}
