package probe

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Foreign peers and middleboxes for the probe's tests, run as real
// processes: a gRPC C-core server (Debian's python3-grpcio), HAProxy in TCP
// mode and nginx with grpc_pass, both in front of a grpc-go server.

// requirePeer skips the test with one line saying how to get what is
// missing, or fails it where GRPCPULSE_REQUIRE_PEERS=1 asks for every peer.
func requirePeer(t *testing.T, ok bool, what, how string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("GRPCPULSE_REQUIRE_PEERS") == "1" {
		t.Fatalf("%s is missing and GRPCPULSE_REQUIRE_PEERS=1: %s", what, how)
	}
	t.Skipf("%s is missing: %s", what, how)
}

// python is the interpreter Debian's python3-grpcio installs grpc for.
const python = "/usr/bin/python3"

// startCCore runs testdata/ccore_server.py with channel arguments args and
// returns its address. It ends with the test.
func startCCore(t *testing.T, args ...string) string {
	t.Helper()
	err := exec.Command(python, "-c", "import grpc").Run()
	requirePeer(t, err == nil, "gRPC C-core (python3-grpcio)", "apt-get install python3-grpcio")
	cmd := exec.Command(python, append([]string{"testdata/ccore_server.py"}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("C-core server did not start: %v", err)
	}
	port, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if !ok {
		t.Fatalf("C-core server said %q", line)
	}
	return "127.0.0.1:" + port
}

// freePort returns a loopback address nothing listens on, for a process
// that must be told its port.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startDaemon runs a proxy in the foreground until the test ends, and
// waits until addr accepts connections.
func startDaemon(t *testing.T, addr string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("%s exited: %s", name, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s: %v\n%s", name, addr, err, out.String())
		}
		time.Sleep(50 * time.Millisecond) // polling for the listener, not synchronising
	}
}

// startHAProxy runs HAProxy in TCP mode in front of backend, with idle
// timeouts of timeout and at most maxconn connections (0: no limit).
func startHAProxy(t *testing.T, backend string, timeout time.Duration, maxconn int) string {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	requirePeer(t, err == nil, "HAProxy", "apt-get install haproxy")
	addr := freePort(t)
	limit := ""
	if maxconn > 0 {
		limit = fmt.Sprintf("  maxconn %d\n", maxconn)
	}
	cfg := fmt.Sprintf(`global
  maxconn 200
defaults
  mode tcp
  timeout connect 2s
  timeout client %dms
  timeout server %dms
listen grpc
  bind %s
%s  server backend %s
`, timeout.Milliseconds(), timeout.Milliseconds(), addr, limit, backend)
	file := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, addr, bin, "-db", "-f", file)
	return addr
}

// startNginx runs nginx with grpc_pass to backend, its stream and idle
// timers at timeout.
func startNginx(t *testing.T, backend string, timeout time.Duration) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	requirePeer(t, err == nil, "nginx", "apt-get install nginx")
	dir := t.TempDir()
	addr := freePort(t)
	ms := timeout.Milliseconds()
	cfg := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  keepalive_timeout %[2]dms;
  server {
    listen %[3]s http2;
    grpc_read_timeout %[2]dms;
    grpc_send_timeout %[2]dms;
    client_body_timeout %[2]dms;
    location / { grpc_pass grpc://%[4]s; }
  }
}
`, dir, ms, addr, backend)
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, addr, bin, "-c", file, "-e", filepath.Join(dir, "error.log"), "-p", dir)
	return addr
}
