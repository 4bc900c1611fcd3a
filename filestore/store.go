package filestore

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/revocation"
)

// The revocation file, as Open reads and Store writes it:
//
//	file    = magic "CSREVOKE" | version(1) | { record }
//	record  = uvarint(len(payload)) | payload | CRC-32C of payload (4 bytes, little-endian)
//	payload = uvarint(len(subject)) | subject | revocation.Revoked in binary form
//
// A record holds a subject's whole state after a revocation, so replaying
// the records in any order, any number of times, gives the same state
// (Merge is commutative and idempotent), and a record that a crash cut
// short is told apart from the ones before it by its length and checksum.
const (
	revocationFileMagic   = "CSREVOKE"
	revocationFileVersion = 1
	// revocationFileSlack is how far the file may grow past twice what
	// its live entries take before it is rewritten: a small file is not
	// worth rewriting, and doubling keeps the rewriting linear in the
	// number of revocations.
	revocationFileSlack = 64 << 10
)

// castagnoli is the CRC-32C table: CRC-32C is computed in hardware on
// common CPUs, and catches the torn writes a crash leaves.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errStoreClosed is what Revoke and Health say after Close.
var errStoreClosed = errors.New("filestore: the revocation file is closed")

// errLocked is why Open refuses a file that another Store has open.
var errLocked = errors.New("another Store has it open, in this process or another")

// Store is a cookiesession.RevocationStore kept in a file, so that what was
// revoked survives a restart: a signed-out cookie stays refused when the
// process starts again. It is for a single instance; a fleet shares a
// store such as this repository's redisstore. Make one with Open, and
// Close it on shutdown.
//
// Check and Generation answer from memory, as revocation.Replica does.
// Revoke enforces a revocation at once, then appends it to the file and
// returns only once it is synced to disk, so that a revocation it acknowledged
// survives a crash. The file is rewritten with only the live entries when
// it is opened and whenever it has grown to more than twice their size
// (plus 64 KiB): it stays bounded by what signed-in users did within one
// session lifetime.
//
// One process per file: two processes appending to the same file would
// each rewrite it without the other's revocations, so Open locks the file
// (through path.lock, where the system has flock) and fails while another
// Store has it open. It is safe for concurrent use within the process.
type Store struct {
	path string
	rv   *revocation.Replica // what is enforced, and what a rewrite writes
	lock *os.File            // path.lock, locked until Close

	mu   sync.Mutex // serialises the writes to the file
	f    *os.File   // the file, positioned at its end; nil once closed
	size int64      // bytes in the file
	live int64      // bytes the last rewrite wrote: the live set's size then
	// dirty is set when a write or sync failed: the file may end in a
	// partial record, or lack revocations that memory holds, so it must
	// be rewritten from memory before anything is appended to it.
	dirty bool
	err   error  // the last failure, cleared by the next write that succeeds
	buf   []byte // the record being appended, kept to spare an allocation
}

var _ cookiesession.RevocationStore = (*Store)(nil)

// Open opens the revocation file at path, creating it
// (readable by the owner only) if it does not exist, and loads what it
// holds. A last record that a crash cut short is dropped, and the file
// truncated there, since a revocation is acknowledged only once its record
// is whole and synced. The file is then rewritten with only the entries
// still live. A file damaged before its end (acknowledged records may
// follow the damage), or that is not a revocation file, is refused, and
// left as it is. So is a file another Store has open, after a second's
// wait for it.
func Open(path string) (*Store, error) {
	lk, err := lockPath(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		_ = lk.Close()
		return nil, fmt.Errorf("filestore: opening the revocation file: %w", err)
	}
	rf := &Store{path: path, rv: revocation.NewReplica(nil), lock: lk, f: f}
	now := time.Now()
	if err := rf.replay(now); err != nil {
		_ = f.Close()
		_ = lk.Close()
		return nil, err
	}
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if err := rf.compactLocked(now); err != nil {
		_ = rf.f.Close()
		_ = lk.Close()
		return nil, err
	}
	return rf, nil
}

// lockPath opens path.lock, creating it, and locks it. The lock is not
// on the revocation file itself, which each rewrite replaces: a Store
// whose file was renamed over appends to a file no one reads again, and
// loses every revocation it acknowledges from then on.
func lockPath(path string) (*os.File, error) {
	lk, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("filestore: opening the lock file of the revocation file: %w", err)
	}
	if err := lock(lk); err != nil {
		_ = lk.Close()
		return nil, fmt.Errorf("filestore: locking %s: %w: close it first, or give each process its own file", path, err)
	}
	return lk, nil
}

// replay loads the file into memory, and truncates it after the last whole
// record.
func (rf *Store) replay(now time.Time) error {
	data, err := io.ReadAll(rf.f)
	if err != nil {
		return fmt.Errorf("filestore: reading the revocation file: %w", err)
	}
	start, err := rf.checkHeader(data)
	if err != nil {
		return err
	}
	end := start
	for end < len(data) {
		subject, r, n, ok := decodeRevocationRecord(data[end:])
		if !ok {
			break
		}
		rf.rv.Add(subject, r, now)
		end += n
	}
	if end == len(data) {
		return nil
	}
	if !tornTail(data[end:]) {
		// Damage before the end: acknowledged records follow it, and
		// dropping them would let signed-out cookies open again.
		return fmt.Errorf("filestore: %s is damaged at byte %d, with %d bytes after it that cannot be read: "+
			"restore it, or move it away to start without the revocations it held", rf.path, end, len(data)-end)
	}
	// What follows is the record a crash cut short, never acknowledged:
	// appending after it would hide every later record from the next
	// replay.
	if err := rf.f.Truncate(int64(end)); err != nil {
		return fmt.Errorf("filestore: truncating the revocation file after its last whole record: %w", err)
	}
	if err := rf.f.Sync(); err != nil {
		return fmt.Errorf("filestore: truncating the revocation file after its last whole record: %w", err)
	}
	return nil
}

// tornTail reports whether rest, which does not start with a whole record,
// is what a crash during an append leaves: a record that runs to the end
// of the file or past it, its length included, or one followed by nothing
// but the zeros a file system may leave after a crash.
func tornTail(rest []byte) bool {
	n, k := binary.Uvarint(rest)
	// k is 0 when the file ends within the length: a record of more than
	// 127 bytes, cut after the first byte of its length.
	if k == 0 || (k > 0 && uint64(len(rest)) <= uint64(k)+n+4) {
		// Unless the length is what was damaged: a record it had made
		// run past the end may be followed by acknowledged ones.
		return !damagedLength(rest)
	}
	for _, b := range rest[max(k, 0):] {
		if b != 0 {
			return false
		}
	}
	return true
}

// damagedLength reports whether rest starts with a whole record read with
// the wrong length: a length of j bytes, then a payload whose checksum
// follows it and which decodes. A crash cannot leave that, but a damaged
// length can. Records of up to 2 MiB are looked for (j up to 3), each
// prefix's checksum computed from the one before, so that the search is
// linear in their size.
func damagedLength(rest []byte) bool {
	for j := 1; j <= 3; j++ {
		crc := uint32(0)
		for m := 1; m < 1<<(7*j) && j+m+4 <= len(rest); m++ {
			crc = crc32.Update(crc, castagnoli, rest[j+m-1:j+m])
			if crc != binary.LittleEndian.Uint32(rest[j+m:]) {
				continue
			}
			rec := binary.AppendUvarint(nil, uint64(m))
			if len(rec) != j {
				continue
			}
			if _, _, _, ok := decodeRevocationRecord(append(rec, rest[j:j+m+4]...)); ok {
				return true
			}
		}
	}
	return false
}

// checkHeader returns where the records of data, the file's contents,
// start. An empty file, or one cut short within its header (a creation
// that crashed), holds nothing, and 0 is returned: it is rewritten whole.
// Anything else must be a revocation file of a version this release reads:
// someone else's file is not overwritten.
func (rf *Store) checkHeader(data []byte) (int, error) {
	magic := data[:min(len(data), len(revocationFileMagic))]
	if !strings.HasPrefix(revocationFileMagic, string(magic)) {
		return 0, fmt.Errorf("filestore: %s is not a revocation file (it does not start with %q), and was left as it is: "+
			"give another path, or move the file away", rf.path, revocationFileMagic)
	}
	if len(data) <= len(revocationFileMagic) {
		return 0, nil
	}
	if v := data[len(revocationFileMagic)]; v != revocationFileVersion {
		return 0, fmt.Errorf("filestore: %s is a revocation file of version %d, and this release reads version %d: "+
			"it was left as it is; run the release that wrote it, or move the file away", rf.path, v, revocationFileVersion)
	}
	return len(revocationFileMagic) + 1, nil
}

// appendRevocationRecord appends the record of subject's state r to b.
func appendRevocationRecord(b []byte, subject string, r revocation.Revoked) []byte {
	payload := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(subject)+64), uint64(len(subject)))
	payload = append(payload, subject...)
	payload, _ = r.AppendBinary(payload) // never fails
	b = binary.AppendUvarint(b, uint64(len(payload)))
	b = append(b, payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(payload, castagnoli))
}

// decodeRevocationRecord reads the record b starts with, and returns its
// length; ok is false if b does not start with a whole, intact record.
func decodeRevocationRecord(b []byte) (subject string, r revocation.Revoked, n int, ok bool) {
	size, k := binary.Uvarint(b)
	if k <= 0 || size > uint64(len(b)-k) || uint64(len(b)-k)-size < 4 {
		return "", revocation.Revoked{}, 0, false
	}
	payload := b[k : k+int(size)]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[k+int(size):]) {
		return "", revocation.Revoked{}, 0, false
	}
	slen, j := binary.Uvarint(payload)
	if j <= 0 || slen > uint64(len(payload)-j) {
		return "", revocation.Revoked{}, 0, false
	}
	subject = string(payload[j : j+int(slen)])
	if err := r.UnmarshalBinary(payload[j+int(slen):]); err != nil {
		return "", revocation.Revoked{}, 0, false
	}
	return subject, r, k + int(size) + 4, true
}

// Revoke implements cookiesession.RevocationStore. The revocation is enforced from
// memory at once, whatever happens to the file; Revoke returns once it is
// synced to disk. It returns an error if it could not be stored: Health
// then reports Degraded, and the next Revoke (or Close) rewrites the file
// from memory, so that nothing enforced is lost if that succeeds. ctx is
// not consulted: a write to a local file is not abandoned half way.
func (rf *Store) Revoke(_ context.Context, subject string, r revocation.Revoked) error {
	now := time.Now()
	merged := rf.rv.Add(subject, r, now)
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if rf.f == nil {
		return errStoreClosed
	}
	rf.checkFileLocked()
	switch {
	case rf.dirty:
		// The rewrite holds this revocation too: it is in memory.
		return rf.compactLocked(now)
	case merged.IsZero():
		return nil // already expired: nothing to keep
	}
	if err := rf.appendLocked(subject, merged); err != nil {
		return err
	}
	if rf.size > 2*rf.live+revocationFileSlack {
		// The revocation is stored: a failed rewrite shows in Health,
		// and is tried again on the next Revoke.
		_ = rf.compactLocked(now)
	}
	return nil
}

// appendLocked appends the record of subject's state r and syncs the
// file; rf.mu must be held.
func (rf *Store) appendLocked(subject string, r revocation.Revoked) error {
	rf.buf = appendRevocationRecord(rf.buf[:0], subject, r)
	if _, err := rf.f.Write(rf.buf); err != nil {
		return rf.fail(fmt.Errorf("filestore: appending to the revocation file: %w", rf.pathErr(err)))
	}
	if err := rf.f.Sync(); err != nil {
		return rf.fail(fmt.Errorf("filestore: syncing the revocation file: %w", rf.pathErr(err)))
	}
	rf.size += int64(len(rf.buf))
	rf.err = nil
	return nil
}

// pathErr names the revocation file in err, an error of the file open
// here: that file was written as path.tmp and renamed, and its errors
// name path.tmp, which an operator looking into them does not find.
func (rf *Store) pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return &os.PathError{Op: pe.Op, Path: rf.path, Err: pe.Err}
	}
	return err
}

// checkFileLocked marks the file to be rewritten if its path no longer
// names the file open here, as this Store left it: removed, replaced (a
// backup restored) or truncated by someone else. Appending to it then
// would acknowledge revocations that the next start does not read, or
// refuses to. rf.mu must be held, and the Store open.
func (rf *Store) checkFileLocked() {
	if rf.dirty {
		return // to be rewritten already
	}
	var what string
	fi, err := os.Stat(rf.path)
	open, ferr := rf.f.Stat()
	switch {
	case errors.Is(err, os.ErrNotExist):
		what = "was removed"
	case err != nil:
		what = fmt.Sprintf("cannot be looked at (%v)", err)
	case ferr != nil:
		what = fmt.Sprintf("open here cannot be looked at (%v)", ferr)
	case !os.SameFile(fi, open):
		what = "was replaced by another file"
	case fi.Size() != rf.size:
		what = fmt.Sprintf("holds %d bytes, not the %d written: it was truncated or written to by another program", fi.Size(), rf.size)
	default:
		return
	}
	_ = rf.fail(fmt.Errorf("filestore: the revocation file %s %s while open: the next Revoke, or Close, writes it again from memory", rf.path, what))
}

// fail records err as the cause of Degraded, and marks the file to be
// rewritten before the next append; rf.mu must be held.
func (rf *Store) fail(err error) error {
	rf.dirty, rf.err = true, err
	return err
}

// compactLocked rewrites the file with what memory holds, expired entries
// left out: into path.tmp, synced, then renamed over the file, and the
// directory synced so that the rename survives a crash. A crash at any
// point leaves either the old file or the new one whole. rf.mu must be
// held.
func (rf *Store) compactLocked(now time.Time) error {
	rf.rv.Sweep(now)
	tmp := rf.path + ".tmp"
	f, size, err := writeRevocationSnapshot(tmp, rf.rv, now)
	if err == nil {
		if err = os.Rename(tmp, rf.path); err != nil {
			_ = f.Close()
		}
	}
	if err != nil {
		_ = os.Remove(tmp)
		// The file is as it was: still good to append to unless it was
		// dirty already.
		rf.err = fmt.Errorf("filestore: rewriting the revocation file: %w", err)
		return rf.err
	}
	_ = rf.f.Close() // read or written through, and synced
	rf.f, rf.size, rf.live = f, size, size
	if err := syncDir(filepath.Dir(rf.path)); err != nil {
		// After a crash the path may name the old file, which lacks what
		// would be appended to the new one: rewrite again first.
		return rf.fail(fmt.Errorf("filestore: syncing the directory of the revocation file: %w", err))
	}
	rf.dirty, rf.err = false, nil
	return nil
}

// writeRevocationSnapshot writes a revocation file holding what rv holds
// at now to path, and syncs it. It returns the file, open for appending,
// and its size.
func writeRevocationSnapshot(path string, rv *revocation.Replica, now time.Time) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, 0, err
	}
	w := bufio.NewWriter(f)
	size := int64(0)
	write := func(b []byte) bool {
		if err == nil {
			var n int
			n, err = w.Write(b)
			size += int64(n)
		}
		return err == nil
	}
	write(append([]byte(revocationFileMagic), revocationFileVersion))
	var rec []byte
	rv.Range(func(subject string, r revocation.Revoked) bool {
		// Sweep drops subjects wholly expired; this drops the expired
		// entries of the others.
		if r = r.Expire(now); r.IsZero() {
			return true
		}
		rec = appendRevocationRecord(rec[:0], subject, r)
		return write(rec)
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		_ = f.Close()
		return nil, 0, err
	}
	return f, size, nil
}

// syncDir makes the entries of dir, a rename into it, durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		// A directory cannot be opened for syncing there, and NTFS
		// journals the rename itself.
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Check implements cookiesession.RevocationStore, from memory.
func (rf *Store) Check(subject string, id revocation.SessionID, generation uint64, now time.Time) error {
	return rf.rv.Check(subject, id, generation, now)
}

// Generation implements cookiesession.RevocationStore, from memory.
func (rf *Store) Generation(subject string) (uint64, int) {
	return rf.rv.Generation(subject)
}

// Health reports Healthy while every revocation is stored; Degraded, with
// the cause, after one could not be written (it is enforced all the same,
// and the next write that succeeds restores Healthy), or once the file was
// removed, replaced or truncated under the Store (the next Revoke, or
// Close, writes it again from memory); Down, once closed.
func (rf *Store) Health() (revocation.Health, error) {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if rf.f == nil {
		return revocation.Down, errStoreClosed
	}
	rf.checkFileLocked()
	if rf.err != nil {
		return revocation.Degraded, rf.err
	}
	return revocation.Healthy, nil
}

// Len returns the number of entries held in memory: a generation or a
// session id each, as revocation.Replica.Len counts them.
func (rf *Store) Len() int { return rf.rv.Len() }

// Close closes the file, first rewriting it if a write failed since the
// last rewrite, so that what was enforced but not stored is saved if it
// can be. Check and Generation still answer afterwards; Revoke returns an
// error. Closing twice does nothing.
func (rf *Store) Close() error {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if rf.f == nil {
		return nil
	}
	var err error
	if rf.checkFileLocked(); rf.dirty {
		err = rf.compactLocked(time.Now())
	}
	if cerr := rf.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("filestore: closing the revocation file: %w", rf.pathErr(cerr))
	}
	// After the file: another Store may open it once this one is done.
	_ = rf.lock.Close()
	rf.f = nil
	return err
}
