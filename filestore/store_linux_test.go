package filestore_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ce967478/cookiesession/filestore"
	"github.com/ce967478/cookiesession/revocation"
)

// rfLimitFileSize makes every write of the process past size bytes of a
// file fail (RLIMIT_FSIZE; Go ignores SIGXFSZ), as a full disk would, and
// returns the undo. Not for parallel tests: the limit is the process's.
func rfLimitFileSize(t *testing.T, size int64) (undo func()) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(size), Max: old.Max}); err != nil {
		t.Skipf("cannot limit the file size: %v", err)
	}
	done := false
	undo = func() {
		if !done {
			done = true
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(undo)
	return undo
}

// An append that fails part way (the disk full) leaves a partial record:
// Revoke reports it, Health says Degraded, the revocation is enforced,
// and nothing is appended after the partial record: the next Revoke, or
// Close, rewrites the file from memory first, so that a restart finds
// every revocation, and the file is appended to again once rewritten.
func TestFailedAppendIsRewritten(t *testing.T) {
	for _, recover := range []string{"Revoke", "Close"} {
		t.Run(recover, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "revocations.db")
			store := rfOpen(t, path)
			ctx := context.Background()
			if err := store.Revoke(ctx, "ada", rfRevoked(rfID(1))); err != nil {
				t.Fatal(err)
			}
			undo := rfLimitFileSize(t, rfSize(t, path)+10)
			if err := store.Revoke(ctx, "bob", rfRevoked(rfID(2))); err == nil {
				t.Error("Revoke succeeded with the disk full")
			} else if !strings.Contains(err.Error(), path+":") {
				// Not path.tmp, which the file open was created as,
				// and which no longer exists.
				t.Errorf("the error does not name the file: %v", err)
			}
			if h, err := store.Health(); h != revocation.Degraded || err == nil {
				t.Errorf("Health after a failed append: %v, %v; want degraded, with the cause", h, err)
			}
			if err := store.Revoke(ctx, "cy", rfRevoked(rfID(3))); err == nil {
				t.Error("Revoke succeeded with the disk still full")
			}
			undo()
			if !rfRefused(store, "bob", rfID(2)) || !rfRefused(store, "cy", rfID(3)) {
				t.Fatal("a revocation that could not be stored is not enforced")
			}
			want := map[string]revocation.SessionID{"ada": rfID(1), "bob": rfID(2), "cy": rfID(3)}
			if recover == "Revoke" {
				if err := store.Revoke(ctx, "dee", rfRevoked(rfID(4))); err != nil {
					t.Fatalf("Revoke once the disk has room: %v", err)
				}
				if h, err := store.Health(); h != revocation.Healthy || err != nil {
					t.Errorf("Health once the file was rewritten: %v, %v; want healthy", h, err)
				}
				want["dee"] = rfID(4)
				// Rewritten, the file is appended to again.
				before, _ := os.Stat(path)
				if err := store.Revoke(ctx, "eve", rfRevoked(rfID(5))); err != nil {
					t.Fatal(err)
				}
				if after, _ := os.Stat(path); !os.SameFile(before, after) || after.Size() <= before.Size() {
					t.Error("the file was rewritten again rather than appended to")
				}
				want["eve"] = rfID(5)
				// As a crash would leave it, before Close rewrites it.
				if got := rfRecords(t, path); len(got) != len(want) {
					t.Errorf("the file holds %v; want every subject of %v", got, want)
				}
			}
			store = rfRestart(t, store, path)
			for subject, id := range want {
				if !rfRefused(store, subject, id) {
					t.Errorf("%s's revocation was lost", subject)
				}
			}
			if got := store.Len(); got != len(want) {
				t.Errorf("Len %d after the restart, want %d", got, len(want))
			}
		})
	}
}

// A Store closed and opened again while another goroutine runs commands
// opens: a child shares its parent's open files, and so their locks,
// from fork until exec, and that child's copy of the lock is not another
// Store. Without waiting out those milliseconds, most of these Opens
// failed with "another Store has it open".
func TestReopenWhileCommandsStart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "revocations.db")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := exec.Command("true").Run(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()
	for i := range 100 {
		s, err := filestore.Open(path)
		if err != nil {
			t.Fatalf("Open %d of 100, the previous Store closed: %v", i+1, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
