package main

import "syscall"

// sysProcAttr puts a process in a group of its own, and has the kernel kill
// it when the fleet dies, even by SIGKILL, so that no server outlives it.
// Pdeathsig follows the thread that started the process; the Go runtime
// ends no thread unless a goroutine locked to it exits, and none does here.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
