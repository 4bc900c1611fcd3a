//go:build !linux

package redisstore

import "os/exec"

// setDeathSignal does nothing here: only Linux kills a child when its
// parent dies. The tests' cleanup stops the server.
func setDeathSignal(*exec.Cmd) {}
