// Package implementation holds the tests that grpcpulse names each real
// peer's gRPC implementation (grpc.peer.implementation on the connection
// span and Diagnosis.Peer) and counts only its keepalive PINGs in
// grpc.keepalive.pings: a grpc-go end with grpcpulse against gRPC C-core
// (python3-grpcio), grpc-js and grpc-java servers and clients, started by
// internal/peers/foreign. internal/conntrack/peer.go has the evidence and
// the rules.
package implementation
