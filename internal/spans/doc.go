// Package spans records gRPC transports as OpenTelemetry spans, annotates
// RPC spans with the transport events that affect them and, for programs
// without otelgrpc, starts RPC spans of its own. The stats handlers drive it;
// package tracing documents what it records for users.
package spans
