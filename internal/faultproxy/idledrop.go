package faultproxy

import "time"

// SetIdleDrop makes the proxy behave like a load balancer or NAT with an
// idle timeout: a connection that carried no byte in either direction for d
// is forgotten for good. Its bytes are then read and discarded in both
// directions, and closes and resets are not propagated, so neither end
// learns of it until its own keepalive goes unanswered; forwarding never
// resumes for that connection (Forward does not bring it back), while new
// connections work. As in a middlebox, the drop is noticed lazily, by the
// first packet after the idle period. d <= 0 turns idle drops off for
// connections not yet dropped; it applies to current and future
// connections.
func (p *Proxy) SetIdleDrop(d time.Duration) {
	if d < 0 {
		d = 0
	}
	p.idleDrop.Store(int64(d))
}

// IdleDropped reports how many connections SetIdleDrop has dropped, so that
// tests can assert the drop happened instead of inferring it from a
// timeout.
func (p *Proxy) IdleDropped() int { return int(p.idleGone.Load()) }

// idleExpired reports whether the pair's flow is forgotten at now, the
// time bytes (or the end of a direction) were read from one of its
// sockets. If it is not, the read counts as activity.
func (pr *pair) idleExpired(now time.Time) bool {
	if pr.flowDropped.Load() {
		return true
	}
	t := now.UnixNano()
	if d := pr.p.idleDrop.Load(); d > 0 && t-pr.lastActive.Load() >= d {
		if pr.flowDropped.CompareAndSwap(false, true) {
			pr.p.idleGone.Add(1)
		}
		return true
	}
	// Both directions stamp; keep the later time.
	for {
		old := pr.lastActive.Load()
		if old >= t || pr.lastActive.CompareAndSwap(old, t) {
			return false
		}
	}
}
