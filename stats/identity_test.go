package stats_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/test/bufconn"

	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/internal/wire"
	"github.com/grpcpulse/grpcpulse/options"
)

// transportKind is a kind of net.Conn on which every connection has the same
// (local, remote) address pair, or, for TCP, a distinct one.
type transportKind struct {
	name string
	// listen returns a listener, a way to dial it raw, and the target and
	// dial options for a grpc client.
	listen func(t *testing.T) (lis net.Listener, dial func() (net.Conn, error), target string, opts []grpc.DialOption)
	// peerAddr checks the concrete type of peer.Addr an application sees.
	peerAddr func(a net.Addr) error
}

var transportKinds = []transportKind{
	{
		name: "unix",
		listen: func(t *testing.T) (net.Listener, func() (net.Conn, error), string, []grpc.DialOption) {
			dir, err := os.MkdirTemp("", "gp") // short: a socket path is limited to ~104 bytes
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			path := filepath.Join(dir, "s")
			lis, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			return lis, func() (net.Conn, error) { return net.Dial("unix", path) }, "unix://" + path, nil
		},
		peerAddr: func(a net.Addr) error {
			if _, ok := a.(*net.UnixAddr); !ok {
				return fmt.Errorf("peer.Addr is %T, want *net.UnixAddr", a)
			}
			return nil
		},
	},
	{
		name: "bufconn",
		listen: func(t *testing.T) (net.Listener, func() (net.Conn, error), string, []grpc.DialOption) {
			lis := bufconn.Listen(1 << 20)
			dialer := grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) })
			return lis, lis.Dial, "passthrough:///bufnet", []grpc.DialOption{dialer}
		},
		peerAddr: func(a net.Addr) error {
			// bufconn's address is an unexported value type: the
			// observer stands in a per-connection *wire.Addr that
			// forwards Network and String.
			if w, ok := a.(*wire.Addr); !ok || w.Network() != "bufconn" || w.String() != "bufconn" {
				return fmt.Errorf("peer.Addr is %T %v, want *wire.Addr forwarding bufconn", a, a)
			}
			return nil
		},
	},
	{
		name: "tcp",
		listen: func(t *testing.T) (net.Listener, func() (net.Conn, error), string, []grpc.DialOption) {
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := lis.Addr().String()
			return lis, func() (net.Conn, error) { return net.Dial("tcp", addr) }, addr, nil
		},
		peerAddr: func(a net.Addr) error {
			if _, ok := a.(*net.TCPAddr); !ok {
				return fmt.Errorf("peer.Addr is %T, want *net.TCPAddr", a)
			}
			return nil
		},
	},
}

// peerRecorder is a unary server interceptor that keeps every peer.Addr the
// application saw.
type peerRecorder struct {
	mu    sync.Mutex
	addrs []net.Addr
	auth  []credentials.AuthInfo
}

func (p *peerRecorder) intercept(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if pr, ok := peer.FromContext(ctx); ok {
		p.mu.Lock()
		p.addrs = append(p.addrs, pr.Addr)
		p.auth = append(p.auth, pr.AuthInfo)
		p.mu.Unlock()
	}
	return h(ctx, req)
}

func newTracerProvider(t *testing.T) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

// pingFlood is a raw HTTP/2 client that waits before its preface (so that
// its connection is accepted and sits beside the others), then pings until
// the server answers GOAWAY ENHANCE_YOUR_CALM, and returns that GOAWAY.
func pingFlood(t *testing.T, c net.Conn) (*goAwayInfo, error) {
	defer c.Close()
	time.Sleep(200 * time.Millisecond)
	r := newRawClient(t, c)
	r.handshake(t)
	got := make(chan *goAwayInfo, 1)
	go func() { got <- r.readUntilEnd() }()
	for {
		select {
		case g := <-got:
			if g == nil || g.code != http2.ErrCodeEnhanceYourCalm {
				return g, fmt.Errorf("GOAWAY %+v, want ENHANCE_YOUR_CALM", g)
			}
			return g, nil
		default:
		}
		if err := r.fr.WritePing(false, [8]byte{}); err != nil {
			g := <-got
			if g == nil || g.code != http2.ErrCodeEnhanceYourCalm {
				return g, fmt.Errorf("write %v; GOAWAY %+v, want ENHANCE_YOUR_CALM", err, g)
			}
			return g, nil
		}
		time.Sleep(time.Millisecond)
	}
}

// On every kind of conn, concurrent connections of different fates each get
// their own verdict: ping floods that earn too_many_pings beside clients that
// make one call and close. Joined by address pair, a Unix socket's or
// bufconn's connections took each other's journals.
func TestIdentityServerConcurrentFates(t *testing.T) {
	for _, k := range transportKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			const n = 24
			m := testenv.NewMetrics(t)
			peers := &peerRecorder{}
			srv := grpc.NewServer(append(options.Server(
				options.WithMeterProvider(m.Provider),
				options.WithTracerProvider(newTracerProvider(t)),
				options.WithEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Minute}),
			), grpc.ChainUnaryInterceptor(peers.intercept))...)
			testgrpc.RegisterTestServiceServer(srv, &testenv.Service{})
			lis, dial, target, dialOpts := k.listen(t)
			go func() { _ = srv.Serve(lis) }()
			t.Cleanup(srv.Stop)

			var wg sync.WaitGroup
			errs := make(chan error, 2*n)
			for i := 0; i < n; i++ {
				wg.Add(2)
				go func() {
					defer wg.Done()
					c, err := dial()
					if err != nil {
						errs <- err
						return
					}
					if _, err := pingFlood(t, c); err != nil {
						errs <- err
					}
				}()
				go func() {
					defer wg.Done()
					cc, err := grpc.NewClient(target, append(dialOpts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
					if err != nil {
						errs <- err
						return
					}
					ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
					defer cancel()
					if _, err := testgrpc.NewTestServiceClient(cc).EmptyCall(ctx, &testgrpc.Empty{}, grpc.WaitForReady(true)); err != nil {
						errs <- err
					}
					_ = cc.Close()
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			testenv.Eventually(t, func() string {
				if got := m.Sum(t, semconv.MetricCloses); got < 2*n {
					return fmt.Sprintf("%d closes, want %d\n%s", got, 2*n, m.Dump(t, semconv.MetricCloses))
				}
				return ""
			})
			tooMany := m.Sum(t, semconv.MetricCloses, semconv.CloseReason.String("too_many_pings"), semconv.CloseInitiator.String("local"))
			shutdown := m.Sum(t, semconv.MetricCloses, semconv.CloseReason.String("client_shutdown"), semconv.CloseInitiator.String("peer"))
			if tooMany != n || shutdown != n || m.Sum(t, semconv.MetricCloses) != 2*n {
				t.Errorf("want %d too_many_pings/local and %d client_shutdown/peer\n%s", n, n, m.Dump(t, semconv.MetricCloses))
			}
			if got := m.Sum(t, semconv.MetricGoAways, semconv.GoAwayDirection.String("sent"), semconv.GoAwayReason.String("too_many_pings")); got != n {
				t.Errorf("%d too_many_pings GOAWAYs sent, want %d\n%s", got, n, m.Dump(t, semconv.MetricGoAways))
			}
			peers.mu.Lock()
			defer peers.mu.Unlock()
			if len(peers.addrs) != n {
				t.Fatalf("%d calls saw a peer, want %d", len(peers.addrs), n)
			}
			seen := map[net.Addr]bool{}
			for _, a := range peers.addrs {
				if err := k.peerAddr(a); err != nil {
					t.Error(err)
				}
				seen[a] = true
			}
			if len(seen) != n {
				t.Errorf("%d distinct peer addresses for %d connections", len(seen), n)
			}
		})
	}
}

// goAwaysSent counts the GOAWAYs a raw server wrote, by kind.
type goAwaysSent struct{ tooManyPings, maxAge atomic.Int64 }

// rawGoAwayServer accepts HTTP/2 connections on lis and answers each, after
// the SETTINGS exchange, with one GOAWAY: ENHANCE_YOUR_CALM "too_many_pings"
// for the even-numbered accepts, NO_ERROR "max_age" for the odd ones.
func rawGoAwayServer(t *testing.T, lis net.Listener, sent *goAwaysSent) (wait func()) {
	return serveRaw(lis, func(i int, fr *http2.Framer, _ net.Conn) {
		code, debug := http2.ErrCodeEnhanceYourCalm, "too_many_pings"
		if i%2 == 1 {
			code, debug = http2.ErrCodeNo, "max_age"
		}
		if fr.WriteGoAway(0, code, []byte(debug)) != nil {
			return
		}
		if code == http2.ErrCodeNo {
			sent.maxAge.Add(1)
		} else {
			sent.tooManyPings.Add(1)
		}
		for {
			if _, err := fr.ReadFrame(); err != nil {
				return
			}
		}
	})
}

// The client side: one set of dial options (one stats handler) shared by
// many channels to the same address, whose transports end differently.
func TestIdentityClientConcurrentFates(t *testing.T) {
	for _, k := range transportKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			const n = 24
			m := testenv.NewMetrics(t)
			lis, _, target, dialOpts := k.listen(t)
			var sent goAwaysSent
			wait := rawGoAwayServer(t, lis, &sent)
			opts := append(options.Client(
				options.WithMeterProvider(m.Provider),
				options.WithTracerProvider(newTracerProvider(t)),
			), dialOpts...)
			ccs := make([]*grpc.ClientConn, n)
			for i := range ccs {
				cc, err := grpc.NewClient(target, opts...)
				if err != nil {
					t.Fatal(err)
				}
				ccs[i] = cc
			}
			for _, cc := range ccs {
				cc.Connect()
			}
			closes := func(reason string) int64 {
				return m.Sum(t, semconv.MetricCloses, semconv.CloseReason.String(reason), semconv.CloseInitiator.String("peer"))
			}
			// A channel may reconnect after a GOAWAY, and its new transport
			// gets the next accept's fate: compare with what the server sent.
			testenv.Eventually(t, func() string {
				tooMany, maxAge := closes("too_many_pings"), closes("max_connection_age")
				if tooMany+maxAge >= n && tooMany == sent.tooManyPings.Load() && maxAge == sent.maxAge.Load() {
					return ""
				}
				return fmt.Sprintf("server sent %d too_many_pings and %d max_age\n%s",
					sent.tooManyPings.Load(), sent.maxAge.Load(), m.Dump(t, semconv.MetricCloses))
			})
			lowTooMany, lowMaxAge := sent.tooManyPings.Load(), sent.maxAge.Load()
			for _, cc := range ccs {
				_ = cc.Close()
			}
			wait()
			tooMany, maxAge := closes("too_many_pings"), closes("max_connection_age")
			shutdown := m.Sum(t, semconv.MetricCloses, semconv.CloseReason.String("client_shutdown"), semconv.CloseInitiator.String("local"))
			if tooMany < lowTooMany || tooMany > sent.tooManyPings.Load() || maxAge < lowMaxAge || maxAge > sent.maxAge.Load() ||
				tooMany+maxAge+shutdown != m.Sum(t, semconv.MetricCloses) {
				t.Errorf("server sent %d too_many_pings and %d max_age GOAWAYs\n%s",
					sent.tooManyPings.Load(), sent.maxAge.Load(), m.Dump(t, semconv.MetricCloses))
			}
		})
	}
}
