package foreign

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Proxy is a middlebox (HAProxy or nginx) running on loopback in front of
// a backend.
type Proxy struct {
	*Process
	// Addr is where it listens: 127.0.0.1:port.
	Addr string
	// Config is the configuration file it runs with, for messages.
	Config string

	admin string // HAProxy's admin socket
}

// HAProxyConfig configures HAProxy in TCP mode: one frontend on loopback,
// one backend server. HAProxy closes a flow that stays idle longer than
// its client or server timeout with a FIN to both ends.
type HAProxyConfig struct {
	// Backend is the server's address, host:port.
	Backend string
	// TimeoutConnect, TimeoutClient and TimeoutServer are the timeout
	// connect, client and server directives; zero leaves one out (HAProxy
	// then warns and never times that phase out).
	TimeoutConnect, TimeoutClient, TimeoutServer time.Duration
	// MaxConn is the frontend's maxconn: the connections past it wait in
	// the kernel's accept queue, connected but unanswered. Zero leaves it
	// out.
	MaxConn int
	// Defaults are more lines for the defaults section (such as
	// "timeout tunnel 1h" or "timeout client-fin 1s").
	Defaults []string
}

// StartHAProxy starts HAProxy (haproxy -db, in the foreground) with cfg,
// and returns once it has bound its listener and answers on its admin
// socket. Its log, one line per ended flow (option tcplog), goes to
// stderr.
func StartHAProxy(t testing.TB, cfg HAProxyConfig) *Proxy {
	t.Helper()
	rt := HAProxy(t)
	dir := shortTempDir(t, "haproxy")
	sock := filepath.Join(dir, "admin.sock")
	return startMiddlebox(t, "haproxy", sock, func(port int) (Program, string, func() error) {
		var b strings.Builder
		fmt.Fprintf(&b, "global\n\tnbthread 1\n\tlog stderr format raw daemon info\n\tstats socket %s mode 600 level admin\n", sock)
		b.WriteString("defaults\n\tmode tcp\n\tlog global\n\toption tcplog\n")
		for _, d := range []struct {
			name string
			v    time.Duration
		}{{"connect", cfg.TimeoutConnect}, {"client", cfg.TimeoutClient}, {"server", cfg.TimeoutServer}} {
			if d.v > 0 {
				fmt.Fprintf(&b, "\ttimeout %s %dms\n", d.name, max(d.v.Milliseconds(), 1))
			}
		}
		for _, l := range cfg.Defaults {
			fmt.Fprintf(&b, "\t%s\n", l)
		}
		// socket-stats: the listener's own line in "show stat" says
		// whether it waits for a free connection slot.
		fmt.Fprintf(&b, "frontend fe\n\tbind 127.0.0.1:%d\n\toption socket-stats\n", port)
		if cfg.MaxConn > 0 {
			fmt.Fprintf(&b, "\tmaxconn %d\n", cfg.MaxConn)
		}
		fmt.Fprintf(&b, "\tdefault_backend be\nbackend be\n\tserver s1 %s\n", cfg.Backend)
		conf := filepath.Join(dir, "haproxy.cfg")
		ready := func() error { return haproxyReady(sock) }
		if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
			return Program{}, "", func() error { return err }
		}
		_ = os.Remove(sock)
		return Program{Name: "haproxy", Path: rt.Path, Args: []string{"-db", "-f", conf}, Dir: dir, Version: "HAProxy " + rt.Version},
			b.String(), ready
	})
}

// haproxyReady asks HAProxy's admin socket for its info: it answers once
// every listener is bound and the process runs.
func haproxyReady(sock string) error {
	b, err := haproxyAdmin(sock, "show info")
	if err != nil {
		return err
	}
	if !strings.Contains(b, "Pid:") {
		return fmt.Errorf("admin socket answered %q", b)
	}
	return nil
}

func haproxyAdmin(sock, command string) (string, error) {
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, command+"\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// Admin runs one command on HAProxy's admin socket ("show stat", "show
// sess", ...) and returns its answer.
func (p *Proxy) Admin(t testing.TB, command string) string {
	t.Helper()
	if p.admin == "" {
		t.Fatalf("%s has no admin socket", p.name)
	}
	out, err := haproxyAdmin(p.admin, command)
	if err != nil {
		t.Fatalf("%s admin %q: %v", p.name, command, err)
	}
	return out
}

// NginxConfig configures nginx as an HTTP/2-terminating gRPC proxy:
// `listen ... http2` on loopback and `grpc_pass grpc://Backend`. Each
// Duration is the directive of the same name; zero leaves it out (nginx's
// default: 60s for each, 75s for keepalive_timeout).
type NginxConfig struct {
	// Backend is the gRPC server's address, host:port, plaintext.
	Backend string
	// GRPCConnectTimeout, GRPCReadTimeout and GRPCSendTimeout bound the
	// upstream connection's setup, and the silence between two reads or
	// two writes on it: a held stream that is silent longer than
	// grpc_read_timeout is ended by nginx.
	GRPCConnectTimeout, GRPCReadTimeout, GRPCSendTimeout time.Duration
	// ClientBodyTimeout bounds the silence between two reads of a
	// request body from the client.
	ClientBodyTimeout time.Duration
	// ClientHeaderTimeout bounds the wait for the first request's headers
	// (1.22 reads it for HTTP/2 in place of the obsolete
	// http2_recv_timeout).
	ClientHeaderTimeout time.Duration
	// KeepaliveTimeout is how long an HTTP/2 client connection may stay
	// without streams (1.22 reads it in place of the obsolete
	// http2_idle_timeout).
	KeepaliveTimeout time.Duration
	// Server and Location are more directives, one a line, for the
	// server block and its location block.
	Server, Location []string
	// ErrorLogLevel is the error_log level (default info: nginx then logs
	// each connection a client or a timeout closes).
	ErrorLogLevel string
}

// StartNginx starts nginx with cfg in the foreground (daemon off, one
// process) as the current user, under a temporary prefix, and returns
// once it serves. Its error log and access log go to stderr.
func StartNginx(t testing.TB, cfg NginxConfig) *Proxy {
	t.Helper()
	rt := Nginx(t)
	dir := shortTempDir(t, "nginx")
	sock := filepath.Join(dir, "ready.sock")
	level := cfg.ErrorLogLevel
	if level == "" {
		level = "info"
	}
	return startMiddlebox(t, "nginx", "", func(port int) (Program, string, func() error) {
		var b strings.Builder
		fmt.Fprintf(&b, "daemon off;\nmaster_process off;\npid %s;\nerror_log stderr %s;\nevents { worker_connections 1024; }\nhttp {\n",
			filepath.Join(dir, "nginx.pid"), level)
		fmt.Fprintf(&b, "\tlog_format grpc '$remote_addr \"$request\" $status $request_time upstream=$upstream_addr/$upstream_status grpc-status=$sent_trailer_grpc_status';\n")
		b.WriteString("\taccess_log /dev/stderr grpc;\n")
		for _, p := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
			fmt.Fprintf(&b, "\t%s_temp_path %s;\n", p, filepath.Join(dir, p))
		}
		directive := func(indent, name string, v time.Duration) {
			if v > 0 {
				fmt.Fprintf(&b, "%s%s %dms;\n", indent, name, max(v.Milliseconds(), 1))
			}
		}
		directive("\t", "keepalive_timeout", cfg.KeepaliveTimeout)
		directive("\t", "client_header_timeout", cfg.ClientHeaderTimeout)
		directive("\t", "client_body_timeout", cfg.ClientBodyTimeout)
		fmt.Fprintf(&b, "\tserver {\n\t\tlisten 127.0.0.1:%d http2;\n", port)
		for _, l := range cfg.Server {
			fmt.Fprintf(&b, "\t\t%s\n", strings.TrimSuffix(l, ";")+";")
		}
		fmt.Fprintf(&b, "\t\tlocation / {\n\t\t\tgrpc_pass grpc://%s;\n", cfg.Backend)
		directive("\t\t\t", "grpc_connect_timeout", cfg.GRPCConnectTimeout)
		directive("\t\t\t", "grpc_read_timeout", cfg.GRPCReadTimeout)
		directive("\t\t\t", "grpc_send_timeout", cfg.GRPCSendTimeout)
		for _, l := range cfg.Location {
			fmt.Fprintf(&b, "\t\t\t%s\n", strings.TrimSuffix(l, ";")+";")
		}
		b.WriteString("\t\t}\n\t}\n")
		// A second server, on a Unix socket in the prefix, answers once
		// nginx has bound every listener and serves: the readiness check.
		fmt.Fprintf(&b, "\tserver {\n\t\tlisten unix:%s;\n\t\taccess_log off;\n\t\tlocation / { return 200 \"ready\\n\"; }\n\t}\n}\n", sock)
		conf := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
			return Program{}, "", func() error { return err }
		}
		_ = os.Remove(sock)
		return Program{Name: "nginx", Path: rt.Path, Args: []string{"-p", dir, "-e", "stderr", "-c", conf}, Dir: dir, Version: "nginx " + rt.Version},
			b.String(), func() error { return nginxReady(sock) }
	})
}

func nginxReady(sock string) error {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("http://nginx/")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readiness server answered %s", resp.Status)
	}
	return nil
}

// startMiddlebox starts a middlebox on a free port: configure writes its
// configuration for a port and returns the program, the configuration's
// text and the readiness check. A port taken between the choice and the
// bind makes the middlebox exit, and another port is tried.
func startMiddlebox(t testing.TB, name, admin string, configure func(port int) (Program, string, func() error)) *Proxy {
	t.Helper()
	const tries = 8
	for try := 1; ; try++ {
		port := freePort(t)
		prog, conf, ready := configure(port)
		p, err := start(prog)
		if err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		var rerr error
		deadline := time.Now().Add(Patience)
		exited := false
		for {
			if rerr = ready(); rerr == nil {
				break
			}
			select {
			case <-p.done:
				exited = true
			case <-time.After(20 * time.Millisecond):
			}
			if exited || time.Now().After(deadline) {
				break
			}
		}
		if rerr == nil {
			t.Cleanup(func() {
				p.kill()
				if t.Failed() {
					t.Logf("%s (%s) configuration:\n%s\nlog (tail):\n%s", p.name, p.version, conf, tail(p.Stderr()+p.Stdout(), 80))
				}
			})
			return &Proxy{Process: p, Addr: fmt.Sprintf("127.0.0.1:%d", port), Config: conf, admin: admin}
		}
		p.kill()
		log := p.Stderr() + p.Stdout()
		if exited && try < tries && addrInUse(log) {
			continue
		}
		t.Fatalf("%s did not become ready (%v); configuration:\n%s\nlog (tail):\n%s", name, rerr, conf, tail(log, 80))
	}
}

func addrInUse(log string) bool {
	return strings.Contains(log, "Address already in use") || strings.Contains(log, "cannot bind")
}

// freePort returns a loopback TCP port that is free now. It is chosen
// below the kernel's usual ephemeral range (32768 and up on Linux), where
// the listeners and outgoing connections of other tests do not land, and
// the caller retries should another middlebox take it first.
func freePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		_ = l.Close()
		return port
	}
	t.Fatal("no free port in 20000-31999 on 127.0.0.1")
	return 0
}

// shortTempDir is a temporary directory removed when the test ends, with
// a path short enough for a Unix socket inside it (t.TempDir's names
// carry the test's name and can be too long).
func shortTempDir(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "grpcpulse-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
