package foreign

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// Args are a C-core or grpc-js peer's channel arguments (server or client
// options) by their own names, such as "grpc.max_connection_age_ms" or
// "grpc.keepalive_time_ms", with integer or string values. They are passed
// to the peer as they are: a name the peer does not know is ignored by it,
// as it would be in an application.
type Args map[string]any

// Call names an RPC a foreign client makes. Every client serves the same
// kinds, so that a test can swap one implementation for another.
type Call string

// The calls a foreign client makes.
const (
	// CallNone makes no call: the client only connects.
	CallNone Call = ""
	// CallEmpty is grpc.testing.TestService/EmptyCall, once.
	CallEmpty Call = "empty"
	// CallStream is grpc.testing.TestService/StreamingOutputCall with a
	// request that grpcpulse's Go test service (internal/testenv) holds
	// open until the client goes away; a foreign server holds it open too.
	CallStream Call = "stream"
	// CallCheck is grpc.health.v1.Health/Check, once.
	CallCheck Call = "check"
	// CallWatch is grpc.health.v1.Health/Watch, held open: it reports a
	// message for each serving status the server sends.
	CallWatch Call = "watch"
)

// Server is a foreign gRPC server listening on loopback.
type Server struct {
	*Process
	// Addr is where it listens: 127.0.0.1:port.
	Addr string
}

// SetHealth sets the serving status (SERVING, NOT_SERVING, UNKNOWN,
// SERVICE_UNKNOWN) that Health/Check answers and Health/Watch streams.
func (s *Server) SetHealth(t testing.TB, status string) {
	t.Helper()
	s.Send(t, "health "+status)
}

// Release ends the UnaryCalls the server holds: each fails with
// UNAVAILABLE "overloaded", as an overloaded application's would.
func (s *Server) Release(t testing.TB) {
	t.Helper()
	s.Send(t, "release")
}

// Shutdown starts the server's graceful shutdown, forced after grace: for
// C-core server.stop(grace), for grpc-js tryShutdown then forceShutdown,
// for grpc-java shutdown then shutdownNow. It does not wait: the server
// reports the "stopped" event once it has stopped.
func (s *Server) Shutdown(t testing.TB, grace time.Duration) {
	t.Helper()
	s.Send(t, "stop "+strconv.FormatFloat(grace.Seconds(), 'f', -1, 64))
}

// Client is a foreign gRPC client. It connects at once, reports each
// connectivity state change, and makes the calls it is told to.
type Client struct {
	*Process
}

// Call makes another call on the client's channel.
func (c *Client) Call(t testing.TB, call Call) {
	t.Helper()
	c.Send(t, "call "+string(call))
}

// Cancel cancels every call of the client that is still running.
func (c *Client) Cancel(t testing.TB) {
	t.Helper()
	c.Send(t, "cancel")
}

// Close closes the client's channel, as its application would; the client
// reports the "closed" event.
func (c *Client) Close(t testing.TB) {
	t.Helper()
	c.Send(t, "close")
}

// startServer runs prog and waits until it reports where it listens.
func startServer(t testing.TB, prog Program) *Server {
	t.Helper()
	p := Start(t, prog)
	port := p.WaitEvent(t, "listening", nil).Port
	return &Server{Process: p, Addr: fmt.Sprintf("127.0.0.1:%d", port)}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode the peer's configuration: %v", err)
	}
	return string(b)
}
