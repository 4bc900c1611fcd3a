package redisstore

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel kill redis-server if the test binary dies
// without cleaning up, so that no server outlives its test.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
