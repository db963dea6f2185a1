// Package peertest runs non-Go gRPC peers (grpc-js on Node.js, C-core
// through Python) against grpcpulse's Go client and server in scenario
// tests: the Go end with grpcpulse's bundle and an OpenTelemetry SDK to read
// back, and the peer program with the JSON events it prints.
package peertest
