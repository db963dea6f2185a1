package probe

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/peers/foreign"
	"github.com/grpcpulse/grpcpulse/options"
)

// The advice for C-core and grpc-js clients, applied to real clients: the
// channel arguments it writes make them ping as advised. C-core's
// behaviour is what the advice relies on: with its default
// grpc.http2.max_pings_without_data it stops after two PINGs without data,
// and grpc.http2.min_time_between_pings_ms does not space keepalive PINGs
// (so the advice does not set it).
func TestClientsFollowAdvice(t *testing.T) {
	t.Parallel()
	// A path that closes connections silent for 2.4s, in front of a server
	// that accepts any ping.
	rep := &Report{Peer: Peer{Implementation: ImplGo}, Findings: []Finding{
		{Name: FindingPathIdleTimeout, Observed: true, Low: 2300 * time.Millisecond, High: 2500 * time.Millisecond, Result: "about 2.4s"},
		{Name: FindingMinTime, Observed: true, High: 300 * time.Millisecond, Result: "at most 300ms"},
		{Name: FindingPermitWithoutStream, Observed: true, Value: ptr(true), Result: "true"},
	}}
	server := startServer(t, options.ServerPolicy{Enforcement: keepalive.EnforcementPolicy{MinTime: time.Millisecond, PermitWithoutStream: true}})
	for _, tc := range []struct {
		name   string
		client string
		// drop leaves an argument out, to check what C-core does without it.
		drop string
		// pings is how many keepalive PINGs the client sends in the
		// observation window without a call, at most when it stops.
		pings     int
		stops     bool
		foreignJS bool
	}{
		{name: "c-core as advised", client: ImplCCore, pings: 4},
		{name: "c-core without max_pings_without_data", client: ImplCCore, drop: "grpc.http2.max_pings_without_data", pings: 2, stops: true},
		{name: "grpc-js as advised", client: ImplJS, pings: 4, foreignJS: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := advise(tc.client, rep)
			every := a.ClientParameters.Time
			if !a.Helps || every <= 0 || every >= 2300*time.Millisecond || !a.ClientParameters.PermitWithoutStream {
				t.Fatalf("advice %+v does not ping idle connections under 2.3s", a.ClientParameters)
			}
			args := foreign.Args{}
			for _, arg := range a.ChannelArgs {
				if arg.Name != tc.drop {
					args[arg.Name] = arg.Value
				}
			}
			tap := newPingTap(t, server)
			var c *foreign.Client
			if tc.foreignJS {
				c = foreign.StartJSClient(t, foreign.JSClientConfig{Target: tap.addr, Args: args})
			} else {
				c = foreign.StartCCoreClient(t, foreign.CCoreClientConfig{Target: tap.addr, Args: args})
			}
			c.WaitEvent(t, "state", func(e foreign.Event) bool { return e.State == "READY" })
			if !tc.stops {
				// It keeps pinging, about every Time, with no call open.
				got := tap.waitPings(t, tc.pings, time.Duration(tc.pings+4)*every+10*time.Second)
				for i := 1; i < len(got); i++ {
					if gap := got[i].Sub(got[i-1]); gap > 2*every {
						t.Errorf("PINGs %d and %d came %v apart; advised every %v", i, i+1, gap, every)
					}
				}
				return
			}
			// It stops: after its pings, no more within three more periods.
			got := tap.waitPings(t, tc.pings, time.Duration(tc.pings+4)*every+10*time.Second)
			<-time.After(time.Until(got[len(got)-1].Add(3 * every)))
			if n := len(tap.pings()); n > tc.pings {
				t.Errorf("%d PINGs without data; C-core's default max_pings_without_data should have stopped it at %d", n, tc.pings)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// pingTap is a TCP relay in front of a server that reads the HTTP/2
// frames the client sends and notes when each PING (not an ACK) passed.
type pingTap struct {
	addr string
	mu   sync.Mutex
	at   []time.Time
	got  chan struct{} // signalled at each PING
}

func newPingTap(t *testing.T, backend string) *pingTap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tap := &pingTap{addr: ln.Addr().String(), got: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	var conns []net.Conn
	var mu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, b)
			mu.Unlock()
			pr, pw := io.Pipe()
			wg.Add(3)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(io.MultiWriter(b, pw), c)
				b.Close()
				pw.Close()
			}()
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, b)
				c.Close()
			}()
			go func() {
				defer wg.Done()
				tap.read(pr)
			}()
		}
	}()
	return tap
}

// read parses the client's side of one connection.
func (p *pingTap) read(r *io.PipeReader) {
	defer func() { _, _ = io.Copy(io.Discard, r) }()
	if _, err := io.ReadFull(r, make([]byte, len(http2.ClientPreface))); err != nil {
		return
	}
	fr := http2.NewFramer(nil, r)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		if pf, ok := f.(*http2.PingFrame); ok && !pf.IsAck() {
			p.mu.Lock()
			p.at = append(p.at, time.Now())
			p.mu.Unlock()
			select {
			case p.got <- struct{}{}:
			default:
			}
		}
	}
}

func (p *pingTap) pings() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.at...)
}

// waitPings waits until n PINGs passed, or fails the test after d.
func (p *pingTap) waitPings(t *testing.T, n int, d time.Duration) []time.Time {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		if got := p.pings(); len(got) >= n {
			return got
		}
		select {
		case <-p.got:
		case <-deadline.C:
			t.Fatalf("%d PINGs within %v, want %d", len(p.pings()), d, n)
		}
	}
}
