//go:build !linux

package main

import "os/exec"

// setParentDeathSignal does nothing here: a child still exits when its stdin
// closes, which happens when the suite dies.
func setParentDeathSignal(*exec.Cmd) {}
