package chaos

import (
	"testing"
	"time"

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

// proxyTo starts a fault proxy to addr if the trial goes through one, and
// returns the address to dial.
func proxyTo(t *testing.T, tr trial, addr string) (*faultproxy.Proxy, string) {
	t.Helper()
	if !tr.proxied {
		return nil, addr
	}
	p, err := faultproxy.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, p.Addr()
}

// pathFault does the trial's fault where the path (the proxy p) does it
// alone, whoever the peers are.
func pathFault(t *testing.T, tr trial, p *faultproxy.Proxy) {
	t.Helper()
	switch tr.fault {
	case faultReset:
		p.Reset()
	case faultFIN:
		p.FIN()
	case faultBlackhole:
		p.Blackhole()
	case faultPings:
		p.InjectPings(6)
	case faultMalformed:
		p.Inject(frameBytes(t, tr.frame))
	case faultMalformedToClient:
		p.InjectToClient(frameBytes(t, tr.frame))
	default:
		t.Fatalf("%s is not a fault of the path", tr.fault)
	}
}

// runGo runs a trial between a Go server and a Go client.
func runGo(t *testing.T, tr trial) result {
	t.Helper()
	s := startGoServer(t, tr.serverOptions()...)
	p, target := proxyTo(t, tr, s.addr)
	c := startGoClient(t, target, tr.clientOptions()...)
	c.firstCall(t)
	c.open(t, tr.streams)
	names := c.names()
	s.b.wait(t, "the streams' handlers", func() bool { return s.b.count(s.b.started, names) == len(names) })
	if tr.age > 0 && c.m.Sum(t, semconv.MetricGoAways) != 0 {
		t.Fatalf("the drain began before the streams were open: MaxConnectionAge %v is too short for this machine", tr.age)
	}
	tr.pause()

	switch tr.fault {
	case faultClientClose:
		c.cancelFirst(t, tr.cancels)
		_ = c.cc.Close()
	case faultBlackholeRestored:
		p.Blackhole()
		s.b.wait(t, "the server's keepalive timeout", func() bool { return s.b.connEnds > 0 })
		p.Forward()
	case faultMaxAge:
	case faultMaxAgeCancel, faultGracefulStop:
		s.drain(t, tr, c.m, "at the client")
		c.cancelFirst(t, tr.cancels)
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
	default:
		pathFault(t, tr, p)
	}

	s.waitEnd(t, names)
	c.waitEnd(t, names)
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
	s.waitEnd(t, names)
	st, _ := tr.truth(names)
	return result{server: sideResult{on: true, truth: st, obs: observe(t, s.m, s.b)}}
}
