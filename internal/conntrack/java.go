package conntrack

// grpc-java (on Netty) as a peer, next to ccore.go. Observed with Debian's
// libgrpc-java 1.41.3 and Netty 4.1.48 on openjdk-17 against grpcpulse's
// frame observer (internal/peers/foreign), and read in its classes with
// javap (NettyServerHandler, NettyClientHandler, AbstractNettyHandler,
// KeepAliveEnforcer, KeepAliveManager). What grpcpulse on grpc-go records
// for each event:
//
//	grpc-java event              on the wire                                  grpc-go peer records
//	---------------------------  -------------------------------------------  ----------------------------------
//	server max age               GOAWAY NO_ERROR 2^31-1 "max_age", PING       client: max_connection_age, peer
//	(maxConnectionAge)           0x97ACEF001, on its ACK GOAWAY NO_ERROR
//	                             last-id "max_age"; after the grace, close
//	server max idle              GOAWAY NO_ERROR 2^31-1 "max_idle", PING      client: max_connection_idle, peer
//	(maxConnectionIdle)          0x97ACEF001, then close
//	server shutdown              GOAWAY NO_ERROR 2^31-1 "app_requested",      client: goaway, peer (its debug data
//	(shutdown, shutdownNow)      PING 0x97ACEF001, GOAWAY NO_ERROR last-id    is none of grpc-go's)
//	                             "app_requested"; when forced, RST_STREAM
//	                             CANCEL per open stream, then close
//	too many pings (server)      GOAWAY ENHANCE_YOUR_CALM last-id             client: too_many_pings, peer
//	(permitKeepAliveTime)        "too_many_pings", then close
//	client keepalive             PINGs 1111, at most every 10 s               server: counted as keepalive PINGs
//	server keepalive             PINGs 0xDEAD, at most every 10 s             client: counted as keepalive PINGs
//	flow control (either)        PING 1234 after DATA it received             not counted
//	client channel close         RST_STREAM CANCEL per open call, GOAWAY      server: as for a client's GOAWAY
//	(shutdownNow)                NO_ERROR last-id 0, empty, close
//
// Its first SETTINGS frame: a server's MAX_CONCURRENT_STREAMS 2^31-1,
// INITIAL_WINDOW_SIZE 1048576, MAX_HEADER_LIST_SIZE 8192; a client's
// ENABLE_PUSH 0, MAX_CONCURRENT_STREAMS 0, INITIAL_WINDOW_SIZE 1048576,
// MAX_HEADER_LIST_SIZE 8192. Other Netty-based servers may send the same
// shape, so grpcpulse names grpc-java only when one of its PING payloads
// comes too (peer.go). Its user-agent is "grpc-java-netty/1.41.3". Its
// server enforces like grpc-go's, but measures a PING from the previous
// one it accepted, and the first from the connection's start; a client
// struck out backs its keepalive time off by doubling.
