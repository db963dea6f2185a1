package interceptors_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	grpcstats "google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/interceptors"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// The scenarios below cancel a stream while its connection drains. grpc-go
// closes a drained connection as soon as its last stream ends, so when the
// cancelled stream is the last one, the client's RST_STREAM CANCEL is
// followed at once by the end of the connection on both sides, and the
// server's handler, woken by the cancel, may return after that end began.
// The stream was still cancelled by its client, not cut by the connection.

// drainTest is a scenario whose server drains, by max age or GracefulStop,
// with streams that tell apart, on the server, which one ended how.
type drainTest struct {
	s     *testenv.Scenario
	drain string // the GOAWAY debug data: "max_age" or "graceful_stop"

	// late: the cancelled stream's handler on the server, and its End on
	// the client, wait until that side's transport has ended, as they
	// may on a busy machine.
	late bool
	// serverGone and clientGone are closed at each side's ConnEnd.
	serverGone, clientGone chan struct{}

	mu        sync.Mutex
	cancelled map[string]bool   // stream name -> its handler's context ended
	causes    map[string]string // stream name -> what Cause told its handler
	ended     map[string]bool   // stream name -> the server recorded its End
	diagnoses []pulse.Diagnosis
	changed   chan struct{} // closed and replaced when the maps change
}

// streamKey is the metadata key that names a test stream on the server.
const streamKey = "test-stream"

func newDrainTest(t *testing.T, drain string, grace time.Duration, late bool) *drainTest {
	t.Helper()
	d := &drainTest{drain: drain, late: late, cancelled: map[string]bool{}, causes: map[string]string{}, ended: map[string]bool{}, changed: make(chan struct{}),
		serverGone: make(chan struct{}), clientGone: make(chan struct{})}
	opts := []grpc.ServerOption{grpc.StatsHandler(rpcEnds{d})}
	if drain == "max_age" {
		opts = append(opts, grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionAge: 300 * time.Millisecond, MaxConnectionAgeGrace: grace,
		}))
	}
	d.s = start(t, testenv.Setup{ServerOpts: opts, HandlerOpts: []options.HandlerOption{
		options.WithDiagnosisHandler(func(diag pulse.Diagnosis) {
			d.mu.Lock()
			d.diagnoses = append(d.diagnoses, diag)
			d.mu.Unlock()
		}),
	}})
	d.s.Svc.Ended = func(ctx context.Context, err error) {
		d.note(func() { d.cancelled[streamName(ctx)] = true })
		if d.late {
			awaitGone(d.serverGone)
		}
		cause := "(none)"
		if r, ok := interceptors.Cause(ctx, err); ok {
			cause = r.String()
		}
		d.note(func() { d.causes[streamName(ctx)] = cause })
	}
	return d
}

func streamName(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(streamKey); len(v) == 1 {
		return v[0]
	}
	return "?"
}

func (d *drainTest) note(f func()) {
	d.mu.Lock()
	f()
	close(d.changed)
	d.changed = make(chan struct{})
	d.mu.Unlock()
}

// wait waits until cond, read under the lock, holds.
func (d *drainTest) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(testenv.Patience)
	for {
		d.mu.Lock()
		ok, ch := cond(), d.changed
		d.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s did not happen", what)
		}
	}
}

// serverEnded waits until the server's handler of stream name returned
// and its End was recorded: its interceptor has decided by then.
func (d *drainTest) serverEnded(t *testing.T, name string) string {
	t.Helper()
	d.wait(t, "the end of the server's "+name, func() bool { return d.ended[name] })
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.causes[name]
}

// awaitGone waits until gone is closed, or gives up after Patience: the
// test then fails on what was recorded.
func awaitGone(gone <-chan struct{}) {
	select {
	case <-gone:
	case <-time.After(testenv.Patience):
	}
}

// rpcEnds is a stats handler installed after grpcpulse's on the server: it
// sees an RPC's End after grpcpulse's interceptor has reported it, and the
// transport's end after grpcpulse recorded it.
type rpcEnds struct{ d *drainTest }

func (r rpcEnds) TagRPC(ctx context.Context, _ *grpcstats.RPCTagInfo) context.Context { return ctx }
func (r rpcEnds) HandleRPC(ctx context.Context, s grpcstats.RPCStats) {
	if _, ok := s.(*grpcstats.End); ok {
		name := streamName(ctx)
		r.d.note(func() { r.d.ended[name] = true })
	}
}
func (r rpcEnds) TagConn(ctx context.Context, _ *grpcstats.ConnTagInfo) context.Context {
	return ctx
}
func (r rpcEnds) HandleConn(_ context.Context, s grpcstats.ConnStats) {
	if _, ok := s.(*grpcstats.ConnEnd); ok {
		close(r.d.serverGone)
	}
}

// lateEnds is a stats handler installed before grpcpulse's on the client:
// when the test is late, it holds each RPC's End until the client's
// transport has ended, so that grpcpulse sees the End after the close.
type lateEnds struct{ d *drainTest }

func (l lateEnds) TagRPC(ctx context.Context, _ *grpcstats.RPCTagInfo) context.Context { return ctx }
func (l lateEnds) HandleRPC(_ context.Context, s grpcstats.RPCStats) {
	if _, ok := s.(*grpcstats.End); ok && l.d.late {
		awaitGone(l.d.clientGone)
	}
}
func (l lateEnds) TagConn(ctx context.Context, _ *grpcstats.ConnTagInfo) context.Context {
	return ctx
}
func (l lateEnds) HandleConn(_ context.Context, s grpcstats.ConnStats) {
	if _, ok := s.(*grpcstats.ConnEnd); ok {
		close(l.d.clientGone)
	}
}

// dial returns a client whose stats handlers are lateEnds, then the
// scenario's; its lifetime is the caller's.
func (d *drainTest) dial(t *testing.T) *grpc.ClientConn {
	t.Helper()
	mp := options.WithMeterProvider(d.s.Client.M.Provider)
	cc, err := grpc.NewClient(d.s.Target,
		grpc.WithTransportCredentials(d.s.Client.H.WrapCredentials(insecure.NewCredentials())),
		grpc.WithStatsHandler(lateEnds{d}),
		grpc.WithStatsHandler(d.s.Client.H),
		grpc.WithStatsHandler(d.s.Client.Counter),
		grpc.WithChainUnaryInterceptor(interceptors.UnaryClientInterceptor(mp)),
		grpc.WithChainStreamInterceptor(interceptors.StreamClientInterceptor(mp)))
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

// open starts a server stream named name that sends one message and then
// blocks until it ends, and reads that message.
func (d *drainTest) open(t *testing.T, cc *grpc.ClientConn, name string) (grpc.ServerStreamingClient[testgrpc.StreamingOutputCallResponse], context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), streamKey, name), testenv.Patience)
	t.Cleanup(cancel)
	st, err := testgrpc.NewTestServiceClient(cc).StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: 0}, {Size: -1}},
	}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatalf("StreamingOutputCall: %v", err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatalf("%s: first message: %v", name, err)
	}
	waitStarted(t, d.s)
	return st, cancel
}

// startDrain starts the drain (GracefulStop; max age starts on its own)
// and waits until the client received its GOAWAY. The returned channel is
// closed when GracefulStop returns.
func (d *drainTest) startDrain(t *testing.T) <-chan struct{} {
	t.Helper()
	stopped := make(chan struct{})
	if d.drain == "graceful_stop" {
		go func() {
			defer close(stopped)
			d.s.Srv.GracefulStop()
		}()
	} else {
		close(stopped)
	}
	testenv.Eventually(t, func() string {
		if d.s.Client.M.Sum(t, semconv.MetricGoAways, semconv.GoAwayReason.String(d.drain)) > 0 {
			return ""
		}
		return "no " + d.drain + " GOAWAY at the client yet\n" + d.s.Client.M.Dump(t, semconv.MetricGoAways)
	})
	return stopped
}

func (d *drainTest) reason() pulse.Reason {
	if d.drain == "max_age" {
		return pulse.ReasonMaxConnectionAge
	}
	return pulse.ReasonServerShutdown
}

// checkCancelled asserts what the client's application got for a stream it
// cancelled.
func checkCancelled(t *testing.T, st grpc.ServerStreamingClient[testgrpc.StreamingOutputCallResponse]) {
	t.Helper()
	_, err := st.Recv()
	if status.Code(err) != codes.Canceled {
		t.Errorf("cancelled stream: Recv = %v, want Canceled", err)
	}
	if r, ok := interceptors.Cause(context.Background(), err); ok {
		t.Errorf("client: Cause(%v) = %s, want none", err, r)
	}
}

// checkEnds asserts each side's close (reason, initiator, active_rpcs), its
// transport failures and its diagnoses, by their cut counts.
func (d *drainTest) checkEnds(t *testing.T, cut bool, failures map[string]int64, diagnosed map[pulse.Side]int) {
	t.Helper()
	initiators := map[string]string{"server": "local", "client": "peer"}
	for _, e := range []*testenv.End{d.s.Server, d.s.Client} {
		testenv.Eventually(t, func() string {
			if e.Closes(t) == 1 {
				return ""
			}
			return e.Name + ": no close yet"
		})
		want := []any{d.reason().String(), initiators[e.Name], cut}
		if n := e.Closes(t, semconv.CloseReason.String(d.reason().String()),
			semconv.CloseInitiator.String(initiators[e.Name]), semconv.CloseActiveRPCs.Bool(cut)); n != 1 {
			t.Errorf("%s: want one close with reason, initiator, active_rpcs = %v\n%s", e.Name, want, e.M.Dump(t, semconv.MetricCloses))
		}
		if n := e.Failures(t); n != failures[e.Name] {
			t.Errorf("%s: %d transport failures, want %d\n%s", e.Name, n, failures[e.Name], e.M.Dump(t, semconv.MetricTransportFailures))
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	got := map[pulse.Side]int{}
	for _, diag := range d.diagnoses {
		if _, ok := diagnosed[diag.Side]; !ok {
			t.Errorf("%s: unexpected diagnosis: %s cut %d: %s", diag.Side, diag.Reason, diag.CutRPCs, diag.Advice)
			continue
		}
		got[diag.Side] = diag.CutRPCs
	}
	for side, n := range diagnosed {
		if got[side] != n {
			t.Errorf("%s: diagnosis cut %d RPC(s), want %d", side, got[side], n)
		}
	}
}

// eachDrain runs f in a parallel subtest for each way the server drains,
// early and late (see drainTest), on a drainTest whose max-age grace is
// grace.
func eachDrain(t *testing.T, grace time.Duration, f func(t *testing.T, d *drainTest)) {
	for _, drain := range []string{"max_age", "graceful_stop"} {
		for _, late := range []bool{false, true} {
			name := drain
			if late {
				name += "/late"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				f(t, newDrainTest(t, drain, grace, late))
			})
		}
	}
}

// The client cancels the connection's only stream while the server drains
// it, and then closes its connection. Nothing was cut on either side. The
// late variants hold the server's handler and the client's End until each
// side's transport has ended: grpcpulse then sees the stream end after the
// close it caused, every time.
func TestCancelLastStreamDuringDrain(t *testing.T) {
	eachDrain(t, time.Minute, func(t *testing.T, d *drainTest) {
		cc := d.dial(t)
		defer cc.Close()
		st, cancel := d.open(t, cc, "a")
		stopped := d.startDrain(t)
		cancel()
		checkCancelled(t, st)
		_ = cc.Close()
		if got := d.serverEnded(t, "a"); got != "(none)" {
			t.Errorf("server: Cause in the cancelled stream's handler = %s, want none", got)
		}
		<-stopped
		d.checkEnds(t, false, map[string]int64{}, map[pulse.Side]int{})
	})
}

// Two streams share a draining connection: the client cancels one, and the
// end of the drain (max age's grace, or Stop after GracefulStop) cuts the
// other. Each side counts the cut one alone, and the cancelled one is no
// transport failure even when its handler, or its End on the client, comes
// after the close (late).
func TestCancelOneStreamCutAnother(t *testing.T) {
	// The grace outlasts the cancel's arrival at the server by far: the
	// test waits for that, not for the grace.
	eachDrain(t, 3*time.Second, func(t *testing.T, d *drainTest) {
		cc := d.dial(t)
		defer cc.Close()
		a, cancelA := d.open(t, cc, "a")
		b, _ := d.open(t, cc, "b")
		stopped := d.startDrain(t)
		cancelA()
		aDone := make(chan struct{})
		go func() {
			defer close(aDone)
			checkCancelled(t, a)
		}()
		d.wait(t, "the cancel at the server", func() bool { return d.cancelled["a"] })
		if d.s.Server.Closes(t) != 0 {
			t.Fatal("the connection ended before the cancel reached the server: the grace is too short for this machine")
		}
		if d.drain == "graceful_stop" {
			d.s.Srv.Stop()
		}
		var err error
		for err == nil {
			_, err = b.Recv()
		}
		checkClientError(t, err, d.reason())
		<-aDone
		if got := d.serverEnded(t, "a"); got != "(none)" {
			t.Errorf("server: Cause in the cancelled stream's handler = %s, want none", got)
		}
		if got := d.serverEnded(t, "b"); got != d.reason().String() {
			t.Errorf("server: Cause in the cut stream's handler = %s, want %s", got, d.reason())
		}
		<-stopped
		diagnosed := map[pulse.Side]int{}
		if d.drain == "max_age" {
			diagnosed = map[pulse.Side]int{pulse.SideServer: 1, pulse.SideClient: 1}
		}
		d.checkEnds(t, true, map[string]int64{"server": 1, "client": 1}, diagnosed)
	})
}
