// Package peertest is the Go end of the scenario tests against non-Go gRPC
// peers (internal/peers/foreign starts those): a grpc-go server or client
// with grpcpulse's bundle and an OpenTelemetry SDK to read back.
package peertest
