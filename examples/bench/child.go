package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// A child is one side of one measurement, in a process of its own so that its
// memory and allocation counts are its side's alone. The parent drives it over
// stdin and stdout, one line at a time:
//
//	child → parent: "addr HOST:PORT" (a server, once listening)
//	child → parent: "ready"          (a client, once connected and warmed up)
//	parent → child: "start"          (open the measurement window)
//	child → parent: "started"        (it is open)
//	parent → child: "stop"           (close it; the child answers "result {json}")
//	child → parent: "result {json}"
//
// A child exits when its stdin reaches EOF, which also happens when the
// parent dies.

// childFlags are the flags a child is started with.
type childFlags struct {
	role, config, workload, addr string
	conns, callers, workers      int
	msgs                         uint64
	size                         int
	warmup                       time.Duration
	profile                      string // file name prefix for CPU and allocation profiles of the window
}

func parseChildFlags(args []string) (childFlags, error) {
	var f childFlags
	fs := flag.NewFlagSet("child", flag.ContinueOnError)
	fs.StringVar(&f.role, "role", "", "server, client or bulk")
	fs.StringVar(&f.config, "config", "", "configuration")
	fs.StringVar(&f.workload, "workload", "", "workload")
	fs.StringVar(&f.addr, "addr", "", "server address (client)")
	fs.IntVar(&f.conns, "conns", 0, "idle connections")
	fs.IntVar(&f.callers, "callers", 0, "concurrent unary callers")
	fs.IntVar(&f.workers, "workers", 0, "churn workers")
	fs.Uint64Var(&f.msgs, "msgs", 0, "messages per measured stream")
	fs.IntVar(&f.size, "size", 0, "message size (streams)")
	fs.DurationVar(&f.warmup, "warmup", 0, "warm-up before ready")
	fs.StringVar(&f.profile, "profile", "", "profile file prefix")
	return f, fs.Parse(args)
}

// result is what one side reports for one measurement window.
type result struct {
	Seconds    float64 `json:"seconds"`     // length of the window
	Ops        int64   `json:"ops"`         // RPCs, messages, connections or copies completed in the window
	Bytes      int64   `json:"bytes"`       // payload bytes moved in the window
	Errors     int64   `json:"errors"`      // failed operations in the window
	Mallocs    uint64  `json:"mallocs"`     // heap allocations in the window
	CPUSeconds float64 `json:"cpu_seconds"` // user+system CPU time in the window

	// The idle workload: live heap, goroutine stacks and goroutines after
	// GC, minus the process's baseline before any connection, per
	// connection.
	Conns           int     `json:"conns,omitempty"`
	HeapPerConn     float64 `json:"heap_per_conn,omitempty"`
	StacksPerConn   float64 `json:"stacks_per_conn,omitempty"`
	GoroutinesPerCn float64 `json:"goroutines_per_conn,omitempty"`
}

// counters are what a side's load counts as it runs.
type counters struct{ ops, bytes, errs atomic.Int64 }

type snapshot struct {
	at              time.Time
	ops, bytes, err int64
	mallocs         uint64
	cpu             float64
}

func (c *counters) snap() snapshot {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return snapshot{
		at: time.Now(), ops: c.ops.Load(), bytes: c.bytes.Load(), err: c.errs.Load(),
		mallocs: ms.Mallocs, cpu: cpuSeconds(),
	}
}

// add adds the counts and times of another window of the same process.
func (r *result) add(o result) {
	r.Seconds += o.Seconds
	r.Ops += o.Ops
	r.Bytes += o.Bytes
	r.Errors += o.Errors
	r.Mallocs += o.Mallocs
	r.CPUSeconds += o.CPUSeconds
}

func window(a, b snapshot) result {
	return result{
		Seconds: b.at.Sub(a.at).Seconds(), Ops: b.ops - a.ops, Bytes: b.bytes - a.bytes,
		Errors: b.err - a.err, Mallocs: b.mallocs - a.mallocs, CPUSeconds: b.cpu - a.cpu,
	}
}

// memory is the live heap, the goroutine stacks and the goroutine count after
// a full collection.
type memory struct{ heap, stacks, goroutines float64 }

func measureMemory() memory {
	// Let goroutines finishing the last RPCs settle, then collect twice so
	// that objects freed by finalizers go too.
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/sched/goroutines:goroutines"},
	}
	metrics.Read(s)
	return memory{float64(s[0].Value.Uint64()), float64(s[1].Value.Uint64()), float64(s[2].Value.Uint64())}
}

func (m memory) perConn(base memory, conns int) (heap, stacks, goroutines float64) {
	n := float64(max(conns, 1))
	return (m.heap - base.heap) / n, (m.stacks - base.stacks) / n, (m.goroutines - base.goroutines) / n
}

// childMain runs a child and returns its exit code.
func childMain(args []string) int {
	f, err := parseChildFlags(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	out := &lineWriter{w: os.Stdout}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmds := make(chan string)
	go func() {
		// EOF on stdin (the parent closed it, or died) ends the child.
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			cmds <- sc.Text()
		}
		close(cmds)
	}()
	switch f.role {
	case "server":
		err = runServer(ctx, f, out, cmds)
	case "client":
		err = runClient(ctx, f, out, cmds)
	case "bulk":
		err = runBulk(ctx, f, out, cmds)
	default:
		err = fmt.Errorf("unknown role %q", f.role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s %s %s: %v\n", f.role, f.config, f.workload, err)
		return 1
	}
	return 0
}

// lineWriter writes whole lines to the parent.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}

func (l *lineWriter) result(r result) {
	b, _ := json.Marshal(r)
	l.printf("result %s", b)
}

// gate lets a load run only during its warm-up and while a window is open:
// the parent measures the configurations in turns, and a paused one must
// leave the machine to the others. A worker holds the read side for each
// operation; pause takes the write side, so that paused workers wait.
type gate struct {
	mu     sync.RWMutex
	paused bool // only the window loop's goroutine pauses and resumes
}

// enter and leave bracket one operation of a worker.
func (g *gate) enter() { g.mu.RLock() }
func (g *gate) leave() { g.mu.RUnlock() }

func (g *gate) pause()  { g.mu.Lock(); g.paused = true }
func (g *gate) resume() { g.paused = false; g.mu.Unlock() }

// release lets paused workers go, so that they see their load end.
func (g *gate) release() {
	if g.paused {
		g.resume()
	}
}

// serve pauses the load after its warm-up, tells the parent it is ready,
// and serves its windows, the load running only inside them.
func (g *gate) serve(f childFlags, out *lineWriter, cmds <-chan string, c *counters) error {
	g.pause()
	out.printf("ready")
	return windowLoopAround(f, out, cmds, c, g.resume, func(*result) { g.pause() })
}

// windowLoop serves start and stop commands for a side whose load runs on its
// own, until stdin ends. onStop, if not nil, adds to the window's result.
func windowLoop(f childFlags, out *lineWriter, cmds <-chan string, c *counters, onStop func(*result)) error {
	return windowLoopAround(f, out, cmds, c, nil, onStop)
}

// windowLoopAround is windowLoop for a side whose load runs only while a
// window is open: open, if not nil, resumes the load as the window opens, and
// the window's result is taken before onStop pauses it.
func windowLoopAround(f childFlags, out *lineWriter, cmds <-chan string, c *counters, open func(), onStop func(*result)) error {
	var start snapshot
	var prof *profiler
	for cmd := range cmds {
		switch cmd {
		case "start":
			prof = startProfile(f.profile)
			start = c.snap()
			if open != nil {
				open()
			}
			out.printf("started")
		case "stop":
			r := window(start, c.snap())
			if err := prof.stop(); err != nil {
				return err
			}
			if onStop != nil {
				onStop(&r)
			}
			out.result(r)
		default:
			return fmt.Errorf("unknown command %q", cmd)
		}
	}
	return nil
}

// healthService answers Check with SERVING and counts the calls.
type healthService struct {
	healthpb.UnimplementedHealthServer
	c *counters
}

func (h *healthService) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	h.c.ops.Add(1)
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func runServer(_ context.Context, f childFlags, out *lineWriter, cmds <-chan string) error {
	opts, err := serverOptions(f.config)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var c counters
	ss := &streamServer{c: &c}
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, &healthService{c: &c})
	srv.RegisterService(&streamDesc, ss)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	defer func() {
		srv.Stop()
		<-served
	}()

	var onStop func(*result)
	if f.workload == wlIdle {
		base := measureMemory()
		onStop = func(r *result) {
			r.Conns = int(c.ops.Load())
			r.HeapPerConn, r.StacksPerConn, r.GoroutinesPerCn = measureMemory().perConn(base, r.Conns)
		}
	}
	out.printf("addr %s", lis.Addr())
	return windowLoop(f, out, cmds, &c, onStop)
}
