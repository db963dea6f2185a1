package options_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/grpcpulse/grpcpulse/options"
)

// A client that pings every minute, talking to a server you do not control
// (so assumed to be at grpc's defaults), would have its connections closed
// with GOAWAY "too_many_pings". Validate says so, and says what to change.
func ExampleValidate() {
	client := options.GoClient{Time: time.Minute, Timeout: 20 * time.Second}
	for _, f := range options.Validate(client, options.GRPCDefaultServerPolicy()) {
		if f.Severity == options.Error {
			fmt.Println(f)
		}
	}
	// Output:
	// error: ClientParameters.Time: (1m) is below the server's EnforcementPolicy.MinTime (5m): whenever the server writes nothing for a while (a quiet stream or a slow unary call), every ping sooner than that after the previous one is a strike; at the third strike (grpc-go tolerates 2) the server sends GOAWAY ENHANCE_YOUR_CALM "too_many_pings" and closes the connection, failing the RPCs on it with Unavailable. The client then doubles Time for new connections of that ClientConn, so this pair can lose 3 connections (Time 1m -> 2m -> 4m -> 8m) before it settles, and every new process starts over. Set ClientParameters.Time to at least 5m30s, or the server's EnforcementPolicy.MinTime to at most 54s.
}

// A Go server checks the keepalive of its Python clients (gRPC C-core),
// given as they pass it to grpc.insecure_channel(options=...): pinging
// every 10 s, also with no call in flight and without C-core's limit of two
// pings without data, against DefaultServerPolicy, which accepts a ping
// every 5 s. The server would accept the pings; the only finding is about
// the client's own timeout, which C-core also sets as TCP_USER_TIMEOUT.
func ExampleValidate_cCoreClient() {
	python := options.CCoreClient{
		"grpc.keepalive_time_ms":              10000,
		"grpc.keepalive_permit_without_calls": 1,
		"grpc.http2.max_pings_without_data":   0,
	}
	for _, f := range options.Validate(python, options.DefaultServerPolicy()) {
		fmt.Println(f)
	}
	// Output:
	// warning: grpc.keepalive_timeout_ms: (20s) is not below grpc.keepalive_time_ms (10s): a dead connection is noticed only after the two together = 30s, and since grpc.keepalive_timeout_ms is also the socket's TCP_USER_TIMEOUT, unacknowledged data may sit that long too; the two may have been swapped. Set grpc.keepalive_timeout_ms to 5000 (5s).
}

// A Go client checks its keepalive against a C++ or Python server (gRPC
// C-core) that accepts a ping a minute with calls in flight and none
// without: its pings every 30 s would be struck out, and the advice names
// the server's own channel arguments.
func ExampleValidate_cCoreServer() {
	client := options.GoClient{Time: 30 * time.Second, Timeout: 10 * time.Second}
	server := options.CCoreServer{
		"grpc.http2.min_ping_interval_without_data_ms": 60000,
		"grpc.keepalive_time_ms":                       60000,
	}
	for _, f := range options.Validate(client, server) {
		fmt.Println(f)
	}
	// Output:
	// error: ClientParameters.Time: (30s) is below the server's grpc.http2.min_ping_interval_without_data_ms (1m): whenever the server writes nothing for a while (a quiet stream or a slow unary call), every ping sooner than that after the previous one is a strike; at the third strike (C-core tolerates 2) the server sends GOAWAY ENHANCE_YOUR_CALM "too_many_pings" and closes the connection, failing the RPCs on it with Unavailable. The client then doubles Time for new connections of that ClientConn, so this pair can lose 1 connection (Time 30s -> 1m) before it settles, and every new process starts over. Set ClientParameters.Time to at least 1m6s, or the server's grpc.http2.min_ping_interval_without_data_ms to at most 27000 (27s).
}

// Err turns findings into an error only when one of them is an Error, so a
// policy with mere warnings is still accepted: the way to fail at start.
// errors.As recovers the first Error finding.
func ExampleFindings_Err() {
	servers := []options.ServerPolicy{options.DefaultServerPolicy(), options.GRPCDefaultServerPolicy()}
	for _, s := range servers {
		err := options.Validate(options.GoClient(options.LossyNetworkClientParameters()), s).Err()
		var f options.Finding
		if errors.As(err, &f) {
			fmt.Println("rejected:", f.Field)
			continue
		}
		fmt.Println("accepted")
	}
	// Output:
	// accepted
	// rejected: ClientParameters.Time
}
