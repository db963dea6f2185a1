package stats

import (
	"time"

	grpcstats "google.golang.org/grpc/stats"

	"github.com/grpcpulse/grpcpulse/internal/handler"
)

// OpenJournals exposes how many journals h still holds, so scenario tests can
// assert that every journal is freed at close.
func OpenJournals(h grpcstats.Handler) int {
	switch h := h.(type) {
	case *ServerHandler:
		return h.h.OpenJournals()
	case *ClientHandler:
		return h.h.OpenJournals()
	}
	return 0
}

// LifetimeBuckets and RTTBuckets are the boundaries of grpc.transport.lifetime
// and grpc.keepalive.rtt, for the tests that hold them to their accuracy.
var LifetimeBuckets, RTTBuckets = handler.LifetimeBuckets(), handler.RTTBuckets()

// SetUnclaimedGrace sets how long h's journals opened from now on wait to be
// claimed before the unclaimed timer frees them, so that a test can tell a
// journal freed when its conn closed from one the timer freed.
func SetUnclaimedGrace(h grpcstats.Handler, d time.Duration) {
	switch h := h.(type) {
	case *ServerHandler:
		h.h.SetUnclaimedGrace(d)
	case *ClientHandler:
		h.h.SetUnclaimedGrace(d)
	}
}
