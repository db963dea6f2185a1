package conntrack

// gRPC C-core (the core of gRPC C++, Python, Ruby, PHP, Objective-C) as a
// peer, next to the grpc-go facts in DESIGN.md. Observed with Debian's
// python3-grpcio 1.51.1 against grpcpulse's frame observer
// (internal/peers/ccore) and read in C-core's source
// (src/core/ext/transport/chttp2/transport/chttp2_transport.cc, send_goaway,
// GracefulGoaway, close_transport_locked, grpc_chttp2_cancel_stream,
// close_from_api; src/core/ext/filters/channel_idle/; src/core/lib/surface/
// server.cc). What grpcpulse on grpc-go records for each event:
//
//	C-core event                 on the wire                                   grpc-go peer records
//	---------------------------  --------------------------------------------  ----------------------------------
//	server max age               GOAWAY NO_ERROR 2^31-1, EMPTY debug data,    client: server_drain, peer; the
//	(max_connection_age_ms)      PING (payload a counter: 0..01), on its ACK  cut stream (UNAVAILABLE "enter
//	                             GOAWAY NO_ERROR last-id, empty; after the    idle") is a transport failure
//	                             grace: trailers UNAVAILABLE "enter idle"
//	                             (newer: "max connection age") + RST_STREAM
//	                             NO_ERROR per open stream, then close
//	server shutdown              the same drain (grpc_server_shutdown_and_    client: server_drain, peer; cut streams
//	(Server::Shutdown, Python    notify); cancel_all_calls: trailers          (UNAVAILABLE "Cancelling all
//	server.stop(grace))          UNAVAILABLE "Cancelling all calls" + RST     calls") are transport failures
//	                             NO_ERROR, close; if the final drain GOAWAY
//	                             was not yet out, first a GOAWAY
//	                             INTERNAL_ERROR "Cancelling all calls"
//	server max idle              GOAWAY INTERNAL_ERROR last-id "enter idle"   client: max_connection_idle, peer
//	(max_connection_idle_ms)     (newer: "connection idle"), no drain, close
//	too many pings (server)      GOAWAY ENHANCE_YOUR_CALM "too_many_pings",   client: too_many_pings, peer;
//	                             streams get UNAVAILABLE "Too many pings",    cut streams are transport failures
//	                             close (as grpc-go)
//	client pings too fast        PINGs (payload a counter), at most one a     server: too_many_pings, local (as
//	                             second whatever keepalive_time_ms says; two  for any client)
//	                             while nothing comes from the server unless
//	                             grpc.http2.max_pings_without_data=0
//	client channel close         RST_STREAM CANCEL per open call, close,      server: peer_closed, peer; the
//	                             NO GOAWAY                                    calls were cancelled (not counted)
//	keepalive timeout (either)   close, no GOAWAY ("keepalive watchdog        the Go side sees EOF (peer_closed)
//	                             timeout" is only logged)                     or, blackholed, nothing: its own
//	                                                                          keepalive decides (keepalive_timeout)
//
// A C-core server's max-age drain and its shutdown drain are the same
// frames (empty debug data in both GOAWAYs), so their close reason is
// server_drain: the wire does not say which, and the status texts that follow
// come too late (with the streams, after the first cause) and only when a
// stream was open.
//
// C-core shows itself on the wire by its first SETTINGS frame, which alone
// carries its own setting 0xfe03 (GRPC_ALLOW_TRUE_BINARY_METADATA): a server
// sends INITIAL_WINDOW_SIZE 4194303, MAX_FRAME_SIZE 4194303,
// MAX_HEADER_LIST_SIZE 8192, 0xfe03 1; a client first ENABLE_PUSH 0 and
// MAX_CONCURRENT_STREAMS 0, then the same. Its user-agent is the wrapper's
// token and its own: "grpc-python/1.51.1 grpc-c/29.0.0 (linux; chttp2)".
//
// Its PINGs carry a counter (big-endian, from 0) whatever they are for: the
// first PING of a connection is 8 zero bytes, like grpc-go's keepalive. Its
// flow-control (BDP) PING answers DATA it receives: at once, or when its
// estimator's delay between probes (100 ms, growing to about 10 s on a
// steady connection) ends. Its keepalive timer restarts whenever it reads
// anything ("Keepalive ping cancelled. Resetting timer." in its
// http_keepalive trace), so a keepalive PING comes only after
// keepalive_time in which it read nothing. grpcpulse counts a C-core PING
// as a keepalive unless this side wrote DATA since the peer's previous
// PING, shortly before it (peer.go). Measured: a client reading a message
// every 500 ms sends a PING after nearly every one, all flow control; an
// idle client with keepalive_time_ms 1000 pings every second.

// cCoreTeardownStatus is the grpc-message C-core writes on every stream
// still open when it tears its server transport down (close_from_api with
// the transport's error, which carries UNAVAILABLE): exact texts, from
// 1.51 to current releases. A grpc-go client sees these as ordinary
// trailers, just as if the application had returned them.
var cCoreTeardownStatus = map[string]bool{
	"enter idle":           true, // max age after the grace, or max idle (1.51 and earlier)
	"max connection age":   true, // max age after the grace (later releases)
	"connection idle":      true, // max idle (later releases)
	"Cancelling all calls": true, // server shutdown: grpc_server_cancel_all_calls
	"Too many pings":       true, // the ping policy's third strike, after GOAWAY too_many_pings
}

// IsTeardownStatus reports whether msg, the message of an UNAVAILABLE status
// a server sent, is one gRPC C-core writes on the streams its transport cuts
// as it goes down. It is a bounded recognizer, never a label: it only
// decides whether a status that arrived on a transport that was already
// going away (a GOAWAY received) was the transport's doing; the reason is
// still the transport's.
func IsTeardownStatus(msg string) bool { return cCoreTeardownStatus[msg] }
