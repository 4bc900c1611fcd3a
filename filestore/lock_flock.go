//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore

import (
	"errors"
	"os"
	"syscall"
)

// lock takes an exclusive lock on f, or fails with errLocked at once if
// another open file holds it, in this process or another. The system
// releases it when f is closed or the process ends, a crash included, so
// a lock is never left behind.
func lock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return err
}
