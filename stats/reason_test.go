package stats_test

import (
	"os"
	"strings"
	"testing"

	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// The README's reason table documents every reason the classifier can
// decide, so that what an operator reads there is what the metrics carry.
func TestReadmeListsEveryReason(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range pulse.Reasons() {
		if !strings.Contains(string(readme), "\n| `"+r.String()+"` |") {
			t.Errorf("README.md has no reason table row for %q", r)
		}
	}
}
