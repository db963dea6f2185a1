package grpcjs_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/interceptors"
	"github.com/grpcpulse/grpcpulse/internal/peers/foreign"
	"github.com/grpcpulse/grpcpulse/internal/peers/peertest"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Scenarios between grpcpulse on grpc-go and @grpc/grpc-js 1.14 on Node.js.
// Each asserts what grpcpulse recorded, read back through the OpenTelemetry
// SDK, and what the grpc-js program printed. They wait on events and poll;
// none asserts a duration.
//
// The wire notes below come from grpc-js's source (node_modules/@grpc/
// grpc-js/src of the npm project foreign.Node prepares, version in
// internal/peers/foreign/js/package-lock.json), Node's http2 module, and
// runs with the frames logged by grpcpulse's frame observer.

const streamMethod = "grpc.testing.TestService/StreamingOutputCall"

// A grpc-js client pings faster than the Go server's enforcement policy
// (MinTime 5 s) allows, idle and with a server stream open.
//
// On the wire: grpc-js has no lower bound on grpc.keepalive_time_ms
// (subchannel.ts only caps it); with grpc.keepalive_permit_without_calls=1
// it starts the keepalive timer as soon as the transport is up
// (transport.ts) and sends the next PING keepaliveMs after each ACK. Node
// fills the 8 payload bytes with a timestamp, so grpcpulse counts them as
// keepalive PINGs. The server strikes every PING within MinTime of the
// previous one; the fourth PING is the third strike, and the server sends
// GOAWAY ENHANCE_YOUR_CALM "too_many_pings" (last-stream-id 0 idle, 1 with
// the stream) and closes. Node's http2 session, on a GOAWAY with an error
// code, destroys itself and answers with GOAWAY NO_ERROR, last-stream-id 0,
// no debug data (seen twice on the wire; grpcpulse counts one event), then
// closes the socket.
//
// grpc-js: the transport's goaway handler recognises ENHANCE_YOUR_CALM +
// "too_many_pings", the subchannel goes READY -> IDLE, doubles its
// keepalive time and logs at ERROR "Connection to ... rejected by server
// because of excess pings. Increasing ping interval to 200 ms". The open
// stream ends with RST code ENHANCE_YOUR_CALM, which subchannel-call.ts maps
// to RESOURCE_EXHAUSTED "Bandwidth exhausted or memory limit exceeded":
// not UNAVAILABLE, so the application cannot tell it from a real resource
// limit by the code alone.
func TestGRPCJSClientPingsTooFast(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		stream bool
	}{{"idle", false}, {"stream", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := &testenv.Service{Started: make(chan string, 4)}
			srv, addr := peertest.GoServer(t, svc, options.WithEnforcementPolicy(keepalive.EnforcementPolicy{
				MinTime: 5 * time.Second, PermitWithoutStream: true,
			}))
			stream, call := "0", foreign.CallNone
			if tc.stream {
				stream, call = "1", foreign.CallStream
			}
			js := foreign.StartJSClient(t, foreign.JSClientConfig{Target: addr, Call: call, Args: foreign.Args{
				"grpc.keepalive_time_ms": 100, "grpc.keepalive_permit_without_calls": 1,
			}})
			// grpc-js logs that the server rejected its pings, and its
			// channel leaves READY.
			js.WaitEvent(t, "log", func(e foreign.Event) bool {
				return strings.Contains(e.Text, "rejected by server because of excess pings")
			})
			testenv.Eventually(t, func() string {
				ready := false
				for _, e := range js.Events() {
					if e.Event == "state" && e.State == "READY" {
						ready = true
					} else if e.Event == "state" && ready {
						return ""
					}
				}
				return "the grpc-js channel did not leave READY after being READY\n" + js.Stdout()
			})
			if tc.stream {
				js.WaitEvent(t, "status", nil)
			}
			js.WaitExit(t)
			t.Logf("grpc-js client printed:\n%s", js.Stdout())

			if tc.stream {
				st := js.WaitEvent(t, "status", nil)
				if st.CodeName != "RESOURCE_EXHAUSTED" || !strings.Contains(st.Details, "Bandwidth exhausted") {
					t.Errorf("grpc-js stream status = %s %q, want RESOURCE_EXHAUSTED \"Bandwidth exhausted ...\"", st.CodeName, st.Details)
				}
			}

			srv.WaitClose(t, "too_many_pings", "local")
			testenv.Eventually(t, func() string {
				if srv.Closes(t) == 1 && srv.Closes(t, semconv.CloseReason.String("too_many_pings"), semconv.CloseInitiator.String("local"),
					semconv.DisconnectError.String("GOAWAY ENHANCE_YOUR_CALM"), semconv.CloseActiveRPCs.Bool(tc.stream)) == 1 {
					return ""
				}
				return "want exactly one close: too_many_pings, local, GOAWAY ENHANCE_YOUR_CALM, active_rpcs=" + stream + "\n" + srv.Dump(t)
			})
			if n := srv.GoAways(t, semconv.GoAwayDirection.String("sent"), semconv.GoAwayCode.String("ENHANCE_YOUR_CALM"),
				semconv.GoAwayReason.String("too_many_pings")); n != 1 {
				t.Errorf("server: %d GOAWAY ENHANCE_YOUR_CALM too_many_pings sent, want 1\n%s", n, srv.Dump(t))
			}
			// Three strikes take four PINGs; a slow run may see more
			// before the server's GOAWAY reaches grpc-js.
			if n := srv.M.Sum(t, semconv.MetricPings, semconv.PingDirection.String("received")); n < 4 {
				t.Errorf("server counted %d received keepalive pings, want >= 4\n%s", n, srv.Dump(t))
			}
			if tc.stream {
				srv.WaitFailure(t, "too_many_pings", streamMethod, "CANCELLED")
			} else if n := srv.Failures(t); n != 0 {
				t.Errorf("idle connection: %d transport failures\n%s", n, srv.Dump(t))
			}
			t.Logf("%s\nconnection span GOAWAY events: %q", srv.Dump(t), srv.GoAwayEvents())
		})
	}
}

// A grpc-js server with grpc.max_connection_age_ms drains the connection a
// Go client holds a server stream on, and cuts the stream after the grace.
//
// On the wire (server.ts, _sessionHandler): after the age (+-10% jitter)
// grpc-js sends GOAWAY NO_ERROR last-stream-id 2^31-1 "max_age" and calls
// Node's session.close(), which at once sends a second GOAWAY NO_ERROR with
// the last processed stream id (1) and no debug data. There is no drain
// PING. After grpc.max_connection_age_grace_ms, session.destroy() sends a
// third GOAWAY NO_ERROR, last-stream-id 1, no debug data, and closes the
// socket (the client reads EOF). grpc-go's client then writes its own GOAWAY
// "client transport shutdown" and fails the stream with Unavailable
// "closing transport due to: ... EOF, received prior goaway: code: NO_ERROR,
// debug data: \"max_age\"".
//
// grpcpulse's verdict: max_connection_age, initiator peer, exactly one
// close; the cut stream is a transport failure with that reason. The GOAWAY
// events are max_age (received), then the empty-debug-data frames, which
// grpcpulse counts as one more received event with reason none: it merges
// repeated frames only when code and debug data repeat (grpc-go's own
// two-phase drain), and grpc-js's later frames carry no debug data.
func TestGRPCJSServerMaxConnectionAge(t *testing.T) {
	t.Parallel()
	// The age leaves the Go client ample time to open its stream on the
	// first connection even on a loaded machine.
	js := foreign.StartJSServer(t, foreign.JSServerConfig{Args: foreign.Args{
		"grpc.max_connection_age_ms": 2000, "grpc.max_connection_age_grace_ms": 1000,
	}})
	cl, cc := peertest.GoClient(t, js.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	defer cancel()
	st, err := testgrpc.NewTestServiceClient(cc).StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: -1}},
	}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatalf("StreamingOutputCall: %v", err)
	}
	js.WaitEvent(t, "call", nil)
	for err == nil {
		_, err = st.Recv()
	}
	t.Logf("Go client application got: %v", err)
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), `"max_age"`) {
		t.Errorf("stream error = %v, want Unavailable naming the max_age GOAWAY", err)
	}
	if r, ok := interceptors.Cause(context.Background(), err); !ok || r != pulse.ReasonMaxConnectionAge {
		t.Errorf("Cause(stream error) = %q, %v; want %q", r, ok, pulse.ReasonMaxConnectionAge)
	}
	js.WaitEvent(t, "cancelled", nil)

	cl.WaitClose(t, "max_connection_age", "peer")
	cl.WaitFailure(t, "max_connection_age", streamMethod, "UNAVAILABLE")
	testenv.Eventually(t, func() string {
		if cl.Counter.Ends.Load() != 1 {
			return fmt.Sprintf("grpc-go reported %d transport ends, want 1", cl.Counter.Ends.Load())
		}
		if cl.Closes(t) == 1 && cl.Closes(t, semconv.CloseReason.String("max_connection_age"), semconv.CloseInitiator.String("peer"),
			semconv.DisconnectError.String("GOAWAY NO_ERROR"), semconv.CloseActiveRPCs.Bool(true)) == 1 {
			return ""
		}
		return "want exactly one close: max_connection_age, peer, GOAWAY NO_ERROR, active_rpcs=true\n" + cl.Dump(t)
	})
	if n := cl.Failures(t); n != 1 {
		t.Errorf("client counted %d transport failures, want 1 (the stream)\n%s", n, cl.Dump(t))
	}
	received := func(reason string) int64 {
		return cl.GoAways(t, semconv.GoAwayDirection.String("received"), semconv.GoAwayCode.String("NO_ERROR"), semconv.GoAwayReason.String(reason))
	}
	if n := received("max_age"); n != 1 {
		t.Errorf("client: %d GOAWAY NO_ERROR max_age received, want 1\n%s", n, cl.Dump(t))
	}
	// grpc-js's later frames (same code, no debug data) belong to the same
	// drain: one drain, one event.
	if n := cl.GoAways(t, semconv.GoAwayDirection.String("received")); n != 1 {
		t.Errorf("client: %d GOAWAY events received, want 1 (one drain)\n%s", n, cl.Dump(t))
	}
	t.Logf("%s\nconnection span GOAWAY events: %q", cl.Dump(t), cl.GoAwayEvents())
}

// A grpc-js client holds a server stream on a Go server with
// MaxConnectionAge and MaxConnectionAgeGrace of 1 s each.
//
// On the wire: grpc-go sends GOAWAY NO_ERROR 2^31-1 "max_age" and its drain
// PING (1 6 1 8 0 3 3 9); Node ACKs the PING, and grpc-js's session.close()
// (Node closes a session gracefully on a NO_ERROR GOAWAY) answers with
// GOAWAY NO_ERROR last-stream-id 0, no debug data, which grpc-go's server
// ignores. grpc-go then sends its second GOAWAY NO_ERROR "max_age" with
// last-stream-id 1, and after the grace it closes the connection without
// another frame. grpc-js's subchannel goes READY -> IDLE at the first
// GOAWAY; the stream, below the last-stream-id, keeps running until the
// socket closes, then ends with UNAVAILABLE "Connection dropped"
// (subchannel-call.ts: a connection drop surfaces as RST code CANCEL).
//
// grpcpulse's verdict on the server: max_connection_age, initiator local;
// the client's GOAWAY received later changes nothing (the first cause
// wins); the cut stream is a transport failure (CANCELLED on the server).
func TestGRPCJSClientStreamCutByMaxConnectionAge(t *testing.T) {
	t.Parallel()
	svc := &testenv.Service{Started: make(chan string, 4)}
	srv, addr := peertest.GoServer(t, svc, options.WithServerParameters(keepalive.ServerParameters{
		MaxConnectionAge: time.Second, MaxConnectionAgeGrace: time.Second,
	}))
	js := foreign.StartJSClient(t, foreign.JSClientConfig{Target: addr, Call: foreign.CallStream})
	st := js.WaitEvent(t, "status", nil)
	js.WaitExit(t)
	t.Logf("grpc-js client printed:\n%s", js.Stdout())
	if st.CodeName != "UNAVAILABLE" || st.Details != "Connection dropped" {
		t.Errorf("grpc-js stream status = %s %q, want UNAVAILABLE \"Connection dropped\"", st.CodeName, st.Details)
	}

	srv.WaitClose(t, "max_connection_age", "local")
	srv.WaitFailure(t, "max_connection_age", streamMethod, "CANCELLED")
	// grpc-js opens its stream right after connecting, so it normally
	// rides the first connection; should it land on a second one (a
	// very slow start), that connection is cut the same way.
	testenv.Eventually(t, func() string {
		all := srv.Closes(t)
		if all > 0 && srv.Closes(t, semconv.CloseReason.String("max_connection_age"), semconv.CloseInitiator.String("local"),
			semconv.DisconnectError.String("GOAWAY NO_ERROR")) == all {
			return ""
		}
		return "want every close max_connection_age, local, GOAWAY NO_ERROR\n" + srv.Dump(t)
	})
	if n := srv.GoAways(t, semconv.GoAwayDirection.String("sent"), semconv.GoAwayReason.String("max_age")); n != srv.Closes(t) {
		t.Errorf("server: %d GOAWAY max_age events sent for %d connections (a drain is one event)\n%s", n, srv.Closes(t), srv.Dump(t))
	}
	t.Logf("%s\nconnection span GOAWAY events: %q", srv.Dump(t), srv.GoAwayEvents())
}
