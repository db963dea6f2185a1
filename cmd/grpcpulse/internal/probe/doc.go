// Package probe measures a live gRPC server's keepalive policy and the
// network path's idle timeout from outside, speaking HTTP/2 frame by frame
// (golang.org/x/net/http2's Framer) so that it controls exactly when each
// PING is sent and that streams stay silent. It is the logic behind
// "grpcpulse probe"; the command itself only parses flags.
//
// What it measures, each on its own connections, in parallel, within one
// time budget, reading what each implementation does rather than
// grpc-go's wording:
//
//   - RTT and the server's HTTP/2 SETTINGS, on a control connection that also
//     checks that the peer is HTTP/2 and gRPC (grpc.health.v1.Health/Check),
//     and names what answered: grpc-go, C-core, grpc-js, grpc-java, or a
//     proxy (nginx) whose findings are then its own.
//   - The minimum ping interval (grpc-go's EnforcementPolicy.MinTime,
//     C-core's grpc.http2.min_ping_interval_without_data_ms, grpc-java's
//     permitKeepAliveTime): one connection per ping interval of a ladder,
//     each sending at most four PINGs (servers send GOAWAY "too_many_pings"
//     at the third strike) while holding a stream on which the server
//     writes nothing (Health/Watch, or --stream-method): servers reset
//     their strike count whenever they write HEADERS or DATA. The largest
//     rejected and smallest accepted interval bracket it.
//   - Pings without calls: the same ladder without a stream.
//   - The age, its grace and the idle limit: drains (GOAWAY NO_ERROR, or
//     C-core's idle GOAWAY) on held connections, told apart by whether a
//     stream was open and by when the last one ended.
//   - The server's keepalive time, from its PINGs after a silence.
//   - The path's idle timeout: connections held silent for increasing
//     periods, then pinged once, and every silent connection a FIN or a
//     reset without GOAWAY ended.
//   - A proxy's silent stream timeout: held streams it resets.
//
// and it advises a client keepalive in the settings of the client named
// (grpc-go, C-core, grpc-js or grpc-java), for grpc-go checked with
// options.Validate. It lives under cmd/grpcpulse because it is a tool built
// on top of the library (options' Validate, ServerPolicy and presets), not a
// layer of it.
package probe
