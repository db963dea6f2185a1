// Package stats provides grpcpulse's grpc-go stats.Handlers, ServerHandler
// and ClientHandler, for programs that compose their own grpc options.
// options.Server and options.Client install a handler together with its
// wrapped credentials, the keepalive policy and the interceptors in one
// call; use this package when you need the pieces.
//
// A handler tracks each transport from TagConn to ConnEnd and joins it to
// the journal its frame observer keeps for the same connection. The
// observer is installed by the handler's WrapCredentials: pass the wrapped
// credentials and the handler to the same server or client. A handler whose
// connections arrive without the observer reports that once through the
// error handler (options.WithErrorHandler), and records every close with
// grpc.close.reason "unknown": only the wire can tell the reasons apart.
//
// The handler's KeepaliveOptions installs a keepalive policy and makes it
// the policy its diagnoses judge against, so that the advice is about what
// the program really runs with.
//
// The handlers record the transport metrics (pulse.MetricConnections,
// pulse.MetricCloses, pulse.MetricLifetime, pulse.MetricGoAways,
// pulse.MetricPings, pulse.MetricRTT), the connection spans
// (pulse.SpanTransport) and the diagnoses. They also join each RPC attempt
// to the transport it runs on, which grpc.close.active_rpcs reports and the
// interceptors of package interceptors read; they count no RPC failures
// themselves, since an attempt that fails may be retried transparently and
// succeed, which only the call's end can tell.
//
// The vocabulary they record in (reasons, initiators, sides, the
// diagnosis, and the names of metrics, attributes and spans) is package
// pulse.
package stats
