package wire

import (
	"net"
	"testing"
)

// A Conn's addresses are copies of the wrapped conn's: equal in value, of
// the same concrete type, distinct from the originals and from every other
// Conn's, and unaffected when the originals change.
func TestOwnAddrs(t *testing.T) {
	tcp := func(ip string, port int) *net.TCPAddr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }
	cases := []struct {
		name          string
		local, remote net.Addr
	}{
		{"tcp4", tcp("127.0.0.1", 1), tcp("127.0.0.1", 2)},
		{"tcp6 with zone", &net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 3, Zone: "eth0"}, tcp("::1", 4)},
		{"tcp without IP", &net.TCPAddr{Port: 5}, tcp("10.0.0.1", 6)},
		{"unix", &net.UnixAddr{Name: "/tmp/s", Net: "unix"}, &net.UnixAddr{Net: "unix"}},
		{"mixed", tcp("127.0.0.1", 7), &net.UnixAddr{Name: "@x", Net: "unix"}},
		{"none", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l1, r1 := ownAddrs(tc.local, tc.remote)
			l2, r2 := ownAddrs(tc.local, tc.remote)
			if l1 == l2 || r1 == r2 || l1 == r1 {
				t.Fatal("two copies share an identity")
			}
			for _, p := range []struct{ orig, own net.Addr }{{tc.local, l1}, {tc.remote, r1}} {
				if p.orig == nil {
					if _, ok := p.own.(*Addr); !ok {
						t.Errorf("copy of no address is %T, want *Addr", p.own)
					}
					continue
				}
				if p.own == p.orig || p.own.String() != p.orig.String() || p.own.Network() != p.orig.Network() {
					t.Errorf("copy %v (%p), want a new %v", p.own, p.own, p.orig)
				}
				if o, ok := p.orig.(*net.TCPAddr); ok {
					c, ok := p.own.(*net.TCPAddr)
					if !ok {
						t.Fatalf("copy of a *net.TCPAddr is %T", p.own)
					}
					if (o.IP == nil) != (c.IP == nil) {
						t.Errorf("IP %v copied as %v", o.IP, c.IP)
					}
					before := c.String()
					for i := range o.IP {
						o.IP[i] ^= 0xff
					}
					if c.String() != before {
						t.Errorf("copy changed with the original: %v, was %v", c, before)
					}
					if len(c.IP) > 0 && cap(c.IP) != len(c.IP) {
						t.Errorf("copied IP has room to grow into another address: len %d cap %d", len(c.IP), cap(c.IP))
					}
				}
			}
		})
	}
}
