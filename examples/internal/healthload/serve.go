package healthload

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/options"
)

// Config is the part of an example's configuration that drives the
// workload.
type Config struct {
	Duration      time.Duration // how long to run; 0: until interrupted
	CheckInterval time.Duration // time between Health/Check calls
	MaxAge        time.Duration // server MaxConnectionAge
	Grace         time.Duration // server MaxConnectionAgeGrace
	KeepaliveTime time.Duration // server keepalive Time; 0: one minute
}

// RegisterFlags registers -duration (with the example's default),
// -check-interval, -max-age, -grace and -keepalive-time.
func (c *Config) RegisterFlags(fs *flag.FlagSet, duration time.Duration) {
	fs.DurationVar(&c.Duration, "duration", duration, "how long to run (0: until interrupted)")
	fs.DurationVar(&c.CheckInterval, "check-interval", time.Second, "time between Health/Check calls")
	fs.DurationVar(&c.MaxAge, "max-age", 10*time.Second, "server MaxConnectionAge: connections are drained with GOAWAY max_age after this")
	fs.DurationVar(&c.Grace, "grace", 5*time.Second, "server MaxConnectionAgeGrace: a drained connection is closed hard after this, cutting the Watch stream")
	fs.DurationVar(&c.KeepaliveTime, "keepalive-time", time.Minute, "server keepalive Time: the server pings a connection that has been quiet this long (grpc-go raises it to at least 1s)")
}

// serverPolicy is the server's keepalive policy: the max age that cuts the
// Watch stream.
func (c Config) serverPolicy() options.ServerPolicy {
	kt := c.KeepaliveTime
	if kt == 0 {
		// A zero Time would mean grpc's 2h, which Validate warns about.
		kt = time.Minute
	}
	p := options.DefaultServerPolicy()
	p.Parameters = keepalive.ServerParameters{
		// The server pings a connection quiet for Time (a Check interval
		// above it makes keepalive pings and their RTT show up).
		Time:                  kt,
		MaxConnectionAge:      c.MaxAge,
		MaxConnectionAgeGrace: c.Grace,
	}
	return p
}

// Check reports flags grpc-go cannot run with, so that an example fails at
// start instead of silently running with the preset, which is what
// options.Server does with an override it rejects.
func (c Config) Check() error {
	return options.Validate(nil, c.serverPolicy()).Err()
}

// Serve starts a health server set up by options.Server(server...) with the
// max-age policy, and a client set up by options.Client(client...), on
// loopback. It runs the workload until ctx is done or c.Duration has
// passed, printing hint after the banner, and stops both.
func Serve(ctx context.Context, w io.Writer, c Config, server []options.ServerOption, client []options.ClientOption, hint string) error {
	if c.Duration > 0 {
		// A cancel on a timer, not context.WithTimeout: with a deadline on
		// ctx, a call's own timeout context would expire at the same
		// instant and could fail the call before ctx.Err() says why.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer time.AfterFunc(c.Duration, cancel).Stop()
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer(options.Server(append([]options.ServerOption{options.WithServerPolicy(c.serverPolicy())}, server...)...)...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() {
		StopServer(srv)
		<-served
	}()

	cc, err := grpc.NewClient(lis.Addr().String(), options.Client(client...)...)
	if err != nil {
		return err
	}
	defer cc.Close() // before the server stops: the client ends its connections itself

	fmt.Fprintf(w, "gRPC server on %s: MaxConnectionAge %v (±10%%), MaxConnectionAgeGrace %v; a Watch stream is cut about every %v\n",
		lis.Addr(), c.MaxAge, c.Grace, c.MaxAge+c.Grace)
	fmt.Fprintln(w, hint)
	Run(ctx, w, healthpb.NewHealthClient(cc), c.CheckInterval)
	fmt.Fprintln(w, "stopping")
	return nil
}
