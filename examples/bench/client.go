package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// The workloads.
const (
	wlIdle     = "idle"     // memory per idle connection, per side
	wlUnary    = "unary"    // health Check, many callers on one connection
	wlStream16 = "stream16" // server streaming of 16-byte messages
	wlStream1K = "stream1k" // server streaming of 1 KiB messages
	wlChurn    = "churn"    // dial, Check, Close
	wlBulk     = "bulkcopy" // bytes through the frame observer, no grpc
)

var allWorkloads = []string{wlIdle, wlUnary, wlStream16, wlStream1K, wlChurn, wlBulk}

const rpcTimeout = 30 * time.Second

func check(ctx context.Context, hc healthpb.HealthClient) error {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

func runClient(ctx context.Context, f childFlags, out *lineWriter, cmds <-chan string) error {
	dial, err := clientOptions(f.config)
	if err != nil {
		return err
	}
	switch f.workload {
	case wlIdle:
		return idleClient(ctx, f, dial, out, cmds)
	case wlUnary, wlChurn:
		return loadClient(ctx, f, dial, out, cmds)
	case wlStream16, wlStream1K:
		return streamClient(ctx, f, dial, out, cmds)
	}
	return fmt.Errorf("unknown workload %q", f.workload)
}

// idleClient opens f.conns connections, each with one Check to establish
// it, and reports the memory they hold.
func idleClient(ctx context.Context, f childFlags, dial func() []grpc.DialOption, out *lineWriter, cmds <-chan string) error {
	base := measureMemory()
	conns := make([]*grpc.ClientConn, f.conns)
	defer func() {
		for _, cc := range conns {
			if cc != nil {
				_ = cc.Close()
			}
		}
	}()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		errs    []error
		next    = make(chan int)
		dialers = min(32, max(f.conns, 1))
	)
	for range dialers {
		wg.Go(func() {
			for i := range next {
				cc, err := grpc.NewClient(f.addr, dial()...)
				if err == nil {
					conns[i] = cc
					err = check(ctx, healthpb.NewHealthClient(cc))
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range conns {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%d of %d connections failed: %w", len(errs), f.conns, errs[0])
	}
	out.printf("ready")
	var c counters
	return windowLoop(f, out, cmds, &c, func(r *result) {
		r.Conns = len(conns)
		r.HeapPerConn, r.StacksPerConn, r.GoroutinesPerCn = measureMemory().perConn(base, r.Conns)
	})
}

// loadClient runs the unary or the churn workload, during its warm-up and
// then only inside windows (see gate).
func loadClient(ctx context.Context, f childFlags, dial func() []grpc.DialOption, out *lineWriter, cmds <-chan string) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	var g gate
	defer func() {
		// Let paused workers see the cancellation.
		cancel()
		g.release()
	}()
	var c counters
	if f.workload == wlUnary {
		cc, err := grpc.NewClient(f.addr, dial()...)
		if err != nil {
			return err
		}
		defer cc.Close()
		hc := healthpb.NewHealthClient(cc)
		if err := check(ctx, hc); err != nil {
			return err
		}
		for range f.callers {
			wg.Go(func() {
				for ctx.Err() == nil {
					g.enter()
					err := check(ctx, hc)
					g.leave()
					if err != nil {
						if ctx.Err() == nil {
							c.errs.Add(1)
						}
						continue
					}
					c.ops.Add(1)
				}
			})
		}
	} else {
		for range f.workers {
			wg.Go(func() {
				for ctx.Err() == nil {
					g.enter()
					cc, err := grpc.NewClient(f.addr, dial()...)
					if err == nil {
						err = check(ctx, healthpb.NewHealthClient(cc))
						_ = cc.Close()
					}
					g.leave()
					switch {
					case ctx.Err() != nil:
					case err != nil:
						c.errs.Add(1)
					default:
						c.ops.Add(1)
					}
				}
			})
		}
	}
	time.Sleep(f.warmup)
	return g.serve(f, out, cmds, &c)
}

// streamClient pulls one warm-up stream, then one measured stream of f.msgs
// messages at each start.
func streamClient(ctx context.Context, f childFlags, dial func() []grpc.DialOption, out *lineWriter, cmds <-chan string) error {
	cc, err := grpc.NewClient(f.addr, dial()...)
	if err != nil {
		return err
	}
	defer cc.Close()
	var warm counters
	if err := pull(ctx, cc, max(f.msgs/20, 1000), uint32(f.size), &warm); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	out.printf("ready")
	for cmd := range cmds {
		if cmd != "start" {
			return fmt.Errorf("unexpected command %q", cmd)
		}
		var c counters
		prof := startProfile(f.profile)
		start := c.snap()
		out.printf("started")
		if err := pull(ctx, cc, f.msgs, uint32(f.size), &c); err != nil {
			return err
		}
		r := window(start, c.snap())
		if err := prof.stop(); err != nil {
			return err
		}
		out.result(r)
	}
	return nil
}
