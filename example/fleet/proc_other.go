//go:build !unix

package main

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup kills p: without process groups or SIGTERM, a process is
// stopped at once.
func signalGroup(p *proc, _ syscall.Signal) {
	_ = p.cmd.Process.Kill()
}
