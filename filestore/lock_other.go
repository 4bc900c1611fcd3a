//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package filestore

import "os"

// lock does nothing where the standard library has no flock: there, as the
// Store's doc says, keeping to one process per file is the operator's
// task.
func lock(*os.File) error { return nil }
