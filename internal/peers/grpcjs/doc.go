// Package grpcjs runs grpcpulse against a real non-Go gRPC peer:
// @grpc/grpc-js (Node.js), pinned to 1.14.x by testdata/package-lock.json.
//
// The package holds only tests. The Node side lives in testdata/, which the
// go tool ignores, so that its node_modules never takes part in ./...
// patterns. The test harness finds node and npm on PATH (Node.js is required;
// a missing node fails the tests with a message saying so), runs `npm ci` in
// testdata/ when node_modules is missing or older than package-lock.json,
// and starts the small JS programs there as child processes bound to
// 127.0.0.1, which report what they see as JSON lines on stdout.
package grpcjs
