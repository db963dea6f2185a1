package options_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	mnoop "go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"

	"github.com/grpcpulse/grpcpulse/internal/faultproxy"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
)

// The bundles install everything: a connection cut by the server's
// MaxConnectionAge override is classified on both sides (so the frame
// observer is in place), and a stream cut with it is counted as a
// transport failure (so the interceptors are).
func TestBundlesInstallEverything(t *testing.T) {
	t.Parallel()
	sm, cm := testenv.NewMetrics(t), testenv.NewMetrics(t)
	svc := &testenv.Service{Started: make(chan string, 1)}
	_, addr := testenv.Serve(t, svc, options.Server(
		options.WithMeterProvider(sm.Provider),
		options.WithServerParameters(keepalive.ServerParameters{
			Time: time.Minute, MaxConnectionAge: 300 * time.Millisecond, MaxConnectionAgeGrace: 300 * time.Millisecond,
		}),
	)...)
	cc, err := grpc.NewClient(addr, options.Client(options.WithMeterProvider(cm.Provider))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	defer cancel()
	st, err := testgrpc.NewTestServiceClient(cc).StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: -1}}, // block until the stream is cut
	}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatal(err)
	}
	<-svc.Started
	if _, err := st.Recv(); err == nil {
		t.Fatal("stream outlived MaxConnectionAge + grace")
	}
	reason := semconv.CloseReason.String("max_connection_age")
	for _, m := range []*testenv.Metrics{sm, cm} {
		testenv.Eventually(t, func() string {
			if m.Sum(t, semconv.MetricCloses, reason) > 0 && m.Sum(t, semconv.MetricTransportFailures, reason) > 0 {
				return ""
			}
			return m.Dump(t, semconv.MetricCloses) + m.Dump(t, semconv.MetricTransportFailures)
		})
	}
}

// collect returns an error handler option and what it was handed.
func collect() (options.Option, func() []error) {
	var (
		mu  sync.Mutex
		got []error
	)
	return options.WithErrorHandler(func(err error) {
			mu.Lock()
			got = append(got, err)
			mu.Unlock()
		}), func() []error {
			mu.Lock()
			defer mu.Unlock()
			return append([]error(nil), got...)
		}
}

func oneError(t *testing.T, what string, got []error, want ...string) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("%s: reported %d errors, want 1: %v", what, len(got), got)
	}
	for _, w := range want {
		if !strings.Contains(got[0].Error(), w) {
			t.Errorf("%s: reported %q, want it to say %q", what, got[0], w)
		}
	}
}

// What the user writes is applied as written; Validate's findings are
// reported, and only what grpc-go would reject is not applied.
func TestOverridesAreAppliedAndReported(t *testing.T) {
	t.Parallel()
	// A client Time below grpc's default MinTime is no finding at all
	// without a known peer policy: any policy would be a guess.
	fast := options.WithClientParameters(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true})
	handler, reported := collect()
	_ = options.Client(fast, handler)
	if got := reported(); len(got) != 0 {
		t.Errorf("a client override without a peer policy was reported: %v", got)
	}
	// Against a known peer policy it is reported, and still applied.
	handler, reported = collect()
	_ = options.Client(fast, options.WithPeerServerPolicy(options.GRPCDefaultServerPolicy()), handler)
	oneError(t, "client against grpc's defaults", reported(), "applied as written", "too_many_pings")

	// A negative Timeout would fail every connection (TCP_USER_TIMEOUT):
	// not applied, and said so.
	handler, reported = collect()
	negative := options.WithServerParameters(keepalive.ServerParameters{Timeout: -time.Second})
	_ = options.Server(negative, handler)
	oneError(t, "negative server Timeout", reported(), "NOT applied", "ServerParameters.Timeout")
	var f options.Finding
	if err := reported()[0]; !errors.As(err, &f) || f.Severity != options.Fatal {
		t.Errorf("reported %v, want a Fatal finding in it", err)
	}

	// WithServerPolicy is checked like the field overrides.
	handler, reported = collect()
	_ = options.Server(options.WithServerPolicy(options.ServerPolicy{Parameters: keepalive.ServerParameters{MaxConnectionAge: -time.Second}}), handler)
	oneError(t, "WithServerPolicy with a negative MaxConnectionAge", reported(), "NOT applied", "MaxConnectionAge")

	// A value that means nothing is reported, not ignored. (An option
	// for the other side does not compile: see TestMisuseDoesNotCompile.)
	handler, reported = collect()
	_ = options.Client(options.WithMeterProvider(nil), handler)
	oneError(t, "a nil MeterProvider", reported(), "options.WithMeterProvider", "nil")

	// The presets are never reported.
	handler, reported = collect()
	_ = options.Server(handler)
	_ = options.Client(handler)
	if got := reported(); len(got) != 0 {
		t.Errorf("the presets were reported: %v", got)
	}
}

// The user's client parameters run as written: a keepalive Time of 10s and
// Timeout of 1s (which grpc's default server would answer with
// too_many_pings, but the user's own server allows) detect a blackholed
// path.
func TestClientOverrideDetectsDeadPath(t *testing.T) {
	t.Parallel()
	sm, cm := testenv.NewMetrics(t), testenv.NewMetrics(t)
	_, addr := testenv.Serve(t, &testenv.Service{}, options.Server(
		options.WithMeterProvider(sm.Provider),
		options.WithEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
	)...)
	proxy, err := faultproxy.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	cc, err := grpc.NewClient(proxy.Addr(), options.Client(
		options.WithMeterProvider(cm.Provider),
		options.WithClientParameters(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: time.Second, PermitWithoutStream: true}),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	testenv.Call(t, cc)
	proxy.Blackhole()
	testenv.Eventually(t, func() string {
		if cm.Sum(t, semconv.MetricCloses, semconv.CloseReason.String("keepalive_timeout"), semconv.CloseInitiator.String("local")) == 1 {
			return ""
		}
		return cm.Dump(t, semconv.MetricCloses) + cm.Dump(t, semconv.MetricPings)
	})
}

// A credentials bundle is wrapped like transport credentials: its frames
// are observed, and its per-RPC credentials still reach the server.
func TestCredentialsBundle(t *testing.T) {
	t.Parallel()
	cm := testenv.NewMetrics(t)
	sawToken := make(chan bool, 1)
	svc := &testenv.Service{}
	_, addr := testenv.Serve(t, svc, append(options.Server(), grpc.ChainUnaryInterceptor(
		func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			md, _ := metadata.FromIncomingContext(ctx)
			select {
			case sawToken <- len(md.Get("x-token")) == 1:
			default:
			}
			return h(ctx, req)
		}))...)
	cc, err := grpc.NewClient(addr, options.Client(options.WithMeterProvider(cm.Provider), options.WithCredentialsBundle(tokenBundle{}))...)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Call(t, cc)
	if !<-sawToken {
		t.Error("the bundle's per-RPC credentials did not reach the server")
	}
	_ = cc.Close()
	// Only the wire tells a client's own close apart from unknown.
	testenv.Eventually(t, func() string {
		if cm.Sum(t, semconv.MetricCloses, semconv.CloseReason.String("client_shutdown"), semconv.CloseInitiator.String("local")) == 1 {
			return ""
		}
		return cm.Dump(t, semconv.MetricCloses)
	})
}

// tokenBundle is a credentials.Bundle of insecure transport credentials and
// a per-RPC token.
type tokenBundle struct{}

func (tokenBundle) TransportCredentials() credentials.TransportCredentials {
	return insecure.NewCredentials()
}
func (tokenBundle) PerRPCCredentials() credentials.PerRPCCredentials { return token{} }
func (b tokenBundle) NewWithMode(string) (credentials.Bundle, error) { return b, nil }

type token struct{}

func (token) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"x-token": "t"}, nil
}
func (token) RequireTransportSecurity() bool { return false }

// Credentials passed after a bundle replace its wrapped ones, and every
// close would then be recorded as unknown: the handler says so once, with
// the fix, on each side.
func TestReplacedCredentialsAreReported(t *testing.T) {
	t.Parallel()
	serverReport, serverReported := collect()
	_, addr := testenv.Serve(t, &testenv.Service{}, append(options.Server(serverReport), grpc.Creds(insecure.NewCredentials()))...)
	clientReport, clientReported := collect()
	cc, err := grpc.NewClient(addr, append(options.Client(clientReport), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for range 3 {
		testenv.Call(t, cc)
	}
	// A second connection: still one report per side.
	cc2, err := grpc.NewClient(addr, append(options.Client(clientReport), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Call(t, cc2)
	_ = cc2.Close()
	testenv.Eventually(t, func() string {
		if len(serverReported()) == 1 {
			return ""
		}
		return "the server has not reported its unobserved connections"
	})
	oneError(t, "server with grpc.Creds after the bundle", serverReported(), "grpc.Creds", "options.WithTransportCredentials", "unknown")
	got := clientReported()
	if len(got) != 2 {
		// Each options.Client call builds its own handler, which reports once.
		t.Fatalf("client reports = %d, want one per handler (2): %v", len(got), got)
	}
	for _, err := range got {
		if !strings.Contains(err.Error(), "grpc.WithTransportCredentials") || !strings.Contains(err.Error(), "options.WithTransportCredentials") {
			t.Errorf("client reported %q, want it to name the cause and the fix", err)
		}
	}

	// With the wrapped credentials in place nothing is reported.
	quietReport, quiet := collect()
	_, addr2 := testenv.Serve(t, &testenv.Service{}, options.Server(quietReport)...)
	cc3, err := grpc.NewClient(addr2, options.Client(quietReport)...)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Call(t, cc3)
	_ = cc3.Close()
	if got := quiet(); len(got) != 0 {
		t.Errorf("wrapped credentials were reported: %v", got)
	}
}

// Errors from creating instruments go to the error handler, not to the
// OpenTelemetry global one.
func TestInstrumentErrorsAreReported(t *testing.T) {
	t.Parallel()
	report, reported := collect()
	mp := failingMeterProvider{MeterProvider: mnoop.NewMeterProvider()}
	_ = options.Server(options.WithMeterProvider(mp), report)
	got := reported()
	if len(got) != 2 {
		// The stats handler's instruments and the interceptors' counter.
		t.Fatalf("reported %d errors, want 2: %v", len(got), got)
	}
	for _, err := range got {
		if !strings.Contains(err.Error(), "instruments") || !strings.Contains(err.Error(), "refused") {
			t.Errorf("reported %q", err)
		}
	}
}

// failingMeterProvider's meters return usable no-op instruments with an
// error, as the API allows.
type failingMeterProvider struct{ metric.MeterProvider }

func (p failingMeterProvider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return failingMeter{p.MeterProvider.Meter(name, opts...)}
}

type failingMeter struct{ metric.Meter }

var errRefused = errors.New("refused")

func (m failingMeter) Int64Counter(name string, opts ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	c, _ := m.Meter.Int64Counter(name, opts...)
	return c, errRefused
}
