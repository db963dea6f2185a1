package stats_test

import (
	"io"
	"net"
	"testing"

	"golang.org/x/net/http2"

	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
)

// A raw HTTP/2 client pings a grpc-go server left at grpc's default
// enforcement policy (MinTime 5 minutes) back to back. grpc-go answers the
// third strike with GOAWAY ENHANCE_YOUR_CALM "too_many_pings" and closes.
func TestScenarioTooManyPingsServer(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{})
	r := dialRaw(t, s.Target)
	for i := 0; i < 10; i++ {
		if err := r.fr.WritePing(false, [8]byte{}); err != nil {
			break // the server may already have closed
		}
	}
	if g := r.readUntilEnd(); g == nil || g.code != http2.ErrCodeEnhanceYourCalm || g.debug != "too_many_pings" {
		t.Fatalf("GOAWAY %+v, want ENHANCE_YOUR_CALM too_many_pings", g)
	}
	s.Server.WaitClose(t, "too_many_pings", "local")
	if n := s.Server.M.Sum(t, semconv.MetricPings, semconv.PingDirection.String("received")); n < 3 {
		t.Errorf("server counted %d received keepalive pings, want >= 3", n)
	}
	if n := s.Server.M.Sum(t, semconv.MetricGoAways, semconv.GoAwayDirection.String("sent"),
		semconv.GoAwayCode.String("ENHANCE_YOUR_CALM"), semconv.GoAwayReason.String("too_many_pings")); n != 1 {
		t.Errorf("server GOAWAY count:\n%s", s.Server.M.Dump(t, semconv.MetricGoAways))
	}
}

// rawGoAway serves HTTP/2 connections that, after the SETTINGS exchange,
// get one GOAWAY, standing in for a server whose ping enforcement a grpc
// client violated (grpc-go's client cannot ping fast enough to provoke a
// real server within a test: Time >= 10s).
func rawGoAway(t *testing.T, code http2.ErrCode, debug string) (addr string, wait func()) {
	lis := listenTCP(t)
	return lis.Addr().String(), serveRaw(lis, func(_ int, fr *http2.Framer, c net.Conn) {
		if fr.WriteGoAway(0, code, []byte(debug)) == nil {
			// Drain until the client closes, so its own shutdown
			// GOAWAY is read rather than answered with RST.
			_, _ = io.Copy(io.Discard, c)
		}
	})
}

func TestScenarioTooManyPingsClient(t *testing.T) {
	t.Parallel()
	s := start(t, testenv.Setup{}) // a real server only for the invariants' bookkeeping
	addr, wait := rawGoAway(t, http2.ErrCodeEnhanceYourCalm, "too_many_pings")
	s.Target = addr
	cc := s.Dial(t, nil, true)
	cc.Connect()
	s.Client.WaitClose(t, "too_many_pings", "peer")
	if n := s.Client.M.Sum(t, semconv.MetricGoAways, semconv.GoAwayDirection.String("received"),
		semconv.GoAwayCode.String("ENHANCE_YOUR_CALM"), semconv.GoAwayReason.String("too_many_pings")); n == 0 {
		t.Errorf("client GOAWAY count:\n%s", s.Client.M.Dump(t, semconv.MetricGoAways))
	}
	_ = cc.Close()
	wait()
}
