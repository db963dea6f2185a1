package wire

// Frame types and flags (RFC 9113 §6). The observer looks into PING, GOAWAY
// and RST_STREAM payloads and, in the validated direction, at the pad length
// of padded DATA and PUSH_PROMISE; every other frame is skipped by length
// alone, so extension frames are harmless.
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	framePriority     = 0x2
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePushPromise  = 0x5
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8
	frameContinuation = 0x9

	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20

	frameHeaderLen = 9
	settingLen     = 6 // one setting in a SETTINGS payload: a 16-bit id, a 32-bit value
)

// MaxDebugData is how many bytes of a GOAWAY's debug data are reported.
// grpc-go's debug strings ("max_age", "too_many_pings", "client transport
// shutdown") are far shorter; capping keeps the observer's memory fixed no
// matter what a peer sends.
const MaxDebugData = 64

// clientPreface is the connection preface a client sends before its first
// frame (RFC 9113 §3.4).
const clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Direction says whether a frame was read from the peer or written to it.
type Direction uint8

const (
	// Received frames were read from the connection (sent by the peer).
	Received Direction = iota
	// Sent frames were written to the connection (sent by this side).
	Sent
)

// String returns "received" or "sent", the values of the grpc.*.direction
// attributes.
func (d Direction) String() string {
	if d == Sent {
		return "sent"
	}
	return "received"
}

// Well-known PING payloads of grpc-go. Only the keepalive PING (eight zero
// bytes) is a keepalive; the other two are flow-control and drain machinery
// and must not be counted as keepalive traffic.
var (
	// BDPPingData is the payload of grpc-go's bandwidth-delay-product
	// estimator PING.
	BDPPingData = [8]byte{2, 4, 16, 16, 9, 14, 7, 7}
	// DrainPingData is the payload of the PING grpc-go's server sends after
	// the first GOAWAY of a graceful drain.
	DrainPingData = [8]byte{1, 6, 1, 8, 0, 3, 3, 9}
	// KeepalivePingData is the payload of grpc-go's keepalive PING.
	KeepalivePingData = [8]byte{}
)

// IsKeepalivePing reports whether a PING payload counts as a keepalive: any
// payload that is not known to be something else, so that keepalives of other
// implementations (which choose their own payloads) are counted too. It
// knows grpc-go's payloads and grpc-java's; a peer whose PINGs do not say
// what they are for (gRPC C-core's carry a counter) needs its behaviour read
// instead (see conntrack).
func IsKeepalivePing(data [8]byte) bool {
	switch data {
	case BDPPingData, DrainPingData, JavaBDPPingData, JavaGracefulShutdownPingData:
		return false
	}
	return true
}

// grpc-java's PING payloads (grpc-netty's AbstractNettyHandler,
// NettyServerHandler and NettyClientHandler), each a big-endian 64-bit
// number.
var (
	// JavaBDPPingData is grpc-java's flow-control (BDP) PING: 1234.
	JavaBDPPingData = [8]byte{6: 0x04, 7: 0xd2}
	// JavaGracefulShutdownPingData is the PING a grpc-java server sends
	// after the first GOAWAY of a graceful shutdown or a max-age drain.
	JavaGracefulShutdownPingData = [8]byte{3: 0x09, 4: 0x7a, 5: 0xce, 6: 0xf0, 7: 0x01}
	// JavaClientKeepalivePingData is a grpc-java client's keepalive PING:
	// 1111.
	JavaClientKeepalivePingData = [8]byte{6: 0x04, 7: 0x57}
	// JavaServerKeepalivePingData is a grpc-java server's keepalive PING:
	// 0xDEAD.
	JavaServerKeepalivePingData = [8]byte{6: 0xde, 7: 0xad}
)
