// Package stats provides grpc-go stats.Handlers that record why transports
// end, as OpenTelemetry metrics.
//
// A Handler tracks each transport from TagConn to ConnEnd and joins it to the
// journal the frame observer keeps for the same connection. The observer is
// installed by the Handler's WrapCredentials: pass the wrapped credentials
// and the Handler to the same server or client.
//
//	h := stats.NewServerHandler(options.WithMeterProvider(mp))
//	srv := grpc.NewServer(
//		grpc.Creds(h.WrapCredentials(insecure.NewCredentials())),
//		grpc.StatsHandler(h),
//	)
//
// The Handler takes the options of package options, like the bundles and
// the interceptors. options.Server and options.Client install it, its
// credentials and the interceptors in one call.
//
// Without the wrapped credentials the Handler still counts every transport
// open and close, with grpc.close.reason "unknown": only the wire can tell
// the reasons apart.
//
// Metrics (instrumentation scope github.com/grpcpulse/grpcpulse):
//
//	grpc.transport.connections  Int64UpDownCounter {connection}  grpc.side
//	grpc.transport.closes       Int64Counter       {connection}  grpc.side, grpc.close.reason,
//	                                                             grpc.close.initiator, grpc.close.active_rpcs,
//	                                                             grpc.disconnect_error
//	grpc.transport.lifetime     Float64Histogram   s             grpc.side, grpc.close.reason
//	grpc.transport.goaways      Int64Counter       {goaway}      grpc.side, grpc.goaway.direction,
//	                                                             grpc.goaway.code, grpc.goaway.reason
//	grpc.keepalive.pings        Int64Counter       {ping}        grpc.side, grpc.ping.direction
//	grpc.keepalive.rtt          Float64Histogram   s             grpc.side
//
// Every attribute value comes from a fixed set; nothing a peer sends becomes
// a label.
//
// The Handler also joins each RPC attempt to the transport it runs on (on a
// server through the context, on a client by the identity of the address
// values grpc-go reports in the attempt's header events), which grpc.close.active_rpcs reports and the
// interceptors of package interceptors read. It counts no RPC failures
// itself: an attempt that fails may be retried transparently and succeed,
// which only the call's end can tell, so grpc.rpc.transport_failures is
// counted once per call, by the interceptors.
package stats
