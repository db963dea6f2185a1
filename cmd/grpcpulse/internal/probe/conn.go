package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// goawayEvent is one GOAWAY frame read from the server, with the state of
// the connection when it came: how many of the probe's streams were open,
// and since when none had been (the start of the server's idle clock).
type goawayEvent struct {
	At          time.Time
	Code        http2.ErrCode
	Debug       string
	LastStream  uint32
	OpenStreams int
	IdleSince   time.Time
}

// serverPing is a PING the server sent, whatever its payload, with what
// tells a keepalive PING from a flow-control or drain PING by behaviour:
// how long the probe had written nothing before it (a server keepalive
// fires after a silence), whether the probe had written HEADERS or DATA
// since the server's previous PING (a bandwidth-estimation PING, as C-core,
// grpc-go and Netty send, follows data the server read), and whether it
// came right behind a GOAWAY (a drain PING).
type serverPing struct {
	At            time.Time
	Data          [8]byte
	Silence       time.Duration // since the probe's last write of any kind
	SinceData     time.Duration // since the last HEADERS or DATA, either way
	DataSincePrev bool
	AfterGoaway   bool
}

// rstEvent is a RST_STREAM the server sent on one of the probe's streams.
type rstEvent struct {
	At   time.Time
	Code http2.ErrCode
	// Silence is how long the stream had carried nothing before it.
	Silence time.Duration
}

// h2conn is one HTTP/2 client connection spoken frame by frame. The probe
// needs control that no HTTP/2 client library gives: pings at exact times,
// streams opened and then left silent, and every frame the server sends
// timestamped. One goroutine reads; writes are serialised by wmu.
type h2conn struct {
	target string
	nc     net.Conn
	fr     *http2.Framer
	tls    bool

	wmu  sync.Mutex
	henc *hpack.Encoder
	hbuf bytes.Buffer
	next uint32 // next client stream id, guarded by wmu

	dialStart time.Time // before the TCP dial
	ready     time.Time // the server's first SETTINGS was read
	readyCh   chan struct{}
	done      chan struct{} // closed when the read loop ends
	goawayCh  chan struct{} // closed at the first GOAWAY read

	mu          sync.Mutex
	settings    []http2.Setting
	lastRead    time.Time
	lastWrite   time.Time
	pingWait    map[[8]byte]chan time.Time
	goaways     []goawayEvent
	serverPings []serverPing
	streams     map[uint32]*h2stream
	dataHeaders []time.Time // HEADERS and DATA frames read, on any stream
	rsts        []rstEvent
	// respHeaders are the first response headers read on any stream, for
	// naming the implementation (a proxy announces itself there).
	respHeaders []hpack.HeaderField
	lastData    time.Time // the last HEADERS or DATA frame, either way
	probeData   bool      // the probe wrote HEADERS or DATA since the server's last PING
	openStreams int
	idleSince   time.Time     // when openStreams last became 0
	role        string        // what the probe uses the connection for
	maxWriteGap time.Duration // the longest the probe wrote nothing, up to the first GOAWAY
	closedAt    time.Time
	closeErr    error
	localClose  bool
	peerClosed  bool   // the connection ended before this side closed it
	firstBytes  []byte // the first bytes the server sent, to name a non-HTTP/2 peer
	rtts        []time.Duration
	pingsSent   int
	hadStream   bool
}

// h2stream is the client side of one stream. Its fields are written by the
// read loop under the conn's mu; read them through h2conn.snapshot.
type h2stream struct {
	id       uint32
	closed   bool                // counted out of openStreams, under the conn's mu
	lastAt   time.Time           // the last frame on the stream, either way
	headers  []hpack.HeaderField // the response headers
	trailers []hpack.HeaderField
	data     []byte
	rst      http2.ErrCode
	gotHdr   chan struct{}
	ended    chan struct{} // END_STREAM or RST_STREAM read, or the conn ended
	gotData  chan struct{} // closed at the first DATA frame with payload
	hdrOnce  sync.Once
	endOnce  sync.Once
	dataOnce sync.Once
}

// dialConfig says how to reach the server.
type dialConfig struct {
	Target     string
	TLS        *tls.Config // nil: plaintext (h2c with prior knowledge)
	Timeout    time.Duration
	ServerName string // :authority
	NameGiven  bool   // TLS.ServerName came from the user
}

// ProbeError is an error that ends the probe before it measured anything:
// the target cannot be reached, does not speak HTTP/2, is not gRPC, or the
// TLS settings do not match it. Its message is one line meant for the user.
type ProbeError struct {
	Msg string
	// Kind says what failed, for a caller that already knows the target
	// is a gRPC server: errRefused, errTimeout or errSilent; empty
	// otherwise.
	Kind string
}

// Kinds of ProbeError.
const (
	errRefused = "refused" // connection refused
	errTimeout = "timeout" // the TCP connect timed out
	errSilent  = "silent"  // accepted, but no HTTP/2 SETTINGS came
)

// Error returns the message.
func (e *ProbeError) Error() string { return e.Msg }

func probeErr(format string, args ...any) error {
	return &ProbeError{Msg: fmt.Sprintf(format, args...)}
}

// recordingConn keeps the first bytes read, so that a peer answering the
// HTTP/2 preface with something else (an HTTP/1 status line, a TLS alert)
// can be named in the error.
type recordingConn struct {
	net.Conn
	c *h2conn
}

func (r recordingConn) Read(b []byte) (int, error) {
	n, err := r.Conn.Read(b)
	if n > 0 {
		r.c.mu.Lock()
		if len(r.c.firstBytes) < 64 {
			r.c.firstBytes = append(r.c.firstBytes, b[:min(n, 64-len(r.c.firstBytes))]...)
		}
		r.c.mu.Unlock()
	}
	return n, err
}

// dial connects, exchanges the connection prefaces and waits for the
// server's SETTINGS. TCP keepalive is disabled on the socket: its probes
// would refresh middlebox flow state behind the probe's back and hide the
// path's idle timeout.
func dial(ctx context.Context, cfg dialConfig) (*h2conn, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	c := &h2conn{
		target:    cfg.Target,
		dialStart: time.Now(),
		readyCh:   make(chan struct{}),
		probeData: true,
		done:      make(chan struct{}),
		goawayCh:  make(chan struct{}),
		pingWait:  make(map[[8]byte]chan time.Time),
		streams:   make(map[uint32]*h2stream),
		next:      1,
		tls:       cfg.TLS != nil,
	}
	d := net.Dialer{KeepAlive: -1}
	nc, err := d.DialContext(ctx, "tcp", cfg.Target)
	if err != nil {
		return nil, dialError(cfg.Target, err)
	}
	if cfg.TLS != nil {
		tc := tls.Client(nc, cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, tlsError(cfg.Target, err, cfg.NameGiven)
		}
		if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
			tc.Close()
			if p == "" {
				p = "none"
			}
			return nil, probeErr("%s: TLS works but the server did not negotiate HTTP/2 (ALPN %q), so it is not a gRPC server", cfg.Target, p)
		}
		nc = tc
	}
	c.nc = nc
	c.fr = http2.NewFramer(nc, recordingConn{Conn: nc, c: c})
	c.fr.ReadMetaHeaders = hpack.NewDecoder(65536, nil)
	c.fr.MaxHeaderListSize = 1 << 20
	c.henc = hpack.NewEncoder(&c.hbuf)

	c.wmu.Lock()
	_, err = io.WriteString(nc, http2.ClientPreface)
	if err == nil {
		// A large connection window: the probe never reads enough to need
		// WINDOW_UPDATEs, which would be traffic on connections meant to be silent.
		err = c.fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 0},
			http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 24})
	}
	c.lastWrite = time.Now()
	c.wmu.Unlock()
	if err != nil {
		nc.Close()
		return nil, probeErr("%s: connected, but writing the HTTP/2 preface failed: %v", cfg.Target, oneLine(err))
	}
	go c.readLoop()
	select {
	case <-c.readyCh:
		return c, nil
	case <-c.done:
		return nil, c.prefaceError()
	case <-ctx.Done():
		c.Close()
		<-c.done
		c.mu.Lock()
		got := len(c.firstBytes)
		c.mu.Unlock()
		if got == 0 {
			e := probeErr("%s: the server accepted the connection but sent nothing in %s after the HTTP/2 preface (not an HTTP/2 server, or a TLS server: try --tls)", cfg.Target, cfg.Timeout)
			e.(*ProbeError).Kind = errSilent
			return nil, e
		}
		return nil, c.prefaceError()
	}
}

// prefaceError names what the peer did instead of sending HTTP/2 SETTINGS.
func (c *h2conn) prefaceError() error {
	c.mu.Lock()
	fb, cerr := c.firstBytes, c.closeErr
	c.mu.Unlock()
	switch {
	case bytes.HasPrefix(fb, []byte("HTTP/")):
		line, _, _ := strings.Cut(string(fb), "\r\n")
		return probeErr("%s: not an HTTP/2 server: it answered the HTTP/2 preface with HTTP/1 (%q)", c.target, line)
	case len(fb) >= 3 && (fb[0] == 0x15 || fb[0] == 0x16) && fb[1] == 3:
		return probeErr("%s: the server speaks TLS; run the probe with --tls", c.target)
	case len(fb) > 0:
		return probeErr("%s: not an HTTP/2 server: it answered the HTTP/2 preface with %q", c.target, fb[:min(len(fb), 16)])
	case c.tls:
		return probeErr("%s: the server closed the connection after the TLS handshake without sending HTTP/2 SETTINGS (%s)", c.target, oneLine(cerr))
	}
	return probeErr("%s: the server closed the connection without answering the HTTP/2 preface (%s); if it serves TLS, run the probe with --tls", c.target, oneLine(cerr))
}

func dialError(target string, err error) error {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return &ProbeError{Msg: fmt.Sprintf("%s: cannot connect: connection refused (nothing listening?)", target), Kind: errRefused}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		return &ProbeError{Msg: fmt.Sprintf("%s: cannot connect: timed out", target), Kind: errTimeout}
	}
	return probeErr("%s: cannot connect: %s", target, oneLine(err))
}

func tlsError(target string, err error, nameGiven bool) error {
	var rh tls.RecordHeaderError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var ve *tls.CertificateVerificationError
	switch {
	case errors.As(err, &rh):
		return probeErr("%s: TLS handshake failed: the server does not speak TLS; run the probe without --tls", target)
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF):
		return probeErr("%s: TLS handshake failed: the server closed the connection (a plaintext server? run the probe without --tls)", target)
	case errors.As(err, &ua):
		return probeErr("%s: TLS: the server's certificate is signed by an unknown authority; pass --ca FILE (or --insecure-skip-verify)", target)
	case errors.As(err, &hn) && nameGiven:
		return probeErr("%s: TLS: %s: the --server-name given does not match the certificate", target, oneLine(hn))
	case errors.As(err, &hn):
		return probeErr("%s: TLS: %s; pass --server-name with a name the certificate is valid for", target, oneLine(hn))
	case errors.As(err, &ci):
		return probeErr("%s: TLS: %s", target, oneLine(ci))
	case errors.As(err, &ve):
		return probeErr("%s: TLS: %s", target, oneLine(ve.Err))
	case errors.Is(err, context.DeadlineExceeded):
		return probeErr("%s: TLS handshake timed out (a plaintext server? run the probe without --tls)", target)
	}
	return probeErr("%s: TLS handshake failed: %s", target, oneLine(err))
}

// oneLine flattens an error to a single line.
func oneLine(err error) string {
	if err == nil {
		return "no error"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// readLoop reads frames until the connection ends, answering what HTTP/2
// requires (SETTINGS and PING acks) and recording everything the probe
// measures.
func (c *h2conn) readLoop() {
	defer close(c.done)
	for {
		f, err := c.fr.ReadFrame()
		now := time.Now()
		if err != nil {
			c.mu.Lock()
			c.closedAt = now
			if len(c.goaways) == 0 {
				c.maxWriteGap = max(c.maxWriteGap, now.Sub(c.lastWrite))
			}
			c.peerClosed = !c.localClose
			if c.closeErr == nil {
				c.closeErr = err
			}
			streams := c.streams
			c.mu.Unlock()
			for _, s := range streams {
				s.end()
			}
			c.nc.Close()
			return
		}
		c.mu.Lock()
		c.lastRead = now
		c.mu.Unlock()
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				continue
			}
			first := false
			c.mu.Lock()
			if c.ready.IsZero() {
				first = true
				c.ready = now
				if c.openStreams == 0 {
					c.idleSince = now
				}
				_ = f.ForeachSetting(func(s http2.Setting) error {
					c.settings = append(c.settings, s)
					return nil
				})
			}
			c.mu.Unlock()
			_ = c.write(func() error { return c.fr.WriteSettingsAck() })
			if first {
				close(c.readyCh)
			}
		case *http2.PingFrame:
			if f.IsAck() {
				c.mu.Lock()
				ch := c.pingWait[f.Data]
				delete(c.pingWait, f.Data)
				c.mu.Unlock()
				if ch != nil {
					ch <- now
				}
				continue
			}
			c.mu.Lock()
			sp := serverPing{At: now, Data: f.Data, Silence: now.Sub(c.lastWrite), SinceData: now.Sub(c.lastData), DataSincePrev: c.probeData}
			if n := len(c.goaways); n > 0 && now.Sub(c.goaways[n-1].At) < drainPingWindow {
				sp.AfterGoaway = true
			}
			c.serverPings = append(c.serverPings, sp)
			c.probeData = false
			c.mu.Unlock()
			data := f.Data
			_ = c.write(func() error { return c.fr.WritePing(true, data) })
		case *http2.GoAwayFrame:
			c.mu.Lock()
			first := len(c.goaways) == 0
			if first {
				c.maxWriteGap = max(c.maxWriteGap, now.Sub(c.lastWrite))
			}
			c.goaways = append(c.goaways, goawayEvent{At: now, Code: f.ErrCode, Debug: string(f.DebugData()), LastStream: f.LastStreamID,
				OpenStreams: c.openStreams, IdleSince: c.idleSince})
			c.mu.Unlock()
			if first {
				close(c.goawayCh)
			}
		case *http2.MetaHeadersFrame:
			c.mu.Lock()
			c.dataHeaders = append(c.dataHeaders, now)
			c.lastData = now
			s := c.streams[f.StreamID]
			if s == nil {
				c.mu.Unlock()
				continue
			}
			s.lastAt = now
			first := len(s.headers) == 0
			if first {
				s.headers = f.Fields
				if c.respHeaders == nil {
					c.respHeaders = f.Fields
				}
			} else {
				s.trailers = f.Fields
			}
			if f.StreamEnded() {
				c.streamDoneLocked(s, now)
			}
			c.mu.Unlock()
			if first {
				s.hdrOnce.Do(func() { close(s.gotHdr) })
			}
			if f.StreamEnded() {
				s.end()
			}
		case *http2.DataFrame:
			c.mu.Lock()
			c.dataHeaders = append(c.dataHeaders, now)
			c.lastData = now
			s := c.streams[f.StreamID]
			if s == nil {
				c.mu.Unlock()
				continue
			}
			s.lastAt = now
			if len(s.data) < 1<<16 {
				s.data = append(s.data, f.Data()...)
			}
			if f.StreamEnded() {
				c.streamDoneLocked(s, now)
			}
			c.mu.Unlock()
			if len(f.Data()) > 0 {
				s.dataOnce.Do(func() { close(s.gotData) })
			}
			if f.StreamEnded() {
				s.end()
			}
		case *http2.RSTStreamFrame:
			c.mu.Lock()
			s := c.streams[f.StreamID]
			if s != nil {
				s.rst = f.ErrCode
				if !s.closed {
					c.rsts = append(c.rsts, rstEvent{At: now, Code: f.ErrCode, Silence: now.Sub(s.lastAt)})
				}
				c.streamDoneLocked(s, now)
			}
			c.mu.Unlock()
			if s != nil {
				s.end()
			}
		}
	}
}

func (s *h2stream) end() { s.endOnce.Do(func() { close(s.ended) }) }

// drainPingWindow is how soon after a GOAWAY a server PING is taken for
// the drain's own PING (grpc-go, C-core and Netty send one right behind
// the first GOAWAY of a two-phase drain).
const drainPingWindow = 200 * time.Millisecond

// streamDoneLocked counts s out of the open streams once; the server's
// idle clock starts when none is left. c.mu is held.
func (c *h2conn) streamDoneLocked(s *h2stream, now time.Time) {
	if s.closed {
		return
	}
	s.closed = true
	c.openStreams--
	if c.openStreams == 0 {
		c.idleSince = now
	}
}

// write runs one framer write under the write lock and stamps it as traffic.
func (c *h2conn) write(f func() error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	err := f()
	c.mu.Lock()
	c.touchWriteLocked(time.Now())
	c.mu.Unlock()
	return err
}

// touchWriteLocked stamps a write at now. c.mu is held.
func (c *h2conn) touchWriteLocked(now time.Time) {
	if len(c.goaways) == 0 && !c.lastWrite.IsZero() {
		c.maxWriteGap = max(c.maxWriteGap, now.Sub(c.lastWrite))
	}
	c.lastWrite = now
}

// Close closes the socket; the read loop then ends.
func (c *h2conn) Close() {
	c.mu.Lock()
	c.localClose = true
	c.mu.Unlock()
	c.nc.Close()
}

// ping sends a PING with payload data and returns a channel that receives
// the time its ACK was read. The send time is returned too.
func (c *h2conn) ping(data [8]byte) (time.Time, <-chan time.Time, error) {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	c.pingWait[data] = ch
	c.pingsSent++
	c.mu.Unlock()
	var sent time.Time
	err := c.write(func() error {
		sent = time.Now()
		return c.fr.WritePing(false, data)
	})
	return sent, ch, err
}

// pingRTT sends one PING and waits up to wait for its ACK.
func (c *h2conn) pingRTT(ctx context.Context, data [8]byte, wait time.Duration) (time.Duration, error) {
	sent, ack, err := c.ping(data)
	if err != nil {
		return 0, err
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case at := <-ack:
		rtt := at.Sub(sent)
		c.mu.Lock()
		c.rtts = append(c.rtts, rtt)
		c.mu.Unlock()
		return rtt, nil
	case <-c.done:
		return 0, fmt.Errorf("connection ended: %s", oneLine(c.err()))
	case <-t.C:
		return 0, fmt.Errorf("no PING ACK within %s", wait)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (c *h2conn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// lastActivity is the time of the last frame read or written.
func (c *h2conn) lastActivity() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastRead.After(c.lastWrite) {
		return c.lastRead
	}
	return c.lastWrite
}

// goawaySnapshot returns the GOAWAYs read so far.
func (c *h2conn) goawaySnapshot() []goawayEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]goawayEvent(nil), c.goaways...)
}

// serverWritesSince reports how many HEADERS or DATA frames were read after t.
func (c *h2conn) serverWritesSince(t time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, at := range c.dataHeaders {
		if at.After(t) {
			n++
		}
	}
	return n
}

// alive reports whether the read loop is still running.
func (c *h2conn) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// Ways a connection ended, as seen by the probe.
const (
	endLocal = "closed by the probe"
	endEOF   = "FIN"   // an orderly TCP close by the peer
	endReset = "reset" // ECONNRESET or EPIPE
	endError = "error" // another read error
)

// endKind says how the connection ended; "" while it is alive.
func (c *h2conn) endKind() string {
	if c.alive() {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.peerClosed:
		return endLocal
	case errors.Is(c.closeErr, io.EOF) || errors.Is(c.closeErr, io.ErrUnexpectedEOF):
		return endEOF
	case errors.Is(c.closeErr, syscall.ECONNRESET) || errors.Is(c.closeErr, syscall.EPIPE):
		return endReset
	}
	return endError
}

// setRole names what the probe uses the connection for, for the report.
func (c *h2conn) setRole(r string) {
	c.mu.Lock()
	c.role = r
	c.mu.Unlock()
}

// silenceAtEnd is how long the connection had carried nothing, either
// way, when it ended (or until now, while it is alive).
func (c *h2conn) silenceAtEnd() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.closedAt
	if end.IsZero() {
		end = time.Now()
	}
	last := c.lastRead
	if c.lastWrite.After(last) {
		last = c.lastWrite
	}
	return end.Sub(last)
}
