package conntrack

import (
	"net"
	"net/netip"
	"sync"

	"github.com/grpcpulse/grpcpulse/internal/wire"
)

// Registry holds the journals of one stats handler's live connections, keyed
// by their address pair. The address pair is the only thing the credentials
// wrapper (which sees the conn) and grpc-go's stats events (which see
// addresses) have in common; a TCP 4-tuple is unique among live connections.
type Registry struct {
	side  Side
	hooks Hooks

	mu sync.Mutex
	m  map[addrKey]*Journal
}

// addrKey identifies a connection by its address pair. TCP addresses, the
// common case, are compared as netip.AddrPort values, which costs no
// allocation on the per-RPC lookup; other address types by their strings.
type addrKey struct {
	local, remote endpoint
}

type endpoint struct {
	ap  netip.AddrPort
	str string
}

func endpointOf(a net.Addr) endpoint {
	switch a := a.(type) {
	case nil:
		return endpoint{}
	case *net.TCPAddr:
		ap := a.AddrPort()
		// An IPv4 address can arrive as 4 or 16 bytes; compare them alike.
		return endpoint{ap: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), str: a.Zone}
	default:
		return endpoint{str: a.Network() + "|" + a.String()}
	}
}

func keyOf(local, remote net.Addr) addrKey {
	return addrKey{local: endpointOf(local), remote: endpointOf(remote)}
}

// NewRegistry returns an empty registry for one side; hooks (may be nil)
// receive every journal's live events.
func NewRegistry(side Side, hooks Hooks) *Registry {
	return &Registry{side: side, hooks: hooks, m: make(map[addrKey]*Journal)}
}

// Observe opens a journal for c and returns c wrapped by the frame observer.
// Call it with the conn a handshake returned.
func (r *Registry) Observe(c net.Conn) (*wire.Conn, *Journal) {
	j := &Journal{
		side:   r.side,
		local:  c.LocalAddr(),
		remote: c.RemoteAddr(),
		hooks:  r.hooks,
		reg:    r,
	}
	r.mu.Lock()
	r.m[keyOf(j.local, j.remote)] = j
	r.mu.Unlock()
	return wire.NewConn(c, r.side == Client, j), j
}

// Lookup returns the journal of the live connection with this address pair,
// or nil.
func (r *Registry) Lookup(local, remote net.Addr) *Journal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[keyOf(local, remote)]
}

// Len returns the number of journals held: zero once every connection has
// ended and been released.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}

func (r *Registry) forget(j *Journal) {
	k := keyOf(j.local, j.remote)
	r.mu.Lock()
	if r.m[k] == j {
		delete(r.m, k)
	}
	r.mu.Unlock()
}
