//go:build unix

package main

import "syscall"

// signalGroup signals p's process group, which start made p's own: a
// process it started, if any, is signalled too.
func signalGroup(p *proc, sig syscall.Signal) {
	_ = syscall.Kill(-p.cmd.Process.Pid, sig) // ESRCH: it has just exited
}
