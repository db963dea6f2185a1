// Package healthload is the workload the examples share: a client that
// keeps a grpc.health.v1 Watch stream open (the kind of long-lived stream
// MaxConnectionAge cuts) and calls Check periodically, printing what the
// application got and the cause grpcpulse found.
package healthload

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/grpcpulse/grpcpulse/interceptors"
)

// Run calls Check every interval and keeps a Watch stream open until ctx
// is done. It returns when both have stopped.
func Run(ctx context.Context, w io.Writer, hc healthpb.HealthClient, every time.Duration) {
	var wg sync.WaitGroup
	wg.Go(func() { watch(ctx, w, hc) })
	wg.Go(func() { check(ctx, w, hc, every) })
	wg.Wait()
}

// watch keeps a Watch stream open, reopening it each time the server's max
// age cuts it, and says what the application got and why.
func watch(ctx context.Context, w io.Writer, hc healthpb.HealthClient) {
	for n := 1; ctx.Err() == nil; n++ {
		// WaitForReady: a stream opened while the old connection drains
		// waits for the new one instead of failing.
		opened := false
		stream, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
		if err == nil {
			if _, err = stream.Recv(); err == nil {
				opened = true
				fmt.Fprintf(w, "watch #%d: stream open\n", n)
			}
		}
		for err == nil {
			_, err = stream.Recv()
		}
		if ctx.Err() != nil {
			return // cancelled by us, not cut
		}
		cause, ok := interceptors.Cause(ctx, err)
		fmt.Fprintf(w, "watch #%d: cut: %v\n          grpcpulse's cause: %s (transport-caused: %v)\n", n, err, cause, ok)
		if !opened {
			// Not cut but refused: do not retry in a tight loop.
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// check calls Health/Check every interval; only failures are printed.
func check(ctx context.Context, w io.Writer, hc healthpb.HealthClient, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	ok := 0
	defer func() { fmt.Fprintf(w, "check: %d calls succeeded\n", ok) }()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := hc.Check(cctx, &healthpb.HealthCheckRequest{})
		cancel()
		switch {
		case err == nil:
			ok++
		case ctx.Err() == nil:
			fmt.Fprintf(w, "check: %v\n", err)
		}
	}
}

// StopServer stops srv gracefully, and hard if that takes too long (a
// stream a client left open would otherwise keep it waiting).
func StopServer(srv *grpc.Server) {
	done := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		srv.Stop()
		<-done
	}
}

// LockedWriter serialises writes from the workload's goroutines.
type LockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewLockedWriter returns a LockedWriter writing to w.
func NewLockedWriter(w io.Writer) *LockedWriter { return &LockedWriter{w: w} }

// Write implements io.Writer.
func (l *LockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// String returns what was written so far, under the lock, when the
// underlying writer is a fmt.Stringer (a strings.Builder in tests).
func (l *LockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.w.(fmt.Stringer); ok {
		return s.String()
	}
	return ""
}
