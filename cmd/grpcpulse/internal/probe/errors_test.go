package probe

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/grpcpulse/grpcpulse/options"
)

// command runs the probe command as the CLI does and returns its exit
// code and output.
func command(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = Command(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// wantOneLineError checks that a failed probe exits 1 with exactly one line
// on stderr that contains each of want.
func wantOneLineError(t *testing.T, args []string, want ...string) {
	t.Helper()
	start := time.Now()
	code, stdout, stderr := command(t, args...)
	if code != 1 {
		t.Errorf("exit code %d, want 1 (stderr %q)", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
	if lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n"); len(lines) != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr is not one line: %q", stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q does not contain %q", stderr, w)
		}
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the error took %s", d)
	}
	t.Logf("stderr: %s", stderr)
}

func TestNothingListening(t *testing.T) {
	t.Parallel()
	addr := unusedAddr(t)
	wantOneLineError(t, []string{addr}, "cannot connect", "connection refused")
}

func TestHTTP1Server(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	wantOneLineError(t, []string{strings.TrimPrefix(srv.URL, "http://")}, "not an HTTP/2 server", "HTTP/1")
}

func TestH2CServerNotGRPC(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	wantOneLineError(t, []string{strings.TrimPrefix(srv.URL, "http://")}, "HTTP/2 server, but not gRPC", "404", "text/plain")
}

func TestTLSAgainstPlaintext(t *testing.T) {
	t.Parallel()
	addr := startServer(t, options.DefaultServerPolicy())
	wantOneLineError(t, []string{"--tls", "--insecure-skip-verify", addr}, "TLS handshake failed", "without --tls")
}

func TestPlaintextAgainstTLS(t *testing.T) {
	t.Parallel()
	cert, _ := testCert(t)
	addr := startServer(t, options.DefaultServerPolicy(), grpc.Creds(credentials.NewServerTLSFromCert(&cert)))
	wantOneLineError(t, []string{addr}, "--tls")
}

func TestTLSUnknownAuthority(t *testing.T) {
	t.Parallel()
	cert, _ := testCert(t)
	addr := startServer(t, options.DefaultServerPolicy(), grpc.Creds(credentials.NewServerTLSFromCert(&cert)))
	wantOneLineError(t, []string{"--tls", addr}, "unknown authority", "--ca")
}

// TestTLS probes a TLS server with its CA, through the command, and gets a
// JSON report.
func TestTLS(t *testing.T) {
	t.Parallel()
	cert, caFile := testCert(t)
	addr := startServer(t, options.DefaultServerPolicy(), grpc.Creds(credentials.NewServerTLSFromCert(&cert)))
	code, stdout, stderr := command(t, "--ca", caFile, "--server-name", "probe.test", "--budget", "5s", "--json", addr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, w := range []string{`"tls": true`, `"health": "SERVING"`, `"advice"`, `"findings"`} {
		if !strings.Contains(stdout, w) {
			t.Errorf("JSON report lacks %s:\n%s", w, stdout)
		}
	}
	if !strings.Contains(stderr, "TLS, ALPN h2") {
		t.Errorf("progress lacks the TLS connection line:\n%s", stderr)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{}, {"a", "b"}, {"not-a-host-port"}, {"--budget", "1s", "127.0.0.1:1"}, {"--nope", "127.0.0.1:1"}} {
		if code, _, _ := command(t, args...); code != 2 {
			t.Errorf("args %q: exit %d, want 2", args, code)
		}
	}
}

// testCert returns a self-signed certificate for "probe.test" and
// 127.0.0.1, and the path of its PEM file for --ca.
func testCert(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "probe.test"},
		DNSNames:              []string{"probe.test"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, file
}
