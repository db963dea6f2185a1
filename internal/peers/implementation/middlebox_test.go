package implementation_test

import (
	"context"
	"testing"
	"time"

	"github.com/grpcpulse/grpcpulse/internal/peers/foreign"
	"github.com/grpcpulse/grpcpulse/internal/peers/peertest"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// HAProxy in TCP mode closes a flow that carried nothing for its timeout,
// with a FIN each way. A stream that went quiet through it is cut on both
// sides; each side's diagnosis says what keeps such a path alive: pings
// within the silence, which only the server can send that often (a grpc-go
// client pings at most every 10s).
func TestHAProxyIdleTimeoutDiagnosed(t *testing.T) {
	t.Parallel()
	sd, cd := &diagnoses{}, &diagnoses{}
	_, addr := peertest.GoServer(t, &testenv.Service{}, options.WithDiagnosisHandler(sd.handle))
	proxy := foreign.StartHAProxy(t, foreign.HAProxyConfig{Backend: addr, TimeoutClient: 3 * time.Second, TimeoutServer: 3 * time.Second})
	_, cc := peertest.GoClient(t, proxy.Addr, options.WithDiagnosisHandler(cd.handle))
	err := testenv.StreamUntilCut(t, context.Background(), cc)
	t.Logf("the application got: %v", err)
	for _, side := range []struct {
		name string
		d    *diagnoses
		want string
	}{
		{"server", sd, "set this server's ServerParameters.Time to at most 1s"},
		{"client", cd, "this client cannot ping often enough to keep the flow alive (10s at the least), but the server's pings can: set the server's ServerParameters.Time to at most 1s"},
	} {
		x := side.d.wait(t, pulse.ReasonPeerClosed)
		t.Logf("%s record: %v", side.name, x.Attrs())
		if x.CutRPCs != 1 || x.Idle < 2*time.Second {
			t.Errorf("%s: cut %d RPC(s) after %v of silence, want the stream after about 3s", side.name, x.CutRPCs, x.Idle)
		}
		check(t, x, pulse.ImplementationGo, side.want)
	}
}
