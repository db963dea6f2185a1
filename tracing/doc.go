// Package tracing records gRPC transports as OpenTelemetry spans and
// annotates RPC spans with the transport events that affect them.
package tracing
