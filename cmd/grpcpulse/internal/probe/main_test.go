package probe

import (
	"flag"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain raises the default test parallelism: the scenario tests spend
// their time waiting for their probe's budget, not computing, so running
// only GOMAXPROCS of them at once (the default) would add their budgets up
// on small machines. An explicit -parallel is respected. Goroutines are
// checked once for the whole binary, since parallel tests share it.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "16")
	}
	goleak.VerifyTestMain(m)
	os.Exit(0)
}
