//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// lockWait is how long lock waits for a lock held by a process that is
// only being started. Between fork and exec, a child shares every open
// file of its parent, and with the file its flock: a Store closed and
// opened again while another goroutine runs a command would otherwise
// find its own lock held, for the microseconds to milliseconds that the
// child takes to exec (and closes the file, opened close-on-exec).
const lockWait = time.Second

// lock takes an exclusive lock on f, or fails with errLocked if another
// open file holds it, in this process or another, for longer than
// lockWait. The system releases it when f is closed or the process ends,
// a crash included, so a lock is never left behind.
func lock(f *os.File) error {
	deadline := time.Now().Add(lockWait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case !errors.Is(err, syscall.EWOULDBLOCK):
			return err
		case time.Now().After(deadline):
			return errLocked
		}
		time.Sleep(time.Millisecond)
	}
}
