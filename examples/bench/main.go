// Command bench measures what grpcpulse costs, side by side with bare
// grpc-go, a no-op stats.Handler (the floor grpc-go imposes on any handler),
// otelgrpc, and grpcpulse with otelgrpc, in one run:
//
//	go run ./examples/bench            # the full run, ~10-20 minutes
//	go run ./examples/bench -quick     # a validation run, under 2 minutes
//
// Every measurement runs the server and the client in processes of their
// own (this program, started again as a child), so that memory and
// allocation counts belong to one side. Configurations are measured
// round-robin, and the rounds repeated, so that a noisy machine spreads its
// noise over all of them; the table reports medians and their ratios.
//
// Workloads: idle memory per connection (heap and goroutine stacks, per
// side); unary health Check throughput with concurrent callers on one
// connection, with allocations and CPU time per RPC per side; server
// streaming of 16-byte and of 1 KiB messages; connection churn (dial, Check,
// Close); and bytes copied through the frame observer alone.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if os.Getenv(childEnv) == "1" {
		os.Exit(childMain(os.Args[1:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
