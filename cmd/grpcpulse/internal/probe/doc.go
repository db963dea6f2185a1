// Package probe measures a live gRPC server's keepalive policy and the
// network path's idle timeout from outside, speaking HTTP/2 frame by frame
// (golang.org/x/net/http2's Framer) so that it controls exactly when each
// PING is sent and that streams stay silent. It is the logic behind
// "grpcpulse probe"; the command itself only parses flags.
//
// What it measures, each on its own connections, in parallel, within one
// time budget:
//
//   - RTT and the server's HTTP/2 SETTINGS, on a control connection that also
//     checks that the peer is HTTP/2 and gRPC (grpc.health.v1.Health/Check).
//   - EnforcementPolicy.MinTime: one connection per ping interval of a ladder,
//     each sending at most four PINGs (grpc-go's GOAWAY "too_many_pings"
//     comes at the third strike, and the first PING is never one) while
//     holding a stream on which the server writes nothing (Health/Watch, or
//     --stream-method): grpc-go resets its strike count whenever it writes
//     HEADERS or DATA. The largest rejected and smallest accepted interval
//     bracket MinTime.
//   - EnforcementPolicy.PermitWithoutStream: the same ladder without a
//     stream.
//   - MaxConnectionAge (and its grace) and MaxConnectionIdle: GOAWAY "max_age"
//     / "max_idle" timings on held connections.
//   - The path's idle timeout: connections held silent for increasing
//     periods, then pinged once.
//
// and it advises client keepalive.ClientParameters, checked with
// options.Validate. It lives under cmd/grpcpulse because it is a tool built
// on top of the library (options' Validate, ServerPolicy and presets), not a
// layer of it.
package probe
