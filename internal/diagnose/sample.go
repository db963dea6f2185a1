package diagnose

import (
	"sync"
	"time"

	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Interval is how often a Sampler lets a record of one reason through after
// the first.
const Interval = time.Minute

// Sampler keeps a fleet's worth of identical closes from flooding a log:
// per reason (a Sampler serves one side), the first record goes through at
// once, then at most one per Interval, carrying how many were held back
// since the last one. Metrics stay exact; only the log is sampled.
type Sampler struct {
	mu   sync.Mutex
	last [32]sampled // by pulse.Reason; the vocabulary is far smaller
}

type sampled struct {
	at         time.Time
	suppressed int
}

// Allow reports whether a record of reason r may be written now, and how
// many records of r were held back since the last one written.
func (s *Sampler) Allow(r pulse.Reason, now time.Time) (suppressed int, ok bool) {
	if int(r) >= len(s.last) {
		r = pulse.ReasonUnknown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &s.last[r]
	if !e.at.IsZero() && now.Sub(e.at) < Interval {
		e.suppressed++
		return 0, false
	}
	suppressed, e.suppressed, e.at = e.suppressed, 0, now
	return suppressed, true
}
