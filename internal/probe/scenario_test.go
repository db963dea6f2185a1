package probe

import (
	"testing"
	"time"

	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/options"
)

func TestEnforcementPermitWithoutStream(t *testing.T) {
	t.Parallel()
	policy := options.ServerPolicy{Enforcement: keepalive.EnforcementPolicy{MinTime: 2 * time.Second, PermitWithoutStream: true}}
	addr := startServer(t, policy)
	rep := runProbe(t, Config{Target: addr, Budget: 15 * time.Second})
	mt := rep.Finding(FindingMinTime)
	if !mt.Observed || !mt.Contains(2*time.Second) {
		t.Errorf("MinTime bracket %s does not contain 2s", mt.Result)
	}
}
