// Command grpcpulse holds grpcpulse's tools. Its one subcommand, probe,
// measures a live gRPC server's keepalive policy and the network path's idle
// timeout from outside, and advises client keepalive settings:
//
//	go run github.com/grpcpulse/grpcpulse/cmd/grpcpulse probe [flags] host:port
//
// Run "grpcpulse probe -h" for the flags.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/grpcpulse/grpcpulse/cmd/grpcpulse/internal/probe"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "probe" {
		fmt.Fprintln(stderr, probe.Usage)
		return 2
	}
	return probe.Command(ctx, args[1:], stdout, stderr)
}
