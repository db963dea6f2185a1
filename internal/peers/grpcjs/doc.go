// Package grpcjs runs grpcpulse against a real non-Go gRPC peer:
// @grpc/grpc-js (Node.js), pinned to 1.14.x by the package-lock.json of
// internal/peers/foreign, whose servers and clients the tests start.
//
// The package holds only tests. Without Node.js and npm they skip, saying
// how to get them (and fail instead under GRPCPULSE_REQUIRE_PEERS=1); the
// npm packages are installed once into the user's cache directory, never
// into the source tree.
package grpcjs
