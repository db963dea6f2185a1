// Package chaos holds a randomized fault-injection test of grpcpulse's
// verdicts. Each trial starts a real server and a real client (grpc-go with
// grpcpulse's bundle, or a foreign gRPC peer from internal/peers/foreign),
// injects one fault at random, through internal/faultproxy, the peers
// themselves or a raw HTTP/2 client, and checks every verdict grpcpulse
// records on each Go side against the truth the trial's configuration
// implies: the close's reason, initiator and grpc.close.active_rpcs, the
// count of grpc.rpc.transport_failures, what interceptors.Cause says about
// each RPC, and whether a diagnosis was made and how many RPCs it says
// were cut. Trials run concurrently.
//
// The package has only tests. A plain go test runs a short plan with a
// fixed seed; a longer one runs with flags, for example
//
//	go test ./internal/chaos -run TestChaos -chaos.trials=4000 -chaos.seed=7
//
// Both log a confusion matrix per side (the true close reason against the
// recorded one, and the count of each other wrong verdict), and fail on
// any wrong verdict with the seed and trial that reproduce it
// (-chaos.seed=N -chaos.trial=I runs that trial alone). -chaos.kind=RE
// runs only the plan's trials whose kind, "server-client-fault" as in
// go-c-core-max_age, matches RE, and -chaos.parallel=N sets how many run
// at once.
//
// A trial that needs a foreign peer whose runtime is absent is skipped;
// the subtests TestChaos/peers/... say how to get each one, and fail
// instead where GRPCPULSE_REQUIRE_PEERS=1.
package chaos
