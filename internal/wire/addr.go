package wire

import (
	"net"
	"reflect"
	"slices"
)

// The addresses a Conn returns from LocalAddr and RemoteAddr are its own:
// copies of the wrapped conn's addresses, made once when the Conn is created.
// grpc-go builds stats.ConnTagInfo, the client's stats.OutHeader and
// peer.Peer from exactly the values the handshaken conn returns, so the
// identity of these copies (a pointer no other connection holds) names the
// connection wherever grpc-go hands an address to a stats.Handler. An
// address pair cannot do that outside TCP: every conn accepted on a Unix
// socket listener, every bufconn and every net.Pipe has the same pair.
//
// A copy has the concrete type of the original, so that applications which
// type-assert peer.Addr (*net.TCPAddr, *net.UnixAddr) keep working: the
// standard library's address types are copied field by field, any other
// pointer type by a shallow copy of what it points to. Only an address that
// is not a pointer (grpc's test/bufconn and net.Pipe use unexported value
// types), a nil pointer, a pointer to a zero-size type (every new value of
// which may share one address) or no address at all is returned as an *Addr,
// which forwards Network and String.

// Addr stands in for an address that cannot be copied into a value unique
// to one connection. It forwards Network and String to the original, which
// Unwrap returns.
type Addr struct {
	inner net.Addr
	_     byte // non-zero size: every *Addr is a distinct pointer
}

// Network returns the original address's network, or "" if there was none.
func (a *Addr) Network() string {
	if a.inner == nil {
		return ""
	}
	return a.inner.Network()
}

// String returns the original address's string form, or "" if there was
// none.
func (a *Addr) String() string {
	if a.inner == nil {
		return ""
	}
	return a.inner.String()
}

// Unwrap returns the original address, possibly nil.
func (a *Addr) Unwrap() net.Addr { return a.inner }

// tcpAddrs holds the copies of a TCP conn's two addresses, so that they are
// one allocation instead of four (two addresses, two IPs): Conn.init makes
// one per connection.
type tcpAddrs struct {
	local, remote net.TCPAddr
	ip            [2][net.IPv6len]byte
}

// ownAddrs returns ownAddr(local), ownAddr(remote).
func ownAddrs(local, remote net.Addr) (net.Addr, net.Addr) {
	l, lok := local.(*net.TCPAddr)
	r, rok := remote.(*net.TCPAddr)
	if !lok || !rok || l == nil || r == nil || len(l.IP) > net.IPv6len || len(r.IP) > net.IPv6len {
		return ownAddr(local), ownAddr(remote)
	}
	p := &tcpAddrs{local: *l, remote: *r}
	p.local.IP = cloneIPInto(&p.ip[0], l.IP)
	p.remote.IP = cloneIPInto(&p.ip[1], r.IP)
	return &p.local, &p.remote
}

// cloneIPInto is slices.Clone(ip) into buf: nil for nil, and no room to grow
// into the buffer's other bytes.
func cloneIPInto(buf *[net.IPv6len]byte, ip net.IP) net.IP {
	if ip == nil {
		return nil
	}
	n := copy(buf[:], ip)
	return buf[:n:n]
}

// ownAddr returns a copy of a that no other connection holds: a new pointer
// of a's concrete type where possible, an *Addr otherwise.
func ownAddr(a net.Addr) net.Addr {
	switch a := a.(type) {
	case nil:
		return &Addr{}
	case *net.TCPAddr:
		if a == nil {
			return &Addr{inner: a}
		}
		c := *a
		c.IP = slices.Clone(a.IP)
		return &c
	case *net.UnixAddr:
		if a == nil {
			return &Addr{inner: a}
		}
		c := *a
		return &c
	case *net.UDPAddr:
		if a == nil {
			return &Addr{inner: a}
		}
		c := *a
		c.IP = slices.Clone(a.IP)
		return &c
	case *net.IPAddr:
		if a == nil {
			return &Addr{inner: a}
		}
		c := *a
		c.IP = slices.Clone(a.IP)
		return &c
	}
	v := reflect.ValueOf(a)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Type().Elem().Size() == 0 {
		return &Addr{inner: a}
	}
	c := reflect.New(v.Type().Elem())
	c.Elem().Set(v.Elem())
	if own, ok := c.Interface().(net.Addr); ok {
		return own
	}
	return &Addr{inner: a}
}

// IsIdentity reports whether a can be the address of a Conn: only pointers
// can, and only they may be used as map keys without risk (an address value
// of a non-comparable type would make a map lookup panic). It allocates
// nothing.
func IsIdentity(a net.Addr) bool {
	switch a.(type) {
	case *net.TCPAddr, *net.UnixAddr, *Addr:
		return true
	case nil:
		return false
	}
	return reflect.TypeOf(a).Kind() == reflect.Pointer
}
