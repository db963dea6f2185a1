//go:build !unix

package options_test

import "time"

// processCPU returns the process's CPU time; it is not read on this system.
func processCPU() (time.Duration, bool) { return 0, false }
