package durfmt

import (
	"testing"
	"time"
)

// An observed interval is never printed as zero, however short; a setting
// is printed exactly.
func TestObserved(t *testing.T) {
	for d, want := range map[time.Duration]string{
		300 * time.Nanosecond:                             "300ns",
		999 * time.Nanosecond:                             "999ns",
		300 * time.Microsecond:                            "300µs",
		2400 * time.Microsecond:                           "2.4ms",
		10*time.Millisecond + 37*time.Microsecond:         "10ms",
		198600 * time.Microsecond:                         "198.6ms",
		1500 * time.Millisecond:                           "1.5s",
		5*time.Minute + 50*time.Second + time.Millisecond: "5m50s",
	} {
		if got := Observed(d); got != want {
			t.Errorf("Observed(%d) = %q, want %q", int64(d), got, want)
		}
	}
	for d := time.Duration(1); d < 10*time.Second; d = d*3/2 + 1 {
		if Observed(d) == "0s" {
			t.Fatalf("Observed(%d) = 0s", int64(d))
		}
	}
	for d, want := range map[time.Duration]string{500 * time.Microsecond: "500µs", 5 * time.Minute: "5m", 2 * time.Hour: "2h", Infinity: "infinity"} {
		if got := Setting(d); got != want {
			t.Errorf("Setting(%d) = %q, want %q", int64(d), got, want)
		}
	}
}
