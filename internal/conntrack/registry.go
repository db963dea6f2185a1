package conntrack

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpcpulse/grpcpulse/internal/wire"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Registry holds the journals of one stats handler's live connections, keyed
// by the identity of the connection's remote address.
//
// The credentials wrapper sees the conn; grpc-go's stats events only see
// addresses (stats.ConnTagInfo, the client's stats.OutHeader). The wrapper
// (wire.Conn) returns from RemoteAddr and LocalAddr its own copies of the
// wrapped conn's addresses, and grpc-go passes exactly those values on, so
// the pointer a connection's RemoteAddr returns names that connection and no
// other, for any net.Conn type (TCP, Unix sockets, bufconn, pipes) under any
// concurrency. An address pair does not: every conn accepted on a Unix
// socket listener, or made by bufconn or net.Pipe, has the same pair.
//
// Lookups run on every client RPC attempt and take no registry-wide lock.
type Registry struct {
	side  pulse.Side
	hooks Hooks

	m        sync.Map // net.Addr (a wire.Conn's RemoteAddr, a pointer) → *Journal
	n        atomic.Int64
	observed atomic.Bool // a connection was ever observed

	grace atomic.Int64 // how long a journal waits to be claimed, a time.Duration: unclaimedGrace
}

// NewRegistry returns an empty registry for one side; hooks (may be nil)
// receive every journal's live events.
func NewRegistry(side pulse.Side, hooks Hooks) *Registry {
	r := &Registry{side: side, hooks: hooks}
	r.grace.Store(int64(unclaimedGrace))
	return r
}

// SetUnclaimedGrace sets how long a journal opened from now on waits to be
// claimed by a stats handler before the unclaimed timer frees it. Tests
// lengthen it to tell a journal freed when its conn closed from one the
// timer freed.
func (r *Registry) SetUnclaimedGrace(d time.Duration) { r.grace.Store(int64(d)) }

// Observe opens a journal for c and returns c wrapped by the frame observer
// (the wire.Conn's Outer: see there). Call it with the conn a handshake
// returned, and hand grpc-go the returned conn: its addresses are what
// Lookup finds the journal by.
func (r *Registry) Observe(c net.Conn) (net.Conn, *Journal) {
	j := &Journal{side: r.side, hooks: r.hooks, reg: r}
	wc := wire.NewConn(c, r.side == pulse.SideClient, j)
	j.conn = wc
	r.m.Store(wc.RemoteAddr(), j)
	r.n.Add(1)
	if !r.observed.Load() {
		r.observed.Store(true)
	}
	j.mu.Lock()
	j.unclaimed = time.AfterFunc(time.Duration(r.grace.Load()), j.forgetUnclaimed)
	j.mu.Unlock()
	return wc.Outer(), j
}

// Lookup returns the journal of the live connection whose wire.Conn returned
// these addresses, or nil. Addresses of any other conn find nothing.
func (r *Registry) Lookup(local, remote net.Addr) *Journal {
	if !wire.IsIdentity(remote) {
		return nil
	}
	v, ok := r.m.Load(remote)
	if !ok {
		return nil
	}
	j := v.(*Journal)
	if j.conn.LocalAddr() != local {
		// Both are pointers when they come from the same wire.Conn; a
		// different local address is a different connection.
		return nil
	}
	return j
}

// Observed reports whether any connection was ever observed: a handler
// whose connections arrive while it is false was installed without the
// credentials that observe them.
func (r *Registry) Observed() bool { return r.observed.Load() }

// Len returns the number of journals held: zero once every connection has
// ended and been released.
func (r *Registry) Len() int {
	return int(r.n.Load())
}

func (r *Registry) forget(j *Journal) {
	if r.m.CompareAndDelete(j.conn.RemoteAddr(), j) {
		r.n.Add(-1)
	}
}
