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
	// error: ClientParameters.Time: (1m) is below the server's EnforcementPolicy.MinTime (5m): whenever the server writes nothing for a while (a quiet stream or a slow unary call), every ping sooner than MinTime after the previous one is a strike; at the third strike (grpc-go tolerates 2) the server sends GOAWAY ENHANCE_YOUR_CALM "too_many_pings" and closes the connection, failing the RPCs on it with Unavailable. The client then doubles Time for new connections of that ClientConn, so this pair can lose 3 connections (Time 1m -> 2m -> 4m -> 8m) before it settles, and every new process starts over. Set ClientParameters.Time to at least 5m30s, or the server's EnforcementPolicy.MinTime to at most 54s.
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
