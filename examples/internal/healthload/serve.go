package healthload

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
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
	MaxIdle       time.Duration // server MaxConnectionIdle; 0: none
	KeepaliveTime time.Duration // server keepalive Time; 0: one minute
}

// RegisterFlags registers -duration (with the example's default),
// -check-interval, -max-age, -grace, -max-idle and -keepalive-time.
func (c *Config) RegisterFlags(fs *flag.FlagSet, duration time.Duration) {
	fs.DurationVar(&c.Duration, "duration", duration, "how long to run (0: until interrupted)")
	fs.DurationVar(&c.CheckInterval, "check-interval", time.Second, "time between Health/Check calls")
	fs.DurationVar(&c.MaxAge, "max-age", 10*time.Second, "server MaxConnectionAge: connections are drained with GOAWAY max_age after this")
	fs.DurationVar(&c.Grace, "grace", 5*time.Second, "server MaxConnectionAgeGrace: a drained connection is closed hard after this, cutting the Watch stream")
	fs.DurationVar(&c.MaxIdle, "max-idle", 8*time.Second, "server MaxConnectionIdle: a connection without RPCs this long is closed with GOAWAY max_idle (0: never)")
	fs.DurationVar(&c.KeepaliveTime, "keepalive-time", 6*time.Second, "server keepalive Time: the server pings a connection on which nothing has arrived this long (grpc-go raises it to at least 1s)")
}

// serverPolicy is the server's keepalive policy: the max age that cuts the
// Watch stream, the idle limit that closes the standby's connection, and
// the keepalive Time at which the server pings it.
func (c Config) serverPolicy() options.ServerPolicy {
	kt := c.KeepaliveTime
	if kt == 0 {
		// A zero Time would mean grpc's 2h, which Validate warns about.
		kt = time.Minute
	}
	// Below Time, as a Timeout must be, but not below what a socket's
	// TCP_USER_TIMEOUT (which grpc-go sets to it) needs.
	timeout := 20 * time.Second
	if timeout >= kt {
		timeout = max(5*time.Second, kt/2)
	}
	p := options.DefaultServerPolicy()
	p.Parameters = keepalive.ServerParameters{
		// The server pings a connection on which nothing has arrived for
		// Time: the standby's, never the busy client's while its Check
		// interval is shorter.
		Time:                  kt,
		Timeout:               timeout,
		MaxConnectionIdle:     c.MaxIdle,
		MaxConnectionAge:      c.MaxAge,
		MaxConnectionAgeGrace: c.Grace,
	}
	return p
}

// closeDelay is how long grpc-go's server waits, after its grace period
// ends, for the client to close the connection before closing it itself
// (internal/transport/http2_server.go, after the loopy writer exits): the
// client does not, its Watch stream being still open, so every cut comes
// this much after the grace.
const closeDelay = time.Second

// CutTimes returns when the workload's Watch stream is cut: first between
// first[0] and first[1] after the start, then every every[0] to every[1].
// grpc-go drains a connection at MaxConnectionAge ±10%; the grace then
// runs, and closeDelay after it the stream is cut. The channel opens its
// next connection at its first RPC after the drain, a Check, so the Watch
// stream reopened at the cut finds that connection open and is cut when it
// reaches its own age: after the first cut, one comes every max age (plus
// up to a check interval), not every max age plus grace. That holds
// (regular) while the grace and closeDelay end before the next
// connection's earliest drain.
func (c Config) CutTimes() (first, every [2]time.Duration, regular bool) {
	lo, hi := c.MaxAge-c.MaxAge/10, c.MaxAge+c.MaxAge/10
	first = [2]time.Duration{lo + c.Grace + closeDelay, hi + c.Grace + closeDelay}
	every = [2]time.Duration{lo, hi + c.CheckInterval}
	return first, every, c.Grace+closeDelay < lo
}

// Schedule says when the workload's Watch stream is cut (CutTimes) and
// what the standby's connection does, as the banner prints it.
func (c Config) Schedule() string {
	first, every, regular := c.CutTimes()
	var b strings.Builder
	fmt.Fprintf(&b, "  client: a Watch stream, and a Check every %v. The stream is cut first %v-%v after the start\n"+
		"    (MaxConnectionAge, the grace, and the %v grpc-go waits for the client to close)",
		c.CheckInterval, first[0], first[1], closeDelay)
	if regular {
		fmt.Fprintf(&b, ", then every %v-%v\n"+
			"    (the age of the next connection, which the first Check after the drain opens)\n", every[0], every[1])
	} else {
		b.WriteString(", then at irregular intervals\n" +
			"    (with a grace this long against the age, the next connection may be drained before the stream moves to it)\n")
	}
	kt := c.KeepaliveTime
	if kt == 0 {
		kt = time.Minute
	}
	fmt.Fprintf(&b, "  standby client: connected, calling nothing. With nothing arriving on its connection, the server\n"+
		"    pings it after %v of silence", max(kt, time.Second))
	if c.MaxIdle > 0 {
		fmt.Fprintf(&b, " and closes it as idle after %v (GOAWAY max_idle); it reconnects", c.MaxIdle)
	} else {
		b.WriteString(" and drains it at its MaxConnectionAge; it reconnects")
	}
	return b.String()
}

// Check reports flags grpc-go cannot run with, so that an example fails at
// start instead of silently running with the preset, which is what
// options.Server does with an override it rejects.
func (c Config) Check() error {
	return options.Validate(nil, c.serverPolicy()).Err()
}

// Serve starts a health server set up by options.Server(server...) with the
// policy of c, and two clients set up by options.Client(client...), on
// loopback: one runs the workload (a Watch stream and periodic Checks), the
// other is a standby that keeps its channel connected and calls nothing, so
// that the server's keepalive pings it and its idle limit closes it. It
// runs until ctx is done or c.Duration has passed, printing hint after the
// banner, and stops them all.
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

	dial := options.Client(client...)
	cc, err := grpc.NewClient(lis.Addr().String(), dial...)
	if err != nil {
		return err
	}
	defer cc.Close() // before the server stops: the client ends its connections itself
	standby, err := grpc.NewClient(lis.Addr().String(), dial...)
	if err != nil {
		return err
	}
	defer standby.Close()

	fmt.Fprintf(w, "gRPC server on %s: MaxConnectionAge %v (±10%%), MaxConnectionAgeGrace %v, MaxConnectionIdle %v, keepalive Time %v\n%s\n",
		lis.Addr(), c.MaxAge, c.Grace, c.MaxIdle, c.KeepaliveTime, c.Schedule())
	fmt.Fprintln(w, hint)
	var wg sync.WaitGroup
	wg.Go(func() { KeepConnected(ctx, standby) })
	Run(ctx, w, healthpb.NewHealthClient(cc), c.CheckInterval)
	wg.Wait()
	fmt.Fprintln(w, "stopping")
	return nil
}

// KeepConnected keeps cc connected until ctx is done, calling nothing: a
// channel whose connection closes goes idle, and is asked to connect again
// at once, as a client that keeps a connection warm for its next call does.
func KeepConnected(ctx context.Context, cc *grpc.ClientConn) {
	for {
		s := cc.GetState()
		if s == connectivity.Idle {
			cc.Connect()
		}
		if !cc.WaitForStateChange(ctx, s) {
			return
		}
	}
}
