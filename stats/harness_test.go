package stats_test

import (
	"testing"

	"github.com/grpcpulse/grpcpulse/internal/testenv"
	"github.com/grpcpulse/grpcpulse/stats"
)

// start starts a testenv scenario that also checks, when the test ends,
// that every journal was freed.
func start(t *testing.T, cfg testenv.Setup) *testenv.Scenario {
	t.Helper()
	cfg.Journals = stats.OpenJournals
	return testenv.Start(t, cfg)
}
