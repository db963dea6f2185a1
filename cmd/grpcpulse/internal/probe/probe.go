package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http2"
)

// Config says what to probe and how long the probe may take.
type Config struct {
	// Target is host:port.
	Target string
	// TLS, if non-nil, makes the probe speak TLS with it (NextProtos is
	// forced to "h2"); nil means plaintext HTTP/2 with prior knowledge, as
	// grpc-go's insecure credentials speak it.
	TLS *tls.Config
	// Authority is the :authority of the probe's calls; empty means Target.
	Authority string
	// Budget bounds the whole probe. Every measurement that needs longer is
	// reported as left open, with the budget it would need.
	Budget time.Duration
	// StreamMethod is a method ("pkg.Service/Method") the probe may open and
	// leave silent: it sends HEADERS only, no request message, so the server's
	// handler waits and writes nothing. Empty means grpc.health.v1.Health/Watch.
	StreamMethod string
	// Progress, if non-nil, receives one line per event while the probe
	// waits.
	Progress io.Writer
	// Client is the implementation of the client the advice is for: one
	// of ImplGo, ImplCCore, ImplJS, ImplJava. Empty means ImplGo.
	Client string

	// serverNameGiven is set when the user named the server for TLS, so
	// that a name mismatch does not tell them to pass the flag again.
	serverNameGiven bool

	// Ladders and timings; zero values mean the defaults. Tests shorten them.
	enforceLadder []time.Duration
	idleLadder    []time.Duration
	heartbeat     time.Duration
}

// prober is one run of the probe.
type prober struct {
	cfg       Config
	authority string
	start     time.Time
	deadline  time.Time

	// From the control connection.
	rtt  time.Duration // the largest RTT seen there, to size waits
	peer Peer          // what answered
	held bool          // a silent stream can be held open
	// heldMethod is the method held open, "/pkg.Service/Method".
	heldMethod string

	progMu sync.Mutex
	hold   *[]string // while non-nil, progress lines are collected here

	mu    sync.Mutex
	conns []*h2conn
	// Connections that could not be opened after the target was confirmed
	// as gRPC: how many, the first error, and how many of the probe's
	// connections were open when it came.
	dialFails    int
	dialFailErr  *ProbeError
	openAtFail   int
	confirmed    bool
	refusedAfter time.Duration // since the start; 0 if no dial was refused
}

// Run probes cfg.Target and returns the report. It returns a *ProbeError
// when the target cannot be probed at all (unreachable, not HTTP/2, not
// gRPC, TLS mismatch).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Budget <= 0 {
		cfg.Budget = 2 * time.Minute
	}
	if cfg.heartbeat == 0 {
		cfg.heartbeat = 10 * time.Second
	}
	if cfg.TLS != nil {
		cfg.TLS = cfg.TLS.Clone()
		cfg.TLS.NextProtos = []string{"h2"}
	}
	p := &prober{cfg: cfg, authority: cfg.Authority, start: time.Now()}
	if p.authority == "" {
		p.authority = cfg.Target
	}
	p.deadline = p.start.Add(cfg.Budget)
	parent := ctx
	ctx, cancel := context.WithDeadline(ctx, p.deadline)
	defer cancel()

	rep := &Report{Target: cfg.Target, TLS: cfg.TLS != nil, Budget: cfg.Budget}
	// The control phase's progress is held back until it succeeds, so that
	// a target that cannot be probed gets exactly one line: the error.
	var early []string
	p.hold = &early
	err := p.control(ctx, rep)
	p.hold = nil
	if err != nil {
		return nil, err
	}
	for _, line := range early {
		p.progress("%s", line)
	}
	p.mu.Lock()
	p.confirmed = true
	p.mu.Unlock()

	var (
		wg       sync.WaitGroup
		enforce  = &enforceOutcome{held: p.held}
		life     = &lifetimeOutcome{}
		pathIdle = &pathIdleOutcome{}
	)
	wg.Add(3)
	go func() { defer wg.Done(); p.enforcement(ctx, enforce) }()
	go func() { defer wg.Done(); p.lifetime(ctx, life) }()
	go func() { defer wg.Done(); p.pathIdle(ctx, pathIdle) }()
	stopBeat := p.heartbeat(enforce, life, pathIdle)
	wg.Wait()
	stopBeat()

	if parent.Err() != nil {
		rep.Interrupted = true
	}
	p.mu.Lock()
	conns := slices.Clone(p.conns)
	p.mu.Unlock()
	peerEnded := false
	for _, c := range conns {
		if k := c.endKind(); k == endEOF || k == endReset {
			peerEnded = true
		}
		c.Close()
		<-c.done
	}
	// Connections the peer ended: was it the server going away?
	p.mu.Lock()
	failed := p.dialFails > 0
	p.mu.Unlock()
	if (peerEnded || failed) && !rep.Interrupted && p.refusedAfter == 0 {
		d := net.Dialer{Timeout: 2 * time.Second}
		if nc, err := d.Dial("tcp", cfg.Target); err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				p.refusedAfter = time.Since(p.start)
			}
		} else {
			nc.Close()
		}
	}
	if p.refusedAfter > 0 {
		rep.Stopped = fmt.Sprintf("the server stopped accepting connections during the probe (connection refused %s into it): it was stopped or crashed, and the report is partial", fmtDur(p.refusedAfter))
	}
	p.analyze(rep, conns, enforce, life, pathIdle)
	rep.Elapsed = time.Since(p.start)
	return rep, nil
}

// progress writes one progress line, stamped with the time since the start.
func (p *prober) progress(format string, args ...any) {
	if p.cfg.Progress == nil {
		return
	}
	p.progMu.Lock()
	defer p.progMu.Unlock()
	if p.hold != nil {
		*p.hold = append(*p.hold, fmt.Sprintf(format, args...))
		return
	}
	fmt.Fprintf(p.cfg.Progress, "probe [%5.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// heartbeat reports, every cfg.heartbeat, what the probe is still waiting
// for, so that a long budget does not look like a hang.
func (p *prober) heartbeat(parts ...interface{ waiting() string }) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(p.cfg.heartbeat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				var w []string
				for _, part := range parts {
					if s := part.waiting(); s != "" {
						w = append(w, s)
					}
				}
				if len(w) > 0 {
					p.progress("waiting (%s of budget left): %s", time.Until(p.deadline).Round(time.Second), strings.Join(w, "; "))
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// dial opens a probe connection and tracks it for the final report.
func (p *prober) dial(ctx context.Context) (*h2conn, error) {
	// A server that answered the control connection answers another
	// within seconds, unless something holds it back.
	timeout := min(10*time.Second, max(time.Until(p.deadline), time.Second))
	p.mu.Lock()
	if p.confirmed {
		timeout = min(timeout, max(5*time.Second, 20*p.rtt))
	}
	p.mu.Unlock()
	c, err := dial(ctx, dialConfig{Target: p.cfg.Target, TLS: p.cfg.TLS, Timeout: timeout, NameGiven: p.cfg.serverNameGiven})
	if err != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		var pe *ProbeError
		if !p.confirmed || !errors.As(err, &pe) || ctx.Err() != nil {
			return nil, err
		}
		// The target is a gRPC server: it answered the control connection.
		// A connection it now refuses or leaves unanswered is a limit.
		p.dialFails++
		if p.dialFailErr == nil {
			p.dialFailErr = pe
			for _, o := range p.conns {
				if o.alive() {
					p.openAtFail++
				}
			}
		}
		switch pe.Kind {
		case errRefused:
			if p.refusedAfter == 0 {
				p.refusedAfter = time.Since(p.start)
			}
			return nil, fmt.Errorf("another connection was refused: the server stopped listening, or limits connections")
		case errTimeout, errSilent:
			return nil, fmt.Errorf("another connection was not served within %s: a connection limit (the server's or a proxy's) or an overloaded server", fmtDur(timeout))
		}
		return nil, fmt.Errorf("another connection was closed before HTTP/2 started (%s): a connection limit, an overloaded server, or a server going away", oneLine(err))
	}
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
	return c, nil
}

// control opens the first connection: it checks that the peer speaks HTTP/2
// and gRPC, reads SETTINGS, measures RTT, and finds out whether a silent
// stream can be held open.
func (p *prober) control(ctx context.Context, rep *Report) error {
	c, err := p.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	p.progress("connected to %s (%s), server SETTINGS read", p.cfg.Target, map[bool]string{true: "TLS, ALPN h2", false: "plaintext HTTP/2"}[c.tls])
	c.mu.Lock()
	rep.Settings = settingsReport(c.settings)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		rep.Peer = identify(c.settings, c.respHeaders, c.serverPings)
		c.mu.Unlock()
		p.peer = rep.Peer
		if rep.Peer.Proxy {
			p.progress("a proxy answered: %s (%s); what follows is measured against it, not against the server behind it", implName(rep.Peer.Implementation), strings.Join(rep.Peer.Evidence, "; "))
		} else {
			p.progress("the server looks like %s (%s)", implName(rep.Peer.Implementation), strings.Join(rep.Peer.Evidence, "; "))
		}
	}()

	// Three health checks, each followed by a PING. The server writes
	// HEADERS and DATA for each check, which resets its ping strikes, so
	// these pings can never earn this connection a too_many_pings GOAWAY.
	const rpcWait = 5 * time.Second
	for i := range 3 {
		v, err := c.unary(ctx, healthCheck, p.authority, rpcWait)
		if i == 0 {
			if len(v.headers) == 0 {
				if err != nil {
					return probeErr("%s: HTTP/2 works, but a gRPC call (%s) got no response headers (%s): not a gRPC server?", p.cfg.Target, healthCheck, oneLine(err))
				}
				return probeErr("%s: HTTP/2 works, but a gRPC call (%s) was reset (%v) without response headers: not a gRPC server", p.cfg.Target, healthCheck, v.rst)
			}
			if why := v.notGRPC(); why != "" {
				return probeErr("%s: HTTP/2 server, but not gRPC: POST %s was answered with %s", p.cfg.Target, healthCheck, why)
			}
			switch st := v.grpcStatus(); st {
			case "0":
				rep.GRPC.Health = healthServing(v.data)
			case "":
				rep.GRPC.Health = "no grpc-status"
			default:
				rep.GRPC.Health = fmt.Sprintf("%s (%s)", grpcCodeName(st), v.grpcMessage())
			}
			p.progress("gRPC confirmed: %s answered %s", healthCheck, rep.GRPC.Health)
		}
		if err != nil {
			break
		}
		rtt, err := c.pingRTT(ctx, [8]byte{'g', 'p', 'r', 't', 't', byte(i)}, rpcWait)
		if err != nil {
			break
		}
		p.rtt = max(p.rtt, rtt)
	}

	p.heldMethod = healthWatch
	if m := p.cfg.StreamMethod; m != "" {
		p.heldMethod = "/" + strings.TrimPrefix(m, "/")
	}
	rep.GRPC.HeldStream = strings.TrimPrefix(p.heldMethod, "/")
	if _, err := p.holdStream(ctx, c); err != nil {
		rep.GRPC.HeldStreamNote = err.Error()
		p.progress("cannot hold a silent stream: %s", err)
	} else {
		p.held = true
		p.progress("holding %s open works; it is used to keep probing connections busy but silent", rep.GRPC.HeldStream)
	}
	return nil
}

// holdStream opens the stream that keeps a connection "with an RPC in
// flight" while the server writes nothing on it: grpc-go resets ping
// strikes whenever it writes HEADERS or DATA, so only a silent stream lets
// pings be judged against EnforcementPolicy.MinTime.
//
// Health/Watch answers once at the start and then stays silent until the
// status changes; holdStream returns after that first answer. A
// user-named method gets HEADERS only and no request message, so the
// server's handler waits for one and writes nothing; holdStream checks
// that the server does not end the call at once.
func (p *prober) holdStream(ctx context.Context, c *h2conn) (*h2stream, error) {
	wait := 5 * time.Second
	if p.heldMethod == healthWatch {
		s, err := c.openStream(healthWatch, p.authority, []byte{}, true)
		if err != nil {
			return nil, err
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-s.gotData:
			return s, nil
		case <-s.ended:
			v := c.view(s)
			return nil, fmt.Errorf("%s ended at once: %s %s", healthWatch, grpcCodeName(v.grpcStatus()), v.grpcMessage())
		case <-t.C:
			c.cancelStream(s)
			return nil, fmt.Errorf("%s sent no first response within %s", healthWatch, wait)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s, err := c.openStream(p.heldMethod, p.authority, nil, false)
	if err != nil {
		return nil, err
	}
	// A method the server does not have is answered at once
	// (UNIMPLEMENTED); one that waits for its request does not answer.
	quiet := max(500*time.Millisecond, 5*p.rtt)
	t := time.NewTimer(quiet)
	defer t.Stop()
	select {
	case <-s.ended:
		v := c.view(s)
		return nil, fmt.Errorf("%s ended at once: %s %s", p.heldMethod, grpcCodeName(v.grpcStatus()), v.grpcMessage())
	case <-t.C:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// settingsReport lists the SETTINGS the probe reports, with HTTP/2's
// defaults for those the server did not send.
func settingsReport(got []http2.Setting) []Setting {
	want := []struct {
		id   http2.SettingID
		name string
		def  string
	}{
		{http2.SettingMaxConcurrentStreams, "MAX_CONCURRENT_STREAMS", "unlimited"},
		{http2.SettingInitialWindowSize, "INITIAL_WINDOW_SIZE", "65535"},
		{http2.SettingMaxFrameSize, "MAX_FRAME_SIZE", "16384"},
		{http2.SettingMaxHeaderListSize, "MAX_HEADER_LIST_SIZE", "unlimited"},
	}
	var out []Setting
	for _, w := range want {
		s := Setting{Name: w.name, Default: w.def}
		for _, g := range got {
			if g.ID == w.id {
				v := g.Val
				s.Value = &v
			}
		}
		out = append(out, s)
	}
	return out
}

// remaining is how much of the budget is left.
func (p *prober) remaining() time.Duration { return time.Until(p.deadline) }

// sleepUntil waits until t, the context ends, or any of stop fires. It
// reports whether t was reached.
func sleepUntil(ctx context.Context, t time.Time, stop ...<-chan struct{}) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	var s1, s2 <-chan struct{}
	if len(stop) > 0 {
		s1 = stop[0]
	}
	if len(stop) > 1 {
		s2 = stop[1]
	}
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
	case <-s1:
	case <-s2:
	}
	return false
}
