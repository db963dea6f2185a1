package interceptors_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"

	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
)

// A client calls 10,000 random methods that the server does not register;
// the server takes them all through an UnknownServiceHandler, and all of
// them die with their connection. Method names chosen by a peer (on the
// server) or not from generated code (on the client) never become labels:
// every metric gains at most one series on each side.
func TestRandomMethodsAddOneSeries(t *testing.T) {
	t.Parallel()
	const calls = 10000
	var started atomic.Int64
	s := start(t, testenv.Setup{Proxy: true, ServerOpts: []grpc.ServerOption{
		grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
			started.Add(1)
			<-ss.Context().Done()
			return ss.Context().Err()
		}),
	}})
	cc := s.Dial(t, nil, true)
	testenv.Call(t, cc) // the connection, and the series it brings
	before := map[*testenv.End]map[string]int{
		s.Server: s.Server.M.Series(t), s.Client: s.Client.M.Series(t),
	}

	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	defer cancel()
	desc := &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}
	recvs := make(chan error, calls)
	for range calls {
		method := fmt.Sprintf("/%s.Svc/%s", rand.Text(), rand.Text())
		st, err := cc.NewStream(ctx, desc, method)
		if err != nil {
			t.Fatalf("NewStream: %v", err)
		}
		go func() { recvs <- st.RecvMsg(new(struct{})) }()
	}
	testenv.Eventually(t, func() string {
		if n := started.Load(); n < calls {
			return fmt.Sprintf("%d of %d handlers started", n, calls)
		}
		return ""
	})
	s.Proxy.Reset()
	for range calls {
		<-recvs
	}
	for _, e := range []*testenv.End{s.Server, s.Client} {
		testenv.Eventually(t, func() string {
			if n := e.Failures(t, semconv.RPCMethod.String("_OTHER")); n != calls {
				return fmt.Sprintf("%s: %d failures with rpc.method=_OTHER, want %d\n%s", e.Name, n, calls,
					e.M.Dump(t, semconv.MetricTransportFailures))
			}
			return ""
		})
		for name, n := range e.M.Series(t) {
			if added := n - before[e][name]; added > 1 {
				t.Errorf("%s: %s gained %d series", e.Name, name, added)
			}
		}
	}
}
