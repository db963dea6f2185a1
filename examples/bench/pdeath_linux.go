package main

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill the child if the suite dies
// without closing it.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
