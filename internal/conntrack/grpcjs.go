package conntrack

// @grpc/grpc-js (gRPC for Node.js) as a peer, next to ccore.go. Observed
// with grpc-js 1.14.7 on Node 20 against grpcpulse's frame observer
// (internal/peers/foreign), and read in its build/src/server.js,
// transport.js and subchannel.js. What grpcpulse on grpc-go records for
// each event:
//
//	grpc-js event                on the wire                                  grpc-go peer records
//	---------------------------  -------------------------------------------  ----------------------------------
//	server max age               GOAWAY NO_ERROR 2^31-1 "max_age", at once    client: max_connection_age, peer
//	(grpc.max_connection_age_ms) GOAWAY NO_ERROR last-id, empty (Node's
//	                             session.close); after the grace another
//	                             GOAWAY NO_ERROR last-id, empty, then close
//	server max idle              GOAWAY NO_ERROR last-id, empty, twice, then  client: server_drain, peer
//	(grpc.max_connection_idle_ms) close
//	server shutdown              GOAWAY NO_ERROR last-id, empty; when forced  client: server_drain, peer
//	(tryShutdown, forceShutdown) after the grace, GOAWAY CANCEL last-id,
//	                             empty, then close
//	server keepalive             PINGs, Node's payload (below), every         client: counted as keepalive PINGs
//	(grpc.keepalive_time_ms)     keepalive_time after the previous answer,
//	                             whether or not anything else was read; on
//	                             a timeout session.destroy(): a last GOAWAY
//	                             NO_ERROR if the socket still takes it, close
//	client keepalive             the same, with calls in flight or with       server: counted as keepalive PINGs
//	                             grpc.keepalive_permit_without_calls 1, any
//	                             interval (no lower bound)
//	client channel close         GOAWAY NO_ERROR last-id 0, empty, no         server: as for a client's GOAWAY
//	                             RST_STREAM for open calls; close a second
//	                             later
//	too many pings               never sent: a grpc-js server enforces no     -
//	                             ping policy
//
// grpc-js sends no flow-control PINGs (Node's http2 has no BDP estimator),
// so every PING it sends is a keepalive. Node's session.ping stamps its
// payload with its clock: nanoseconds, little-endian, so that two PINGs'
// payloads differ by the time between them; that is what names a grpc-js
// peer on the wire (peer.go). Its first SETTINGS frame is Node's: empty
// from a server, INITIAL_WINDOW_SIZE 65535 alone from a client. Its
// user-agent is "grpc-node-js/1.14.7". On GOAWAY ENHANCE_YOUR_CALM
// "too_many_pings" its client doubles the channel's keepalive time.
