package testenv

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	grpcstats "google.golang.org/grpc/stats"

	"github.com/grpcpulse/grpcpulse/interceptors"
	"github.com/grpcpulse/grpcpulse/internal/faultproxy"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats"
)

// End is one side of a scenario: its handler, its metrics and an independent
// count of the transports grpc-go reported.
type End struct {
	Name    string
	H       Handler
	M       *Metrics
	Counter *ConnCounter
	// Spans records every span of this side's TracerProvider, TP.
	Spans *tracetest.SpanRecorder
	TP    *sdktrace.TracerProvider
}

// Handler is what a scenario needs of a side's stats handler.
type Handler interface {
	grpcstats.Handler
	WrapCredentials(credentials.TransportCredentials) credentials.TransportCredentials
}

func newEnd(t *testing.T, server bool, extra []options.HandlerOption) *End {
	e := &End{M: NewMetrics(t), Counter: &ConnCounter{}, Spans: tracetest.NewSpanRecorder()}
	e.TP = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(e.Spans))
	t.Cleanup(func() { _ = e.TP.Shutdown(context.Background()) })
	opts := append([]options.HandlerOption{options.WithMeterProvider(e.M.Provider), options.WithTracerProvider(e.TP)}, extra...)
	if server {
		e.Name = "server"
		e.H = stats.NewServerHandler(opts...)
	} else {
		e.Name = "client"
		e.H = stats.NewClientHandler(opts...)
	}
	return e
}

// EndedSpans returns the ended spans named name.
func (e *End) EndedSpans(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range e.Spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// Closes sums grpc.transport.closes over the points that match.
func (e *End) Closes(t *testing.T, match ...attribute.KeyValue) int64 {
	t.Helper()
	return e.M.Sum(t, semconv.MetricCloses, match...)
}

// WaitClose waits until this side recorded a close with reason and
// initiator.
func (e *End) WaitClose(t *testing.T, reason, initiator string) {
	t.Helper()
	Eventually(t, func() string {
		if e.Closes(t, semconv.CloseReason.String(reason), semconv.CloseInitiator.String(initiator)) > 0 {
			return ""
		}
		return fmt.Sprintf("%s: no close with reason=%s initiator=%s\n%s\n%s\n%s", e.Name, reason, initiator,
			e.M.Dump(t, semconv.MetricCloses), e.M.Dump(t, semconv.MetricGoAways), e.M.Dump(t, semconv.MetricPings))
	})
}

// Failures sums grpc.rpc.transport_failures over the points that match.
func (e *End) Failures(t *testing.T, match ...attribute.KeyValue) int64 {
	t.Helper()
	return e.M.Sum(t, semconv.MetricTransportFailures, match...)
}

// WaitFailure waits until this side counted a transport failure of method
// with reason and status code.
func (e *End) WaitFailure(t *testing.T, reason, method, code string) {
	t.Helper()
	Eventually(t, func() string {
		if e.Failures(t, semconv.CloseReason.String(reason), semconv.RPCMethod.String(method), semconv.RPCStatusCode.String(code)) > 0 {
			return ""
		}
		return fmt.Sprintf("%s: no transport failure reason=%s method=%s code=%s\n%s\n%s", e.Name, reason, method, code,
			e.M.Dump(t, semconv.MetricTransportFailures), e.M.Dump(t, semconv.MetricCloses))
	})
}

// checkNothingLost asserts the invariants that hold after every scenario:
// each transport that began ended in exactly one close, the connections
// gauge is back to zero and, when journals is given, every journal was
// freed.
func (e *End) checkNothingLost(t *testing.T, journals func(grpcstats.Handler) int) {
	t.Helper()
	Eventually(t, func() string {
		begins, ends := e.Counter.Begins.Load(), e.Counter.Ends.Load()
		closes := e.Closes(t)
		open := e.M.Sum(t, semconv.MetricConnections)
		j := 0
		if journals != nil {
			j = journals(e.H)
		}
		if begins == ends && closes == ends && open == 0 && j == 0 {
			return ""
		}
		return fmt.Sprintf("%s: begins=%d ends=%d closes=%d connections=%d journals=%d",
			e.Name, begins, ends, closes, open, j)
	})
}

// Scenario is a real server and client, optionally through the fault proxy.
type Scenario struct {
	Server, Client *End
	Srv            *grpc.Server
	Proxy          *faultproxy.Proxy
	Target         string
	Svc            *Service

	interceptors bool
}

// Setup configures a Scenario.
type Setup struct {
	ServerOpts   []grpc.ServerOption
	Proxy        bool                             // clients dial through a fault proxy
	ServerCreds  credentials.TransportCredentials // nil: insecure
	Unwrapped    bool                             // do not install the frame observer
	Interceptors bool                             // install grpcpulse's interceptors on both sides
	// HandlerOpts are added to both sides' stats handler options.
	HandlerOpts []options.HandlerOption
	// Journals, if set, counts a handler's open journals for the
	// end-of-test check that every journal was freed.
	Journals func(grpcstats.Handler) int
}

// Start starts the scenario's server. When the test ends, it checks on both
// sides that nothing was lost.
func Start(t *testing.T, cfg Setup) *Scenario {
	t.Helper()
	s := &Scenario{Server: newEnd(t, true, cfg.HandlerOpts), Client: newEnd(t, false, cfg.HandlerOpts), Svc: &Service{}, interceptors: cfg.Interceptors}
	// Registered first, so it runs last: after the client, proxy and
	// server cleanups below.
	t.Cleanup(func() {
		s.Server.checkNothingLost(t, cfg.Journals)
		s.Client.checkNothingLost(t, cfg.Journals)
	})
	creds := cfg.ServerCreds
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	if !cfg.Unwrapped {
		creds = s.Server.H.WrapCredentials(creds)
	}
	opts := []grpc.ServerOption{
		grpc.Creds(creds),
		grpc.StatsHandler(s.Server.H),
		grpc.StatsHandler(s.Server.Counter),
	}
	if cfg.Interceptors {
		mp := options.WithMeterProvider(s.Server.M.Provider)
		opts = append(opts,
			grpc.ChainUnaryInterceptor(interceptors.UnaryServerInterceptor(mp)),
			grpc.ChainStreamInterceptor(interceptors.StreamServerInterceptor(mp)))
	}
	s.Srv, s.Target = Serve(t, s.Svc, append(opts, cfg.ServerOpts...)...)
	if cfg.Proxy {
		p, err := faultproxy.New(s.Target)
		if err != nil {
			t.Fatalf("proxy: %v", err)
		}
		t.Cleanup(func() { _ = p.Close() })
		s.Proxy, s.Target = p, p.Addr()
	}
	return s
}

// Dial returns a client of the scenario's server, closed when the test
// ends. wrap installs the client's frame observer on creds (nil: insecure).
func (s *Scenario) Dial(t *testing.T, creds credentials.TransportCredentials, wrap bool, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(s.Target, append(s.dialOptions(creds, wrap), opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// DialOptions returns the options of a client with the frame observer on
// insecure credentials, for tests that manage their clients' lifetime.
func (s *Scenario) DialOptions() []grpc.DialOption { return s.dialOptions(nil, true) }

func (s *Scenario) dialOptions(creds credentials.TransportCredentials, wrap bool) []grpc.DialOption {
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	if wrap {
		creds = s.Client.H.WrapCredentials(creds)
	}
	base := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithStatsHandler(s.Client.H),
		grpc.WithStatsHandler(s.Client.Counter),
	}
	if s.interceptors {
		mp := options.WithMeterProvider(s.Client.M.Provider)
		base = append(base,
			grpc.WithChainUnaryInterceptor(interceptors.UnaryClientInterceptor(mp)),
			grpc.WithChainStreamInterceptor(interceptors.StreamClientInterceptor(mp)))
	}
	return base
}

// Call makes one unary RPC, which also establishes the transport.
func Call(t *testing.T, cc *grpc.ClientConn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Patience)
	defer cancel()
	if _, err := testgrpc.NewTestServiceClient(cc).EmptyCall(ctx, &testgrpc.Empty{}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("EmptyCall: %v", err)
	}
}

// StreamUntilCut opens a server-streaming RPC whose handler blocks until
// its context ends and returns the error that ends the stream: the
// transport's end, since nothing else ends it. ctx may carry a span.
func StreamUntilCut(t *testing.T, ctx context.Context, cc *grpc.ClientConn) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, Patience)
	defer cancel()
	st, err := testgrpc.NewTestServiceClient(cc).StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: -1}},
	}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatalf("StreamingOutputCall: %v", err)
	}
	for err == nil {
		_, err = st.Recv()
	}
	return err
}
