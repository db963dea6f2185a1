package stats

import (
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
