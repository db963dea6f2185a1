// Package tracing records gRPC transports as OpenTelemetry spans and
// annotates RPC spans with the transport events that affect them.
//
// The stats handlers of package stats use it: each transport becomes a root
// span named grpc.transport, from its start to its end, and the span already
// in an RPC's context (otelgrpc's, or the application's) gets a grpc.goaway
// event when a GOAWAY arrives while the RPC is in flight and, when the RPC
// fails because its transport ended, the grpc.close.reason attribute and a
// link to the transport's span. In a tracing backend a failed RPC thus says
// why it failed and leads to the connection that killed it.
//
// Spans stay small however long a transport lives: keepalive PINGs are
// counted in attributes, never recorded as events, and at most
// MaxGoAwayEvents GOAWAY events are kept per span.
package tracing
