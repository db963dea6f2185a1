package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	grpcstats "google.golang.org/grpc/stats"

	"github.com/grpcpulse/grpcpulse/interceptors"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// streamKey is the metadata key a Go client names its streams with, so
// that the server's records of each stream can be told apart. Streams of
// foreign clients carry none and are named in the order they arrive.
const streamKey = "chaos-stream"

// noCause is what a book records for an RPC Cause says nothing about.
const noCause = "none"

// book is what one Go side recorded that a verdict needs, filled by a stats
// handler installed after grpcpulse's (hook), the test service, the
// diagnosis handler and the client's stream readers. wait polls it.
type book struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every change

	connBegins, connEnds int
	started              map[string]bool   // server: the stream's handler runs
	ended                map[string]bool   // the stream's RPC End was recorded (after grpcpulse's interceptor decided)
	causes               map[string]string // what interceptors.Cause said of the stream
	errs                 map[string]error  // client: the stream's final error
	diags                []pulse.Diagnosis
	unnamed              int // foreign clients' streams seen
}

func newBook() *book {
	return &book{changed: make(chan struct{}), started: map[string]bool{}, ended: map[string]bool{},
		causes: map[string]string{}, errs: map[string]error{}}
}

func (b *book) note(f func()) {
	b.mu.Lock()
	f()
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

// wait waits until cond, called under the book's lock, holds.
func (b *book) wait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(testenv.Patience)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		ok, ch := cond(), b.changed
		b.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("waited %v for %s; %s", testenv.Patience, what, b)
		}
	}
}

// String summarises the book for a failure message.
func (b *book) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []string
	for k, v := range b.errs {
		errs = append(errs, fmt.Sprintf("%s: %v", k, v))
	}
	sort.Strings(errs)
	return fmt.Sprintf("transports begun %d, ended %d; started %v; ended %v; causes %v; errors %q",
		b.connBegins, b.connEnds, b.started, b.ended, b.causes, errs)
}

// count returns how many of names satisfy in, under the lock.
func (b *book) count(in map[string]bool, names []string) int {
	n := 0
	for _, s := range names {
		if in[s] {
			n++
		}
	}
	return n
}

// hook is the stats handler that fills a book: installed after grpcpulse's
// (the bundles put a WithStatsHandler handler after their own), it sees an
// RPC's End after grpcpulse's interceptor has reported the RPC, and a
// transport's end after grpcpulse has recorded its close and diagnosis.
type hook struct {
	b      *book
	server bool
}

// rpcName holds the name of a server RPC, which the service sets for the
// streams of foreign clients: it travels in the RPC's context from the
// hook's TagRPC to the handler and back to the hook's End.
type rpcName struct{ name string }

type rpcNameKey struct{}

func (h hook) TagRPC(ctx context.Context, _ *grpcstats.RPCTagInfo) context.Context {
	if !h.server {
		return ctx
	}
	n := &rpcName{}
	if v := metadata.ValueFromIncomingContext(ctx, streamKey); len(v) == 1 {
		n.name = v[0]
	}
	return context.WithValue(ctx, rpcNameKey{}, n)
}

func (h hook) HandleRPC(ctx context.Context, s grpcstats.RPCStats) {
	if _, ok := s.(*grpcstats.End); !ok {
		return
	}
	var name string
	if h.server {
		if n, ok := ctx.Value(rpcNameKey{}).(*rpcName); ok {
			h.b.mu.Lock()
			name = n.name
			h.b.mu.Unlock()
		}
	} else if v := metadata.ValueFromOutgoingContext(ctx, streamKey); len(v) == 1 {
		name = v[0]
	}
	if name != "" {
		h.b.note(func() { h.b.ended[name] = true })
	}
}

func (h hook) TagConn(ctx context.Context, _ *grpcstats.ConnTagInfo) context.Context { return ctx }

func (h hook) HandleConn(_ context.Context, s grpcstats.ConnStats) {
	switch s.(type) {
	case *grpcstats.ConnBegin:
		h.b.note(func() { h.b.connBegins++ })
	case *grpcstats.ConnEnd:
		h.b.note(func() { h.b.connEnds++ })
	}
}

// service is the Go server's test service. StreamingOutputCall, whatever
// its request, sends one message and then holds the stream until its
// context ends, and records what Cause says then; EmptyCall answers.
type service struct {
	testgrpc.UnimplementedTestServiceServer
	b *book
}

func (s *service) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	return &testgrpc.Empty{}, nil
}

func (s *service) StreamingOutputCall(_ *testgrpc.StreamingOutputCallRequest, st grpc.ServerStreamingServer[testgrpc.StreamingOutputCallResponse]) error {
	ctx := st.Context()
	n, _ := ctx.Value(rpcNameKey{}).(*rpcName)
	if n == nil {
		return errors.New("chaos: the RPC was not tagged")
	}
	var name string
	s.b.note(func() {
		if n.name == "" {
			s.b.unnamed++
			n.name = fmt.Sprintf("f%d", s.b.unnamed)
		}
		name = n.name
		s.b.started[name] = true
	})
	if err := st.Send(&testgrpc.StreamingOutputCallResponse{}); err != nil {
		return err
	}
	<-ctx.Done()
	err := ctx.Err()
	cause := noCause
	if r, ok := interceptors.Cause(ctx, err); ok {
		cause = r.String()
	}
	s.b.note(func() { s.b.causes[name] = cause })
	return err
}

// discard is the diagnosis logger: the diagnoses are checked through the
// diagnosis handler, and thousands of trials would flood the test log.
var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// goServer is a grpc-go server with grpcpulse's bundle.
type goServer struct {
	srv  *grpc.Server
	addr string
	m    *testenv.Metrics
	b    *book
}

func startGoServer(t *testing.T, extra ...options.ServerOption) *goServer {
	t.Helper()
	s := &goServer{m: testenv.NewMetrics(t), b: newBook()}
	opts := []options.ServerOption{
		options.WithMeterProvider(s.m.Provider),
		options.WithErrorHandler(func(error) {}),
		options.WithLogger(discard),
		options.WithStatsHandler(hook{b: s.b, server: true}),
		options.WithDiagnosisHandler(func(d pulse.Diagnosis) { s.b.note(func() { s.b.diags = append(s.b.diags, d) }) }),
	}
	s.srv = grpc.NewServer(options.Server(append(opts, extra...)...)...)
	testgrpc.RegisterTestServiceServer(s.srv, &service{b: s.b})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = lis.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(lis)
	}()
	t.Cleanup(func() {
		s.srv.Stop()
		<-done
	})
	return s
}

// drain waits for the server's drain in a max-age or graceful-stop trial,
// starting the graceful stop first, until m (either side's metrics) counts
// its GOAWAY with the debug data the fault sends; where says whose metrics
// m are, for the failure. A graceful stop returns only once the trial has
// ended every stream: the test's cleanup waits for it.
func (s *goServer) drain(t *testing.T, tr trial, m *testenv.Metrics, where string) {
	t.Helper()
	debug := "max_age"
	if tr.fault == faultGracefulStop {
		debug = "graceful_stop"
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			s.srv.GracefulStop()
		}()
		t.Cleanup(func() { <-stopped })
	}
	testenv.Eventually(t, func() string {
		if m.Sum(t, semconv.MetricGoAways, semconv.GoAwayReason.String(debug)) > 0 {
			return ""
		}
		return "no " + debug + " GOAWAY " + where
	})
}

// waitEnd waits until the server's connection and its streams named names
// have ended.
func (s *goServer) waitEnd(t *testing.T, names []string) {
	t.Helper()
	s.b.wait(t, "the server's close and streams", func() bool {
		return s.b.connEnds > 0 && s.b.count(s.b.ended, names) == len(names)
	})
}

// goClient is a grpc-go client with grpcpulse's bundle, and the streams it
// holds open.
type goClient struct {
	cc      *grpc.ClientConn
	m       *testenv.Metrics
	b       *book
	streams []*goStream
}

type goStream struct {
	name   string
	cancel context.CancelFunc
	done   chan struct{} // closed when the stream's final error is recorded
}

func startGoClient(t *testing.T, target string, extra ...options.ClientOption) *goClient {
	t.Helper()
	c := &goClient{m: testenv.NewMetrics(t), b: newBook()}
	opts := []options.ClientOption{
		options.WithMeterProvider(c.m.Provider),
		options.WithErrorHandler(func(error) {}),
		options.WithLogger(discard),
		options.WithStatsHandler(hook{b: c.b}),
		options.WithDiagnosisHandler(func(d pulse.Diagnosis) { c.b.note(func() { c.b.diags = append(c.b.diags, d) }) }),
	}
	cc, err := grpc.NewClient(target, options.Client(append(opts, extra...)...)...)
	if err != nil {
		t.Fatal(err)
	}
	c.cc = cc
	t.Cleanup(func() {
		_ = cc.Close()
		for _, s := range c.streams {
			s.cancel()
			<-s.done
		}
	})
	return c
}

// firstCall completes a call first: the connection carried an RPC that no
// end may count.
func (c *goClient) firstCall(t *testing.T) {
	t.Helper()
	ctx, cancel := contextFor(t)
	defer cancel()
	if _, err := testgrpc.NewTestServiceClient(c.cc).EmptyCall(ctx, &testgrpc.Empty{}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("EmptyCall: %v", err)
	}
}

// open opens n server streams, named s0, s1, ..., and waits until each has
// its response headers: each is then running on the server. A reader
// records each stream's final error and what Cause says of it.
func (c *goClient) open(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		name := fmt.Sprintf("s%d", len(c.streams))
		ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), streamKey, name))
		s := &goStream{name: name, cancel: cancel, done: make(chan struct{})}
		st, err := testgrpc.NewTestServiceClient(c.cc).StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{
			ResponseParameters: []*testgrpc.ResponseParameters{{Size: -1}},
		}, grpc.WaitForReady(true))
		if err != nil {
			cancel()
			t.Fatalf("stream %d: %v", i, err)
		}
		if _, err := st.Header(); err != nil {
			cancel()
			t.Fatalf("stream %d: no headers: %v", i, err)
		}
		c.streams = append(c.streams, s)
		go func() {
			defer close(s.done)
			var err error
			for err == nil {
				_, err = st.Recv()
			}
			cause := noCause
			if r, ok := interceptors.Cause(context.Background(), err); ok {
				cause = r.String()
			}
			c.b.note(func() {
				c.b.errs[name] = err
				c.b.causes[name] = cause
			})
		}()
	}
}

// cancel cancels the client's stream i and waits until grpc-go reported
// its End: its RST_STREAM is then queued ahead of anything the client
// sends later, a GOAWAY of its own close included.
func (c *goClient) cancel(t *testing.T, i int) {
	t.Helper()
	s := c.streams[i]
	s.cancel()
	c.b.wait(t, "the end of the cancelled "+s.name, func() bool { return c.b.ended[s.name] })
}

// cancelFirst cancels the client's first n streams, one after another.
func (c *goClient) cancelFirst(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		c.cancel(t, i)
	}
}

// waitEnd waits until the client's connection has ended and each of its
// streams named names has its final error.
func (c *goClient) waitEnd(t *testing.T, names []string) {
	t.Helper()
	c.b.wait(t, "the client's close and streams", func() bool {
		n := 0
		for _, name := range names {
			if _, ok := c.b.errs[name]; ok {
				n++
			}
		}
		return c.b.connEnds > 0 && n == len(names)
	})
}

// names returns the names of the client's streams.
func (c *goClient) names() []string {
	out := make([]string, len(c.streams))
	for i, s := range c.streams {
		out[i] = s.name
	}
	return out
}

// closeRec is one series of grpc.transport.closes.
type closeRec struct {
	reason, initiator string
	active            bool
	n                 int64
}

// failRec is one series of grpc.rpc.transport_failures.
type failRec struct {
	reason, code string
	n            int64
}

// observed is what one Go side recorded in a trial.
type observed struct {
	closes   []closeRec
	failures []failRec
	causes   map[string]string
	diags    []pulse.Diagnosis
	errs     map[string]error // client: each stream's final error
}

// observe reads what m and b hold.
func observe(t testing.TB, m *testenv.Metrics, b *book) observed {
	t.Helper()
	var o observed
	for _, p := range m.Points(t, semconv.MetricCloses) {
		r, _ := p.Attrs.Value(semconv.CloseReason)
		i, _ := p.Attrs.Value(semconv.CloseInitiator)
		a, _ := p.Attrs.Value(semconv.CloseActiveRPCs)
		o.closes = append(o.closes, closeRec{reason: r.AsString(), initiator: i.AsString(), active: a.AsBool(), n: p.Value})
	}
	for _, p := range m.Points(t, semconv.MetricTransportFailures) {
		r, _ := p.Attrs.Value(semconv.CloseReason)
		c, _ := p.Attrs.Value(semconv.RPCStatusCode)
		o.failures = append(o.failures, failRec{reason: r.AsString(), code: c.AsString(), n: p.Value})
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	o.causes = map[string]string{}
	for k, v := range b.causes {
		o.causes[k] = v
	}
	o.diags = append(o.diags, b.diags...)
	o.errs = map[string]error{}
	for k, v := range b.errs {
		o.errs[k] = v
	}
	return o
}

func (o observed) String() string {
	var s []string
	for _, c := range o.closes {
		s = append(s, fmt.Sprintf("close %s/%s active=%v x%d", c.reason, c.initiator, c.active, c.n))
	}
	for _, f := range o.failures {
		s = append(s, fmt.Sprintf("failure %s %s x%d", f.reason, f.code, f.n))
	}
	var names []string
	for k := range o.causes {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		s = append(s, fmt.Sprintf("cause %s=%s", k, o.causes[k]))
	}
	for _, d := range o.diags {
		s = append(s, fmt.Sprintf("diagnosis %s cut=%d", d.Reason, d.CutRPCs))
	}
	names = names[:0]
	for k := range o.errs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		s = append(s, fmt.Sprintf("error %s=%v", k, o.errs[k]))
	}
	return strings.Join(s, "; ")
}
