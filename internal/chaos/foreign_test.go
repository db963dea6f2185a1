package chaos

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/grpcpulse/grpcpulse/internal/peers/foreign"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
)

// foreignImpls are the foreign peers, with the launcher lookup that tells
// whether each one's runtime is here.
var foreignImpls = []struct {
	impl   impl
	lookup func(testing.TB) foreign.Runtime
}{
	{implCCore, foreign.Python},
	{implJS, foreign.Node},
	{implJava, foreign.Java},
}

// peers says which foreign peers can run here. find asks each launcher
// once, in a subtest of its own: an absent runtime skips that subtest with
// the launcher's one line saying how to get it (or fails it where
// foreign.RequireEnv asks for every peer), and the trials that need it
// are skipped.
type peers struct {
	mu sync.Mutex
	ok map[impl]bool
}

func findPeers(t *testing.T, need map[impl]bool) *peers {
	p := &peers{ok: map[impl]bool{implGo: true, implRaw: true}}
	for _, f := range foreignImpls {
		if !need[f.impl] {
			continue
		}
		t.Run("peers/"+string(f.impl), func(t *testing.T) {
			f.lookup(t)
			p.mu.Lock()
			p.ok[f.impl] = true
			p.mu.Unlock()
		})
	}
	return p
}

func (p *peers) have(i impl) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ok[i]
}

func isForeign(i impl) bool { return i == implCCore || i == implJS || i == implJava }

func millis(d time.Duration) int { return int(d / time.Millisecond) }

// startForeignServer starts the trial's foreign server, with its max age
// when the fault needs one.
func startForeignServer(t *testing.T, tr trial) *foreign.Server {
	t.Helper()
	switch tr.server {
	case implCCore, implJS:
		args := foreign.Args{}
		if tr.age > 0 {
			args["grpc.max_connection_age_ms"] = millis(tr.age)
			args["grpc.max_connection_age_grace_ms"] = millis(tr.grace)
		}
		if tr.server == implCCore {
			return foreign.StartCCoreServer(t, foreign.CCoreServerConfig{Args: args})
		}
		return foreign.StartJSServer(t, foreign.JSServerConfig{Args: args})
	case implJava:
		return foreign.StartJavaServer(t, foreign.JavaServerConfig{MaxConnectionAge: tr.age, MaxConnectionAgeGrace: tr.grace})
	}
	panic("not a foreign server: " + tr.server)
}

// startForeignClient starts the trial's foreign client of target.
func startForeignClient(t *testing.T, tr trial, target string) *foreign.Client {
	t.Helper()
	switch tr.client {
	case implCCore:
		return foreign.StartCCoreClient(t, foreign.CCoreClientConfig{Target: target})
	case implJS:
		return foreign.StartJSClient(t, foreign.JSClientConfig{Target: target})
	case implJava:
		return foreign.StartJavaClient(t, foreign.JavaClientConfig{Target: target})
	}
	panic("not a foreign client: " + tr.client)
}

// countEvents counts the peer's events named name for method.
func countEvents(p *foreign.Process, name, method string) int {
	return p.Count(name, func(e foreign.Event) bool { return e.Method == method })
}

// runForeignServer runs a trial between a foreign server and a Go client:
// only the client's verdicts are grpcpulse's.
func runForeignServer(t *testing.T, tr trial) result {
	t.Helper()
	fs := startForeignServer(t, tr)
	p, target := proxyTo(t, tr, fs.Addr)
	c := startGoClient(t, target, tr.clientOptions()...)
	c.firstCall(t)
	c.open(t, tr.streams)
	names := c.names()
	if tr.age > 0 && c.m.Sum(t, semconv.MetricGoAways) != 0 {
		t.Fatalf("the drain began before the streams were open: max age %v is too short for this machine", tr.age)
	}
	tr.pause()

	switch tr.fault {
	case faultClientClose:
		c.cancelFirst(t, tr.cancels)
		_ = c.cc.Close()
	case faultMaxAge:
	case faultMaxAgeCancel, faultGracefulStop:
		if tr.fault == faultGracefulStop {
			fs.Shutdown(t, tr.grace)
		}
		testenv.Eventually(t, func() string {
			if c.m.Sum(t, semconv.MetricGoAways, semconv.GoAwayDirection.String("received")) > 0 {
				return ""
			}
			return "no GOAWAY at the client"
		})
		c.cancelFirst(t, tr.cancels)
		testenv.Eventually(t, func() string {
			if n := countEvents(fs.Process, "cancelled", "StreamingOutputCall"); n < tr.cancels {
				return fmt.Sprintf("the server saw %d of %d cancels", n, tr.cancels)
			}
			return ""
		})
		if 0 < tr.cancels && tr.cancels < tr.streams {
			if c.b.connEnds > 0 {
				t.Fatalf("the connection ended before the cancels reached the server: the grace %v is too short for this machine", tr.grace)
			}
		} else if tr.cancels == tr.streams && tr.closeAfter {
			_ = c.cc.Close()
		}
	default:
		pathFault(t, tr, p)
	}

	c.waitEnd(t, names)
	_, ct := tr.truth(names)
	return result{client: sideResult{on: true, truth: ct, obs: observe(t, c.m, c.b)}}
}

// runForeignClient runs a trial between a Go server and a foreign client:
// only the server's verdicts are grpcpulse's. A foreign client cancels all
// of its calls or none.
func runForeignClient(t *testing.T, tr trial) result {
	t.Helper()
	s := startGoServer(t, tr.serverOptions()...)
	p, target := proxyTo(t, tr, s.addr)
	fc := startForeignClient(t, tr, target)
	fc.Call(t, foreign.CallEmpty)
	fc.WaitEvent(t, "status", func(e foreign.Event) bool { return e.Method == "EmptyCall" })
	names := make([]string, tr.streams)
	for i := range names {
		names[i] = fmt.Sprintf("f%d", i+1)
		fc.Call(t, foreign.CallStream)
	}
	s.b.wait(t, "the streams' handlers", func() bool { return s.b.count(s.b.started, names) == len(names) })
	if tr.age > 0 && s.m.Sum(t, semconv.MetricGoAways) != 0 {
		t.Fatalf("the drain began before the streams were open: MaxConnectionAge %v is too short for this machine", tr.age)
	}
	tr.pause()

	cancelAll := func() {
		fc.Cancel(t)
		s.b.wait(t, "the cancels at the server", func() bool { return s.b.count(s.b.ended, names) == len(names) })
	}
	switch tr.fault {
	case faultClientClose:
		if tr.cancels > 0 {
			cancelAll()
		}
		fc.Close(t)
	case faultMaxAge:
	case faultMaxAgeCancel, faultGracefulStop:
		s.drain(t, tr, s.m, "from the server")
		switch {
		case tr.cancels > 0:
			cancelAll()
			if tr.closeAfter {
				fc.Close(t)
			}
		case tr.fault == faultGracefulStop:
			s.srv.Stop()
		}
	default:
		pathFault(t, tr, p)
	}

	s.waitEnd(t, names)
	st, _ := tr.truth(names)
	return result{server: sideResult{on: true, truth: st, obs: observe(t, s.m, s.b)}}
}
