// Command grpcpulse holds grpcpulse's tools. Its one subcommand, probe,
// measures a live gRPC server's keepalive policy, its age and idle limits
// and the network path's idle timeout from outside, and advises client
// keepalive settings in the words of the client's implementation:
//
//	go run github.com/grpcpulse/grpcpulse/cmd/grpcpulse probe [--budget 2m] [--client go|c-core|js|java] host:port
//
// It reads behaviour, not one implementation's wording: a drain is a
// GOAWAY NO_ERROR (or C-core's idle GOAWAY INTERNAL_ERROR "enter idle"),
// told apart as age or idle by whether a stream was open and by when it
// came against the connect and the last stream; a server PING is a
// keepalive when it follows silence, not data; a FIN or reset without
// GOAWAY that ends a silent connection is the path's idle timeout. It
// names the implementation from its SETTINGS and PINGs, and says when a
// proxy (nginx) answered instead, whose timers are then all it can see.
//
// Exit codes: 0 after a report, 1 when the target cannot be probed or the
// server went away during the probe, 2 for bad usage, 130 when SIGINT cut
// the probe short (the partial report is still written).
//
// cmd/grpcpulse/README.md documents the flags and shows real runs against
// a C-core server and through HAProxy. Run "grpcpulse probe -h" for the
// flags.
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
