package stats_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// transport, observer and proxy pump must be gone once its scenario ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
