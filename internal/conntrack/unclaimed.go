package conntrack

import (
	"sync"
	"time"
)

// unclaimedGrace is how long a journal waits to be claimed by a stats
// handler. grpc-go tags a transport microseconds after its handshake; a
// conn whose transport setup fails (a bad client preface, for one) is
// closed by grpc-go through the raw conn, so its journal may never see an
// end at all, and only this grace period frees it.
const unclaimedGrace = 10 * time.Second

// unclaimed holds a registry's journals that no stats handler has claimed
// yet, and frees those still unclaimed after between one and two grace
// periods. One timer serves the registry, not one per connection: a journal
// is claimed microseconds after it is opened, so a timer of its own would be
// made and stopped for nothing on every connection.
//
// Journals are kept in two generations: young (opened in the current
// period) and old (opened in the one before). At the end of each period the
// old generation's unclaimed journals are freed and the young become old. A
// claim empties the journal's slot, so that a list never keeps a journal
// alive after its connection is gone.
type unclaimed struct {
	grace time.Duration

	mu         sync.Mutex
	gen        uint32 // generation of young
	young, old []*Journal
	armed      bool // a sweep is scheduled
}

func (u *unclaimed) add(j *Journal) {
	u.mu.Lock()
	defer u.mu.Unlock()
	j.pendingGen, j.pendingSlot = u.gen, int32(len(u.young))
	u.young = append(u.young, j)
	if !u.armed {
		u.armed = true
		time.AfterFunc(u.grace, u.sweep)
	}
}

// remove takes a claimed journal out of its generation, if it is still in
// one.
func (u *unclaimed) remove(j *Journal) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch j.pendingGen {
	case u.gen:
		u.young[j.pendingSlot] = nil
	case u.gen - 1:
		u.old[j.pendingSlot] = nil
	}
}

// sweep frees the old generation's unclaimed journals and ages the young.
func (u *unclaimed) sweep() {
	u.mu.Lock()
	expired := u.old
	u.old, u.young = u.young, nil
	u.gen++
	u.armed = len(u.old) > 0
	if u.armed {
		time.AfterFunc(u.grace, u.sweep)
	}
	u.mu.Unlock()
	for _, j := range expired {
		if j != nil {
			j.forgetUnclaimed()
		}
	}
}

// forgetUnclaimed frees j unless a handler has claimed it; a later Claim
// then fails.
func (j *Journal) forgetUnclaimed() {
	j.mu.Lock()
	if j.claimed {
		j.mu.Unlock()
		return
	}
	j.forgotten = true
	j.mu.Unlock()
	j.reg.forget(j)
}
