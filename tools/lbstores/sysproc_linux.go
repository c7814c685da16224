package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill the server if this process dies
// without stopping it (kill -9, a crash): a run never leaves a server behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
