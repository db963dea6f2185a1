package chaos

import (
	"io"
	"os"
	"testing"

	"google.golang.org/grpc/grpclog"
)

// TestMain silences grpc-go's own log: the faults make it log errors by
// design (a client told too_many_pings logs at ERROR), thousands of times
// in a long run, and the verdicts are what the trials check.
func TestMain(m *testing.M) {
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, io.Discard))
	os.Exit(m.Run())
}
