// Command quickstart shows grpcpulse explaining three real connection
// failures, all on loopback, in a few seconds:
//
//  1. a server-streaming RPC cut by the server's MaxConnectionAge + grace;
//  2. a client that pings faster than the server allows (too_many_pings);
//  3. a connection silently blackholed between client and server, detected
//     by the server's keepalive.
//
// It then prints the OpenTelemetry metrics grpcpulse recorded.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/faultproxy"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/stats"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// telemetry is one MeterProvider per side, read on demand.
type telemetry struct {
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newTelemetry() *telemetry {
	r := sdkmetric.NewManualReader()
	return &telemetry{reader: r, mp: sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))}
}

func run(w io.Writer) error {
	tel := newTelemetry()
	defer tel.mp.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()

	fmt.Fprintln(w, "grpcpulse quickstart: provoking three real connection failures on loopback")
	if err := streamCutByMaxAge(ctx, w, tel); err != nil {
		return fmt.Errorf("max age: %w", err)
	}
	if err := tooManyPings(ctx, w, tel); err != nil {
		return fmt.Errorf("too many pings: %w", err)
	}
	if err := blackhole(ctx, w, tel); err != nil {
		return fmt.Errorf("blackhole: %w", err)
	}
	return report(w, tel)
}

// server starts an instrumented grpc.Server on 127.0.0.1:0.
func server(tel *telemetry, opts ...grpc.ServerOption) (*grpc.Server, string, error) {
	h := stats.NewServerHandler(stats.WithMeterProvider(tel.mp))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := grpc.NewServer(append([]grpc.ServerOption{
		grpc.Creds(h.WrapCredentials(insecure.NewCredentials())),
		grpc.StatsHandler(h),
	}, opts...)...)
	testgrpc.RegisterTestServiceServer(srv, &testenv.Service{})
	go srv.Serve(lis)
	return srv, lis.Addr().String(), nil
}

// client dials target with an instrumented grpc.ClientConn.
func client(tel *telemetry, target string) (*grpc.ClientConn, error) {
	h := stats.NewClientHandler(stats.WithMeterProvider(tel.mp))
	return grpc.NewClient(target,
		grpc.WithTransportCredentials(h.WrapCredentials(insecure.NewCredentials())),
		grpc.WithStatsHandler(h))
}

func streamCutByMaxAge(ctx context.Context, w io.Writer, tel *telemetry) error {
	fmt.Fprintln(w, "\n1. A stream outlives the server's MaxConnectionAge (1s) + grace (1s)")
	srv, addr, err := server(tel, grpc.KeepaliveParams(keepalive.ServerParameters{
		MaxConnectionAge: time.Second, MaxConnectionAgeGrace: time.Second,
	}))
	if err != nil {
		return err
	}
	defer srv.Stop()
	cc, err := client(tel, addr)
	if err != nil {
		return err
	}
	defer cc.Close()
	// One entry with a negative size: the server blocks until the stream ends.
	stream, err := testgrpc.NewTestServiceClient(cc).StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: -1}},
	})
	if err != nil {
		return err
	}
	_, err = stream.Recv()
	fmt.Fprintf(w, "   the application got: %v\n", err)
	return waitForClose(ctx, tel, "max_connection_age")
}

func tooManyPings(ctx context.Context, w io.Writer, tel *telemetry) error {
	fmt.Fprintln(w, "\n2. A client pings faster than grpc's default enforcement policy allows (MinTime 5m)")
	srv, addr, err := server(tel)
	if err != nil {
		return err
	}
	defer srv.Stop()
	// grpc-go's own client never pings more often than every 10s, so a raw
	// HTTP/2 client plays the misconfigured peer.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	fr := http2.NewFramer(c, c)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return err
	}
	if err := fr.WriteSettings(); err != nil {
		return err
	}
	for i := 0; i < 5; i++ {
		if err := fr.WritePing(false, [8]byte{}); err != nil {
			break
		}
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return err
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			fmt.Fprintf(w, "   the peer got: GOAWAY %v %q\n", ga.ErrCode, ga.DebugData())
			break
		}
	}
	return waitForClose(ctx, tel, "too_many_pings")
}

func blackhole(ctx context.Context, w io.Writer, tel *telemetry) error {
	fmt.Fprintln(w, "\n3. A middlebox silently drops the flow; the server's keepalive (Time 1s, Timeout 1s) notices")
	srv, addr, err := server(tel, grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Second, Timeout: time.Second}))
	if err != nil {
		return err
	}
	defer srv.Stop()
	proxy, err := faultproxy.New(addr)
	if err != nil {
		return err
	}
	defer proxy.Close()
	cc, err := client(tel, proxy.Addr())
	if err != nil {
		return err
	}
	defer cc.Close()
	if _, err := testgrpc.NewTestServiceClient(cc).EmptyCall(ctx, &testgrpc.Empty{}); err != nil {
		return err
	}
	proxy.Blackhole()
	fmt.Fprintln(w, "   the proxy now discards every byte in both directions")
	return waitForClose(ctx, tel, "keepalive_timeout")
}

// waitForClose polls the metrics until a close with reason is recorded.
func waitForClose(ctx context.Context, tel *telemetry, reason string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		rm, err := collect(tel)
		if err != nil {
			return err
		}
		for _, p := range sumPoints(rm, "grpc.transport.closes") {
			if v, _ := p.Attributes.Value("grpc.close.reason"); v.AsString() == reason {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no close with reason %s recorded: %w", reason, ctx.Err())
		case <-tick.C:
		}
	}
}

func collect(tel *telemetry) (metricdata.ResourceMetrics, error) {
	var rm metricdata.ResourceMetrics
	err := tel.reader.Collect(context.Background(), &rm)
	return rm, err
}

func sumPoints(rm metricdata.ResourceMetrics, name string) []metricdata.DataPoint[int64] {
	var out []metricdata.DataPoint[int64]
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == name {
				out = append(out, s.DataPoints...)
			}
		}
	}
	return out
}

// report prints every grpcpulse metric, one line per attribute set.
func report(w io.Writer, tel *telemetry) error {
	rm, err := collect(tel)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "\nMetrics recorded by grpcpulse:")
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var lines []string
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					lines = append(lines, fmt.Sprintf("    %-6d %s", p.Value, labels(p.Attributes)))
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					lines = append(lines, fmt.Sprintf("    n=%-4d sum=%.3fs  %s", p.Count, p.Sum, labels(p.Attributes)))
				}
			}
			if len(lines) == 0 {
				continue
			}
			sort.Strings(lines)
			fmt.Fprintf(w, "  %s (%s)\n%s\n", m.Name, m.Unit, strings.Join(lines, "\n"))
		}
	}
	return nil
}

func labels(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.Emit())
	}
	return strings.Join(parts, " ")
}
