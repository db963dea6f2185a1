package testenv

import (
	"testing"
	"time"
)

// Patience is how long Eventually waits by default. It is generous on
// purpose: CI runs the scenarios under -race on two busy cores, and a
// condition that holds is detected within one poll interval anyway.
const Patience = 60 * time.Second

// Eventually polls cond until it returns "" or Patience runs out, then fails
// the test with cond's last message.
func Eventually(t testing.TB, cond func() string) {
	t.Helper()
	EventuallyWithin(t, Patience, cond)
}

// EventuallyWithin is Eventually with an explicit deadline.
func EventuallyWithin(t testing.TB, d time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %s", d, msg)
		}
		<-tick.C
	}
}
