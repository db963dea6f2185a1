package chaos

import (
	"testing"
	"time"

	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/faultproxy"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
)

// sideResult is one side's truth and what it recorded; on is false for a
// side that does not run grpcpulse (a foreign peer, the raw client).
type sideResult struct {
	on    bool
	truth sideTruth
	obs   observed
}

type result struct{ server, client sideResult }

// serverOptions returns the Go server's keepalive policy for tr.
func (tr trial) serverOptions() []options.ServerOption {
	switch tr.fault {
	case faultMaxAge, faultMaxAgeCancel:
		return []options.ServerOption{options.WithServerParameters(keepalive.ServerParameters{
			MaxConnectionAge: tr.age, MaxConnectionAgeGrace: tr.grace, Time: options.Infinity,
		})}
	case faultBlackhole, faultBlackholeRestored:
		return []options.ServerOption{
			options.WithServerParameters(keepalive.ServerParameters{Time: time.Second, Timeout: time.Second}),
			options.WithEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
		}
	}
	return nil
}

// clientOptions returns the Go client's keepalive policy for tr.
func (tr trial) clientOptions() []options.ClientOption {
	switch tr.fault {
	case faultBlackhole:
		// The shortest Time grpc-go allows.
		return []options.ClientOption{options.WithClientParameters(keepalive.ClientParameters{
			Time: 10 * time.Second, Timeout: time.Second, PermitWithoutStream: true,
		})}
	case faultBlackholeRestored:
		// No keepalive: the client learns of the end from the server's
		// FIN, once the path delivers it.
		return []options.ClientOption{options.WithClientParameters(keepalive.ClientParameters{Time: options.Infinity})}
	}
	return nil
}

// pause waits for the trial's jitter. It is no synchronisation: it varies
// what is in flight when the fault comes.
func (tr trial) pause() {
	if tr.jitter > 0 {
		time.Sleep(tr.jitter)
	}
}

// runGo runs a trial between a Go server and a Go client.
func runGo(t *testing.T, tr trial) result {
	t.Helper()
	s := startGoServer(t, tr.serverOptions()...)
	target := s.addr
	var p *faultproxy.Proxy
	if tr.proxied {
		var err error
		if p, err = faultproxy.New(s.addr); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		target = p.Addr()
	}
	c := startGoClient(t, target, tr.clientOptions()...)
	// A completed call first: the connection carried an RPC that no end
	// may count.
	ctx, cancel := contextFor(t)
	defer cancel()
	if _, err := testgrpc.NewTestServiceClient(c.cc).EmptyCall(ctx, &testgrpc.Empty{}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("EmptyCall: %v", err)
	}
	c.open(t, tr.streams)
	names := c.names()
	s.b.wait(t, "the streams' handlers", func() bool { return s.b.count(s.b.started, names) == len(names) })
	if tr.age > 0 && c.m.Sum(t, semconv.MetricGoAways) != 0 {
		t.Fatalf("the drain began before the streams were open: MaxConnectionAge %v is too short for this machine", tr.age)
	}
	tr.pause()

	switch tr.fault {
	case faultClientClose:
		for i := range tr.cancels {
			c.cancel(t, i)
		}
		_ = c.cc.Close()
	case faultReset:
		p.Reset()
	case faultFIN:
		p.FIN()
	case faultBlackhole:
		p.Blackhole()
	case faultBlackholeRestored:
		p.Blackhole()
		s.b.wait(t, "the server's keepalive timeout", func() bool { return s.b.connEnds > 0 })
		p.Forward()
	case faultMaxAge:
	case faultMaxAgeCancel, faultGracefulStop:
		debug := "max_age"
		stopped := make(chan struct{})
		if tr.fault == faultGracefulStop {
			debug = "graceful_stop"
			go func() {
				defer close(stopped)
				s.srv.GracefulStop()
			}()
			t.Cleanup(func() { <-stopped })
		}
		testenv.Eventually(t, func() string {
			if c.m.Sum(t, semconv.MetricGoAways, semconv.GoAwayReason.String(debug)) > 0 {
				return ""
			}
			return "no " + debug + " GOAWAY at the client"
		})
		for i := range tr.cancels {
			c.cancel(t, i)
		}
		cancelled := names[:tr.cancels]
		s.b.wait(t, "the cancels at the server", func() bool { return s.b.count(s.b.ended, cancelled) == len(cancelled) })
		if tr.cancels < tr.streams {
			if s.b.connEnds > 0 {
				t.Fatalf("the connection ended before the cancels reached the server: the grace %v is too short for this machine", tr.grace)
			}
			if tr.fault == faultGracefulStop {
				s.srv.Stop()
			}
		} else if tr.closeAfter {
			_ = c.cc.Close()
		}
	case faultPings:
		p.InjectPings(6)
	case faultMalformed:
		p.Inject(frameBytes(t, tr.frame))
	case faultMalformedToClient:
		p.InjectToClient(frameBytes(t, tr.frame))
	}

	s.b.wait(t, "the server's close and streams", func() bool {
		return s.b.connEnds > 0 && s.b.count(s.b.ended, names) == len(names)
	})
	c.b.wait(t, "the client's close and streams", func() bool {
		n := 0
		for _, name := range names {
			if _, ok := c.b.errs[name]; ok {
				n++
			}
		}
		return c.b.connEnds > 0 && n == len(names)
	})
	st, ct := tr.truth(names)
	return result{
		server: sideResult{on: true, truth: st, obs: observe(t, s.m, s.b)},
		client: sideResult{on: true, truth: ct, obs: observe(t, c.m, c.b)},
	}
}

// runRaw runs a trial between a Go server and the raw client: a malformed
// frame, after a stream or not.
func runRaw(t *testing.T, tr trial) result {
	t.Helper()
	s := startGoServer(t)
	r := dialRaw(t, s.addr)
	var names []string
	if tr.streams > 0 {
		names = []string{"s0"}
		r.openStream(t, "s0")
		s.b.wait(t, "the stream's handler", func() bool { return s.b.started["s0"] })
	}
	tr.pause()
	if err := malformedFrames[tr.frame].write(r.fr); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.done:
	case <-time.After(testenv.Patience):
		t.Fatal("the server did not close the connection")
	}
	s.b.wait(t, "the server's close and stream", func() bool {
		return s.b.connEnds > 0 && s.b.count(s.b.ended, names) == len(names)
	})
	st, _ := tr.truth(names)
	return result{server: sideResult{on: true, truth: st, obs: observe(t, s.m, s.b)}}
}
