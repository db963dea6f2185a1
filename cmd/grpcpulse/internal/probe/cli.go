package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// Usage is the probe command's synopsis.
const Usage = "usage: grpcpulse probe [--budget 2m] [--client go|c-core|js|java] [--json] [--tls [--ca FILE] [--server-name NAME] [--insecure-skip-verify]] [--authority NAME] [--stream-method pkg.Service/Method] [--quiet] host:port"

// Command runs "grpcpulse probe" with args (the arguments after "probe"):
// the report goes to stdout, progress and errors to stderr. It returns the
// process exit code: 0 after a report, 1 when the target could not be
// probed (with one line on stderr saying why), 2 for bad usage.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("grpcpulse probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, Usage)
		fs.PrintDefaults()
	}
	var (
		budget     = fs.Duration("budget", 2*time.Minute, "how long the whole probe may take; longer budgets bracket longer MinTimes, ages and idle timeouts")
		asJSON     = fs.Bool("json", false, "write the report as JSON")
		useTLS     = fs.Bool("tls", false, "speak TLS (ALPN h2) instead of plaintext HTTP/2")
		caFile     = fs.String("ca", "", "PEM file of CA certificates to verify the server with (implies --tls)")
		serverName = fs.String("server-name", "", "name to verify the server's certificate against, and the TLS SNI (implies --tls)")
		insecure   = fs.Bool("insecure-skip-verify", false, "do not verify the server's certificate (implies --tls)")
		authority  = fs.String("authority", "", "the :authority of the probe's calls (default host:port)")
		method     = fs.String("stream-method", "", "a method the probe may open and leave silent (HEADERS only, no request message), when the server has no grpc.health.v1.Health/Watch")
		quiet      = fs.Bool("quiet", false, "no progress lines on stderr")
		client     = fs.String("client", ImplGo, "the client the advice is for: go (grpc-go), c-core (C++, Python, Ruby, PHP), js (grpc-js) or java (grpc-java)")
	)
	// Flags may follow the target: "probe host:port --json" works too.
	var positional []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(positional) != 1 {
		fmt.Fprintln(stderr, Usage)
		return 2
	}
	target := positional[0]
	if _, _, err := net.SplitHostPort(target); err != nil {
		fmt.Fprintf(stderr, "grpcpulse probe: target %q is not host:port\n", target)
		return 2
	}
	if *budget < 5*time.Second {
		fmt.Fprintln(stderr, "grpcpulse probe: --budget must be at least 5s")
		return 2
	}
	if !slices.Contains(Clients, *client) {
		fmt.Fprintf(stderr, "grpcpulse probe: --client %q: want one of %s\n", *client, strings.Join(Clients, ", "))
		return 2
	}
	cfg := Config{Target: target, Budget: *budget, Authority: *authority, StreamMethod: *method, Client: *client}
	if *useTLS || *caFile != "" || *serverName != "" || *insecure {
		tc := &tls.Config{ServerName: *serverName, InsecureSkipVerify: *insecure}
		cfg.serverNameGiven = *serverName != ""
		if tc.ServerName == "" {
			host, _, _ := net.SplitHostPort(target)
			tc.ServerName = host
		}
		if *caFile != "" {
			pem, err := os.ReadFile(*caFile)
			if err != nil {
				fmt.Fprintf(stderr, "grpcpulse probe: --ca: %s\n", oneLine(err))
				return 2
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				fmt.Fprintf(stderr, "grpcpulse probe: --ca: no PEM certificate in %s\n", *caFile)
				return 2
			}
			tc.RootCAs = pool
		}
		cfg.TLS = tc
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	rep, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "grpcpulse probe: %s\n", strings.TrimSpace(oneLine(err)))
		return 1
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "grpcpulse probe: writing the report: %s\n", oneLine(err))
		return 1
	}
	switch {
	case rep.Interrupted:
		fmt.Fprintf(stderr, "grpcpulse probe: interrupted after %s: the report is partial\n", fmtDur(rep.Elapsed))
		return ExitInterrupted
	case rep.Stopped != "":
		fmt.Fprintf(stderr, "grpcpulse probe: %s\n", rep.Stopped)
		return 1
	}
	return 0
}

// ExitInterrupted is the exit code of a probe cut short by SIGINT, as a
// shell reports a command killed by it.
const ExitInterrupted = 130
