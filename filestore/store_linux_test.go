package filestore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

// rfSmallDisk mounts a file system of size bytes on a new directory, as a
// disk that can be filled, and returns the directory. It needs root (or
// CAP_SYS_ADMIN): the test is skipped, saying so, where mounting fails.
func rfSmallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("cannot mount a small file system to fill (root is needed): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return dir
}

// rfFillDisk fills the file system of dir, and returns the undo.
func rfFillDisk(t *testing.T, dir string) (undo func()) {
	t.Helper()
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 4<<20)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the disk: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return func() { rfRemove(t, filler) }
}

// On a disk that fills up: an append that runs out of space is reported,
// and so is Close while the disk is still full, its rewrite from memory
// impossible; a rewrite that cannot be written leaves the file whole,
// even at Open. Once the disk has room, a restart finds every revocation
// acknowledged, and drops only the record cut short, which was reported.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	dir := rfSmallDisk(t, 256<<10)
	path := filepath.Join(dir, "revocations.db")
	store := rfOpen(t, path)
	ctx := context.Background()
	const stored = 10
	for i := range stored {
		if err := store.Revoke(ctx, rfBigSubject(i), rfRevoked(rfID(1))); err != nil {
			t.Fatal(err)
		}
	}
	free := rfFillDisk(t, dir)
	// 4 KB: past the end of the file's last block, whatever its size.
	if err := store.Revoke(ctx, rfBigSubject(stored), rfRevoked(rfID(1))); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Revoke with the disk full: %v; want no space left on device", err)
	}
	if h, err := store.Health(); h != revocation.Degraded || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Health with the disk full: %v, %v; want degraded, with the cause", h, err)
	}
	if !rfRefused(store, rfBigSubject(stored), rfID(1)) {
		t.Error("the revocation that could not be stored is not enforced")
	}
	if err := store.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close with the disk still full: %v; want no space left on device", err)
	}

	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := filestore.Open(path); !errors.Is(err, syscall.ENOSPC) {
		if err == nil {
			_ = s.Close()
		}
		t.Errorf("Open with the disk full: %v; want no space left on device", err)
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.HasPrefix(before, after) || len(after) < len(before)-4096 {
		t.Errorf("the file, %d bytes, was left with %d (%v): want it whole but for the torn record", len(before), len(after), err)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the rewrite that ran out of space left its temporary file: %v", err)
	}

	free()
	store = rfOpen(t, path)
	for i := range stored {
		if !rfRefused(store, rfBigSubject(i), rfID(1)) {
			t.Errorf("revocation %d of %d was lost", i+1, stored)
		}
	}
	if got := store.Len(); got != stored {
		t.Errorf("Len %d after the restart, want %d", got, stored)
	}
	if h, err := store.Health(); h != revocation.Healthy || err != nil {
		t.Errorf("Health once the disk has room: %v, %v; want healthy", h, err)
	}
}
