//go:build unix && !linux

package main

import "syscall"

// sysProcAttr puts a process in a group of its own. Unlike on Linux, a
// process survives the fleet if the fleet is killed before stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
