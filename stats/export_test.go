package stats

// OpenJournals exposes how many journals h still holds, so scenario tests can
// assert that every journal is freed at close.
func OpenJournals(h *Handler) int { return h.reg.Len() }

// LifetimeBuckets and RTTBuckets are the boundaries of grpc.transport.lifetime
// and grpc.keepalive.rtt, for the tests that hold them to their accuracy.
var LifetimeBuckets, RTTBuckets = lifetimeBuckets, rttBuckets
