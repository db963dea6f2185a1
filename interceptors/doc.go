// Package interceptors provides unary and stream interceptors, client and
// server, that attribute RPC failures to the transport event that caused
// them, and Cause, which tells the application the same.
//
// A stream cut at MaxConnectionAge + grace, a call lost to a keepalive
// timeout and a call on a connection the server reset all reach the
// application as a bare Unavailable. The interceptors look at the
// connection the call ran on and record why it ended:
//
//	grpc.rpc.transport_failures  Int64Counter  {call}  grpc.side, grpc.close.reason,
//	                                                   rpc.method, rpc.response.status_code
//
// # What counts what
//
// A call is counted once, by the interceptor, when the application sees its
// final outcome: after grpc-go's transparent retries, so a stream refused by
// a GOAWAY and retried successfully on another connection is not a failure.
// The stats handlers (package stats) count transports, not RPCs: each
// transport's end is one grpc.transport.closes count, whose
// grpc.close.active_rpcs says whether calls were in flight. A failed call
// and the close that caused it are thus counted once each, on different
// instruments.
//
// On a client, a call failed because of its transport when it ended with
// Unavailable, the server's status (trailers) never arrived on its last
// attempt, and that attempt's connection had received a GOAWAY or started
// to close. On a server, when the handler returned an error after its
// context was cancelled and its connection was closing. The cause is then
// the connection's grpc.close.reason.
//
// # Installing
//
// The interceptors join calls to connections through the grpcpulse stats
// handler of the same side, and see why connections end through the
// handler's wrapped credentials; options.Server and options.Client install
// all three. Without the handler (or its credentials) a client falls back
// to grpc-go's error text, which names fewer causes, and a server counts
// nothing, since a cancelled context alone does not say that the transport
// ended.
//
// # Built on go-grpc-middleware
//
// Each interceptor reports to a go-grpc-middleware interceptors.Reporter
// (the recorder is a ClientReportable and a ServerReportable, usable with
// go-grpc-middleware's own interceptors) with go-grpc-middleware's call
// order and PostCall semantics. The interceptors call the Reporter
// themselves rather than through go-grpc-middleware's interceptors: its
// monitored streams read the clock twice per message and its unary
// interceptors allocate the Reporter per call, for PostMsgSend,
// PostMsgReceive and durations that grpcpulse ignores. So a streamed
// message costs nothing and a call allocates only its own state.
//
// # Bounded labels
//
// rpc.method is the fully qualified method ("grpc.health.v1.Health/Watch").
// A server records it only for methods it registers and "_OTHER" for calls
// that reach a grpc.UnknownServiceHandler; a client records it only for
// calls made through generated code (grpc.StaticMethod), and "_OTHER" for
// others, such as a proxy forwarding what its own clients ask for. No
// label value is chosen by a peer.
package interceptors
