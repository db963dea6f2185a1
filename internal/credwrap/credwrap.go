// Package credwrap installs the frame observer by wrapping gRPC transport
// credentials.
//
// Credentials are the one hook through which grpc-go hands over a conn
// after the security handshake: the conn a handshake returns carries
// plaintext HTTP/2 even under TLS. A context dialer or a wrapped listener
// would see ciphertext, and grpc-go's TCP_USER_TIMEOUT (set on the raw conn
// before the handshake) is unaffected by wrapping the returned conn.
package credwrap

import (
	"context"
	"net"

	"google.golang.org/grpc/credentials"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
)

// Wrap returns credentials that behave exactly like c and open a journal in
// reg for every connection that completes its handshake. The conn handed to
// c's handshake is never wrapped (xDS credentials assert on the raw conn);
// only the returned one is. AuthInfo passes through untouched, so
// peer.AuthInfo.(credentials.TLSInfo) keeps working.
func Wrap(c credentials.TransportCredentials, reg *conntrack.Registry) credentials.TransportCredentials {
	if w, ok := c.(*transportCreds); ok && w.reg == reg {
		return w // wrapping twice would observe every frame twice
	}
	return &transportCreds{inner: c, reg: reg}
}

type transportCreds struct {
	inner credentials.TransportCredentials
	reg   *conntrack.Registry
}

func (t *transportCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, ai, err := t.inner.ClientHandshake(ctx, authority, raw)
	if err != nil {
		return conn, ai, err
	}
	wc, _ := t.reg.Observe(conn)
	return wc, ai, nil
}

func (t *transportCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, ai, err := t.inner.ServerHandshake(raw)
	if err != nil {
		return conn, ai, err
	}
	wc, _ := t.reg.Observe(conn)
	return wc, ai, nil
}

// Info forwards: grpc-go reads SecurityProtocol (for example to refuse
// per-RPC credentials over "insecure") and ServerName from it.
func (t *transportCreds) Info() credentials.ProtocolInfo { return t.inner.Info() }

func (t *transportCreds) Clone() credentials.TransportCredentials {
	return &transportCreds{inner: t.inner.Clone(), reg: t.reg}
}

// OverrideServerName forwards: the interface still requires it, and
// forwarding keeps wrapped credentials behaving like the original.
func (t *transportCreds) OverrideServerName(name string) error {
	//lint:ignore SA1019 forwarded to the wrapped credentials, see above.
	return t.inner.OverrideServerName(name)
}

// UsesXDS forwards the optional method xDS balancers look for.
func (t *transportCreds) UsesXDS() bool {
	x, ok := t.inner.(interface{ UsesXDS() bool })
	return ok && x.UsesXDS()
}

// WrapBundle returns a bundle whose transport credentials are wrapped with
// Wrap; per-RPC credentials are untouched.
func WrapBundle(b credentials.Bundle, reg *conntrack.Registry) credentials.Bundle {
	return &bundle{inner: b, reg: reg}
}

type bundle struct {
	inner credentials.Bundle
	reg   *conntrack.Registry
}

func (b *bundle) TransportCredentials() credentials.TransportCredentials {
	tc := b.inner.TransportCredentials()
	if tc == nil {
		return nil
	}
	return Wrap(tc, b.reg)
}

func (b *bundle) PerRPCCredentials() credentials.PerRPCCredentials {
	return b.inner.PerRPCCredentials()
}

func (b *bundle) NewWithMode(mode string) (credentials.Bundle, error) {
	nb, err := b.inner.NewWithMode(mode)
	if err != nil {
		return nil, err
	}
	return &bundle{inner: nb, reg: b.reg}, nil
}
