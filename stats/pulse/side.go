package pulse

// Side is the role of the end of a connection that recorded something: the
// value of grpc.side.
type Side uint8

const (
	// SideClient is the end that dialed.
	SideClient Side = iota
	// SideServer is the end that accepted.
	SideServer
)

// String returns "client" or "server".
func (s Side) String() string {
	if s == SideServer {
		return "server"
	}
	return "client"
}

// Initiator is who ended a transport: the value of grpc.close.initiator.
type Initiator uint8

const (
	// InitiatorUnknown ("unknown"): what was observed does not tell.
	InitiatorUnknown Initiator = iota
	// InitiatorLocal ("local"): this side ended it.
	InitiatorLocal
	// InitiatorPeer ("peer"): the other side ended it, or something on the
	// path did on its behalf (a proxy, a load balancer, a NAT).
	InitiatorPeer
)

// String returns "local", "peer" or "unknown".
func (i Initiator) String() string {
	switch i {
	case InitiatorLocal:
		return "local"
	case InitiatorPeer:
		return "peer"
	}
	return "unknown"
}
