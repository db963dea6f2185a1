package grpcjs_test

import (
	"fmt"
	"testing"

	"github.com/grpcpulse/grpcpulse/internal/peers/foreign"
	"github.com/grpcpulse/grpcpulse/internal/peers/peertest"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
)

// A Node program that made a grpc-js channel, connected and then finished
// without closing it: grpc-js unrefs an idle HTTP/2 session (transport.ts),
// so Node exits with the connection open and the kernel closes the socket,
// with a reset when the server's SETTINGS or SETTINGS ACK are still unread.
// The Go server sees the peer go away with no GOAWAY: DESIGN's verdict is
// peer_closed (EOF) or connection_reset (ECONNRESET / EPIPE), initiator
// peer, for every such connection.
//
// The close comes within a millisecond of the handshake, so it races
// grpc-go's own setup: the server transport's writer goroutine runs (and
// can fail a Write) before Server.serveStreams calls the stats handler's
// TagConn. Several short-lived clients make sure that ordering is hit.
func TestGRPCJSClientExitsWithIdleChannel(t *testing.T) {
	t.Parallel()
	const clients = 20
	srv, addr := peertest.GoServer(t, &testenv.Service{})
	for i := 1; i <= clients; i++ {
		js := foreign.StartJSClient(t, foreign.JSClientConfig{Target: addr, ExitWhenIdle: true})
		js.WaitExit(t)
		n := int64(i)
		testenv.Eventually(t, func() string {
			if srv.Closes(t) == n {
				return ""
			}
			return fmt.Sprintf("want %d closes\n%s", n, srv.Dump(t))
		})
	}
	eof := srv.Closes(t, semconv.CloseReason.String("peer_closed"), semconv.CloseInitiator.String("peer"))
	rst := srv.Closes(t, semconv.CloseReason.String("connection_reset"), semconv.CloseInitiator.String("peer"))
	t.Logf("%s", srv.Dump(t))
	if eof+rst != clients {
		t.Errorf("%d of %d closes are peer_closed or connection_reset with initiator peer\n%s", eof+rst, clients, srv.Dump(t))
	}
}
