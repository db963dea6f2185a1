package credwrap_test

import (
	"context"
	"net"
	"runtime"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
	"github.com/grpcpulse/grpcpulse/internal/credwrap"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

type readyReader interface {
	ReadOnReady(bufSize int, pool mem.BufferPool) (*[]byte, int, error)
}

// counted is credentials that hand grpc-go the wrapped credentials' conn in
// a shell that counts which of its read methods grpc-go calls.
type counted struct {
	credentials.TransportCredentials
	t            *testing.T
	reads, ready *atomic.Int64 // bytes Read, ReadOnReady calls
}

func (c counted) wrap(conn net.Conn) net.Conn {
	rr, ok := conn.(readyReader)
	if !ok {
		c.t.Errorf("the observed conn (%T) does not implement ReadOnReady", conn)
		return conn
	}
	return &countingConn{Conn: conn, rr: rr, c: c}
}

func (c counted) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, ai, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	if err != nil {
		return conn, ai, err
	}
	return c.wrap(conn), ai, nil
}

func (c counted) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, ai, err := c.TransportCredentials.ServerHandshake(raw)
	if err != nil {
		return conn, ai, err
	}
	return c.wrap(conn), ai, nil
}

type countingConn struct {
	net.Conn
	rr readyReader
	c  counted
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.c.reads.Add(int64(n))
	return n, err
}

func (c *countingConn) ReadOnReady(size int, pool mem.BufferPool) (*[]byte, int, error) {
	c.c.ready.Add(1)
	return c.rr.ReadOnReady(size, pool)
}

// TestGRPCReadsOnReady checks, with a real grpc-go server and client over
// loopback TCP, that the conn the wrapped credentials return offers
// ReadOnReady and that grpc-go reads it only that way, on both sides: the
// way it reads a bare TCP conn, with no read buffer pinned while idle.
func TestGRPCReadsOnReady(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("grpc-go reads bare conns on readiness only on Linux")
	}
	var sReads, sReady, cReads, cReady atomic.Int64
	sreg, creg := conntrack.NewRegistry(pulse.SideServer, nil), conntrack.NewRegistry(pulse.SideClient, nil)
	screds := counted{TransportCredentials: credwrap.Wrap(insecure.NewCredentials(), sreg), t: t, reads: &sReads, ready: &sReady}
	ccreds := counted{TransportCredentials: credwrap.Wrap(insecure.NewCredentials(), creg), t: t, reads: &cReads, ready: &cReady}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(screds))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	defer srv.Stop()

	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(ccreds))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := healthpb.NewHealthClient(cc).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	cc.Close()
	srv.Stop()
	if sReady.Load() == 0 || cReady.Load() == 0 {
		t.Errorf("ReadOnReady calls: server %d, client %d; want some on both sides", sReady.Load(), cReady.Load())
	}
	// The server reads the client preface with Read, bare or not, before
	// its framer takes over.
	if sReads.Load() != 24 || cReads.Load() != 0 {
		t.Errorf("bytes Read: server %d, client %d; want 24 (the client preface) and 0: grpc-go fell back to a buffered reader", sReads.Load(), cReads.Load())
	}
}
