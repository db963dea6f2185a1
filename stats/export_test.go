package stats

import grpcstats "google.golang.org/grpc/stats"

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
