package stats_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// selfSigned returns server and client TLS credentials for 127.0.0.1 from a
// certificate generated for this test.
func selfSigned(t *testing.T) (server, client credentials.TransportCredentials) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "grpcpulse test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	client = credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	return server, client
}

// Under TLS the observer still reads frames (the GOAWAY the client sends on
// Close decides the server's reason), and the AuthInfo the application sees
// is still the TLS one.
func TestScenarioTLS(t *testing.T) {
	t.Parallel()
	serverCreds, clientCreds := selfSigned(t)
	authInfo := make(chan credentials.AuthInfo, 1)
	s := start(t, testenv.Setup{ServerCreds: serverCreds, ServerOpts: []grpc.ServerOption{
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if p, ok := peer.FromContext(ctx); ok {
				select {
				case authInfo <- p.AuthInfo:
				default:
				}
			}
			return h(ctx, req)
		}),
	}})
	wrapped := s.Client.H.WrapCredentials(clientCreds)
	if got, want := wrapped.Info(), clientCreds.Info(); got != want {
		t.Errorf("Info() = %+v, want %+v", got, want)
	}
	if got := wrapped.Clone().Info().SecurityProtocol; got != "tls" {
		t.Errorf("Clone().Info().SecurityProtocol = %q, want tls", got)
	}
	cc := s.Dial(t, clientCreds, true)
	testenv.Call(t, cc)
	if _, ok := (<-authInfo).(credentials.TLSInfo); !ok {
		t.Fatal("peer.AuthInfo is not credentials.TLSInfo behind the wrapper")
	}
	_ = cc.Close()
	s.Client.WaitClose(t, "client_shutdown", "local")
	s.Server.WaitClose(t, "client_shutdown", "peer")
}
