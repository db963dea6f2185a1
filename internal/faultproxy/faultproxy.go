// Package faultproxy is a real TCP proxy that can inject network faults
// between a gRPC client and server. Scenario tests dial the proxy instead of
// the server so that they can simulate the failure modes keepalive and GOAWAY
// handling exist for: a silently dropped flow (Blackhole), abrupt connection
// resets (Reset), a flow ended with a FIN both ways (FIN), high latency
// links (SetDelay), and frames neither endpoint wrote (InjectPings, Inject,
// InjectToClient). It works on real sockets
// rather than in-memory pipes so that kernel-level behaviour (FIN, RST,
// socket buffers) is exercised exactly as in production.
package faultproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// bufSize is the read buffer per direction. 32 KiB matches the default
// io.Copy buffer and comfortably exceeds a gRPC HTTP/2 frame header + default
// 16 KiB frame, so a frame is normally relayed in one chunk.
const bufSize = 32 << 10

// queueLen bounds the number of chunks buffered per direction between the
// reader and the (possibly delaying) writer. It caps memory at
// queueLen*bufSize per direction and provides backpressure to the sender,
// while still allowing queueLen chunks to be "in flight" during one delay.
const queueLen = 128

const (
	modeForward int32 = iota
	modeBlackhole
)

// Proxy forwards every accepted TCP connection to a fixed upstream address
// and lets tests change how bytes flow through it while connections are live.
// All methods are safe for concurrent use.
type Proxy struct {
	upstream string
	ln       net.Listener
	ctx      context.Context // cancelled by Close to abort in-progress dials
	cancel   context.CancelFunc

	mode     atomic.Int32 // modeForward or modeBlackhole; read per chunk
	delay    atomic.Int64 // one-way latency in nanoseconds
	accepted atomic.Int64
	idleDrop atomic.Int64 // SetIdleDrop's period in nanoseconds; 0: off
	idleGone atomic.Int64 // connections dropped for idleness

	// Test hooks: dropped counts bytes discarded while blackholed so tests can
	// wait for a discard event instead of sleeping; live counts running
	// goroutines so tests can assert Close left none behind.
	dropped atomic.Int64
	live    atomic.Int64

	mu     sync.Mutex
	modeCh chan struct{} // closed and replaced on every mode change
	pairs  map[*pair]struct{}
	closed bool

	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New starts a proxy listening on 127.0.0.1:0 that forwards to upstream.
// Loopback with an ephemeral port keeps parallel tests isolated from each
// other and from the outside network. The upstream is dialled lazily, once per
// accepted connection, so it need not be reachable yet.
func New(upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		upstream: upstream,
		ln:       ln,
		ctx:      ctx,
		cancel:   cancel,
		modeCh:   make(chan struct{}),
		pairs:    make(map[*pair]struct{}),
	}
	p.goroutine(p.acceptLoop)
	return p, nil
}

// Addr returns the "127.0.0.1:port" address clients should dial instead of
// the upstream, so traffic passes through the fault injector.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Close stops listening, closes every connection pair and waits for all of
// the proxy's goroutines to exit, so tests using goleak see no leftovers.
// It is safe to call more than once; later calls return the first result.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.cancel()
		p.closeErr = p.ln.Close()
		for _, pr := range p.snapshot() {
			pr.close(false)
		}
		p.wg.Wait()
	})
	return p.closeErr
}

// Blackhole makes all current and future connections silently swallow
// traffic: both sockets stay open and bytes are read and discarded in both
// directions, while closes and resets are not propagated. This mimics a NAT
// or load balancer that dropped the flow's state, which only keepalive pings
// can detect.
func (p *Proxy) Blackhole() { p.setMode(modeBlackhole) }

// Forward restores normal forwarding, including propagation of any EOF or
// reset that was held back while blackholed. Bytes read while blackholed are
// not replayed, just as a real network would have lost them.
func (p *Proxy) Forward() { p.setMode(modeForward) }

// Reset closes both sides of every current connection with SO_LINGER 0, so
// each endpoint receives a TCP RST (ECONNRESET) rather than a graceful FIN,
// as when a middlebox or peer crashes. The listener keeps running so that
// reconnection logic can be tested.
func (p *Proxy) Reset() {
	for _, pr := range p.snapshot() {
		pr.close(true)
	}
}

// FIN ends every current connection gracefully on both sides at once, as a
// peer that closes its socket or a middlebox that times a flow out with a
// FIN does: each endpoint reads io.EOF, and nothing either sends
// afterwards is delivered. The proxy keeps reading each socket until its
// endpoint closes too, so that neither endpoint gets a reset for bytes
// left unread, and then closes the pair.
func (p *Proxy) FIN() {
	for _, pr := range p.snapshot() {
		if pr.finned.Swap(true) {
			continue
		}
		_ = pr.client.CloseWrite()
		_ = pr.server.CloseWrite()
	}
}

// SetDelay adds d of one-way latency to every chunk in both directions. Each
// chunk is stamped when read and written at read time + d, so order is kept
// and throughput is not limited to one chunk per d (the link is pipelined
// like a long, fat network). A value <= 0 disables the delay. It applies to
// chunks read after the call.
func (p *Proxy) SetDelay(d time.Duration) {
	if d < 0 {
		d = 0
	}
	p.delay.Store(int64(d))
}

// Accepted reports how many connections have been accepted so far, letting
// tests verify that a client reconnected (or did not).
func (p *Proxy) Accepted() int { return int(p.accepted.Load()) }

// Active reports how many client/upstream pairs are currently open, letting
// tests verify that connections were torn down.
func (p *Proxy) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pairs)
}

// goroutine runs f tracked by the WaitGroup Close waits on.
func (p *Proxy) goroutine(f func()) {
	p.wg.Add(1)
	p.live.Add(1)
	go func() {
		defer p.wg.Done()
		defer p.live.Add(-1)
		f()
	}()
}

func (p *Proxy) snapshot() []*pair {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*pair, 0, len(p.pairs))
	for pr := range p.pairs {
		out = append(out, pr)
	}
	return out
}

func (p *Proxy) setMode(m int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode.Load() == m {
		return
	}
	p.mode.Store(m)
	close(p.modeCh) // wake writers holding an EOF/reset while blackholed
	p.modeCh = make(chan struct{})
}

func (p *Proxy) acceptLoop() {
	backoff := 5 * time.Millisecond
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Transient failure such as EMFILE: back off rather than spin,
			// but stay responsive to Close.
			t := time.NewTimer(backoff)
			select {
			case <-p.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		p.accepted.Add(1)
		client := c.(*net.TCPConn)
		p.goroutine(func() { p.connect(client) })
	}
}

// connect dials the upstream for one accepted client, off the accept loop so
// a slow upstream does not stall other connections.
func (p *Proxy) connect(client *net.TCPConn) {
	var d net.Dialer
	sc, err := d.DialContext(p.ctx, "tcp", p.upstream)
	if err != nil {
		// Upstream unreachable: reset the client so it sees a hard failure,
		// like a refused connection, rather than a clean EOF.
		_ = client.SetLinger(0)
		_ = client.Close()
		return
	}
	pr := &pair{
		p:      p,
		client: client,
		server: sc.(*net.TCPConn),
		done:   make(chan struct{}),
		up:     injector{wake: make(chan struct{}, 1), preface: len(clientPreface)},
		down:   injector{wake: make(chan struct{}, 1)},
	}
	pr.lastActive.Store(time.Now().UnixNano())
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = pr.client.Close()
		_ = pr.server.Close()
		return
	}
	p.pairs[pr] = struct{}{}
	up := make(chan chunk, queueLen)
	down := make(chan chunk, queueLen)
	p.goroutine(func() { pr.read(pr.client, up, &pr.up) })
	p.goroutine(func() { pr.write(pr.server, up, &pr.up) })
	p.goroutine(func() { pr.read(pr.server, down, &pr.down) })
	p.goroutine(func() { pr.write(pr.client, down, &pr.down) })
}

// chunk is one read's worth of bytes, or (end != nil) the terminal condition
// of a direction, queued in order so EOF/reset is delivered after the data
// that preceded it and with the same delay.
type chunk struct {
	data []byte
	due  time.Time
	end  error
}

// pair is one proxied connection: the accepted client socket and the dialled
// upstream socket, pumped by a reader and a writer goroutine per direction.
type pair struct {
	p              *Proxy
	client, server *net.TCPConn
	done           chan struct{} // closed once both sockets are closed
	once           sync.Once
	halfClosed     atomic.Int32 // directions that finished with a clean EOF

	// Inject and InjectToClient: frames owed to the upstream and to the
	// client.
	up, down injector

	// FIN: both endpoints were sent a FIN, and nothing more is relayed.
	finned atomic.Bool

	// SetIdleDrop: when a byte last passed (unix nanoseconds), and whether
	// the flow has been forgotten for good.
	lastActive  atomic.Int64
	flowDropped atomic.Bool
}

// close closes both sockets exactly once; abort sets SO_LINGER 0 first so the
// peers get an RST instead of a FIN.
func (pr *pair) close(abort bool) {
	pr.once.Do(func() {
		if abort {
			_ = pr.client.SetLinger(0)
			_ = pr.server.SetLinger(0)
		}
		_ = pr.client.Close()
		_ = pr.server.Close()
		close(pr.done)
		pr.p.mu.Lock()
		delete(pr.p.pairs, pr)
		pr.p.mu.Unlock()
	})
}

// read pulls chunks from src. The mode is checked per chunk so Blackhole
// takes effect immediately on in-flight connections; reading continues while
// blackholed so the sender never sees backpressure, as with a real drop.
func (pr *pair) read(src *net.TCPConn, q chan<- chunk, inj *injector) {
	buf := make([]byte, bufSize)
	for {
		n, err := src.Read(buf)
		now := time.Now()
		due := now.Add(time.Duration(pr.p.delay.Load()))
		if n > 0 {
			if pr.p.mode.Load() == modeBlackhole || pr.idleExpired(now) {
				pr.p.dropped.Add(int64(n))
				inj.lost.Store(true)
			} else {
				c := chunk{data: append([]byte(nil), buf[:n]...), due: due}
				select {
				case q <- c:
				case <-pr.done:
					return
				}
			}
		}
		if err != nil {
			// A FIN or RST after the idle period finds no flow either.
			pr.idleExpired(now)
			select {
			case q <- chunk{end: err, due: due}:
			case <-pr.done:
			}
			return
		}
	}
}

// write delivers queued chunks to dst at their due time and then applies the
// direction's terminal condition: half-close on EOF, RST on reset, full close
// on any other error. The upstream writer also takes InjectPings requests
// (inject), which it serves at the next frame boundary.
func (pr *pair) write(dst *net.TCPConn, q <-chan chunk, inj *injector) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	frames := frameCursor{preface: inj.preface}
	for {
		if !pr.writeInjected(dst, inj, &frames) {
			return
		}
		var c chunk
		select {
		case c = <-q:
		case <-inj.wake:
			continue
		case <-pr.done:
			return
		}
		if d := time.Until(c.due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-pr.done:
				return
			}
		}
		if pr.finned.Load() {
			// The flow is over for both endpoints: drop what they still
			// send, and close once both have closed their side.
			if c.end == nil {
				pr.p.dropped.Add(int64(len(c.data)))
				continue
			}
			if isReset(c.end) {
				pr.close(true)
			} else if pr.halfClosed.Add(1) == 2 {
				pr.close(false)
			}
			return
		}
		if c.end == nil {
			// Re-check the mode so chunks still queued by a delay are dropped
			// as soon as the proxy is blackholed.
			if pr.p.mode.Load() == modeBlackhole || pr.flowDropped.Load() {
				pr.p.dropped.Add(int64(len(c.data)))
				inj.lost.Store(true)
				continue
			}
			// Frames injected before this chunk arrived go in at its
			// first frame boundary.
			for data := c.data; len(data) > 0; {
				if !pr.writeInjected(dst, inj, &frames) {
					return
				}
				n := len(data)
				if inj.pending() && !inj.lost.Load() {
					n = frames.toBoundary(data)
				}
				if _, err := dst.Write(data[:n]); err != nil {
					pr.close(isReset(err))
					return
				}
				frames.advance(data[:n])
				data = data[n:]
			}
			if !pr.writeInjected(dst, inj, &frames) {
				return
			}
			continue
		}
		// Blackholed flows must not leak closes or resets; hold the
		// terminal condition until forwarding resumes.
		if !pr.waitForward() {
			return
		}
		switch {
		case errors.Is(c.end, io.EOF):
			// Propagate the graceful half-close; tear the pair down only
			// once both directions have finished.
			if err := dst.CloseWrite(); err != nil {
				pr.close(isReset(err))
			} else if pr.halfClosed.Add(1) == 2 {
				pr.close(false)
			}
		case isReset(c.end):
			pr.close(true)
		default:
			pr.close(false)
		}
		return
	}
}

// writeInjected writes the frames owed to dst, if its byte stream is at a
// frame boundary. It reports false if the write failed and the pair was
// closed.
func (pr *pair) writeInjected(dst *net.TCPConn, inj *injector, frames *frameCursor) bool {
	if !frames.atBoundary() || inj.lost.Load() || pr.finned.Load() {
		return true
	}
	b := inj.take()
	if len(b) == 0 {
		return true
	}
	if _, err := dst.Write(b); err != nil {
		pr.close(isReset(err))
		return false
	}
	return true
}

// waitForward blocks while the proxy is blackholed. It reports false if the
// pair was closed meanwhile.
func (pr *pair) waitForward() bool {
	if pr.flowDropped.Load() {
		// A forgotten flow never comes back.
		<-pr.done
		return false
	}
	for {
		pr.p.mu.Lock()
		m, ch := pr.p.mode.Load(), pr.p.modeCh
		pr.p.mu.Unlock()
		if m != modeBlackhole {
			return true
		}
		select {
		case <-ch:
		case <-pr.done:
			return false
		}
	}
}

// isReset reports whether err means the peer reset the connection, which
// must be propagated as a reset rather than a graceful close.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
