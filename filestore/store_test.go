package filestore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/filestore"
	"github.com/ce967478/cookiesession/revocation"
)

// rfUser is the session data of the revocation file tests: a signed-in
// user, the subject.
type rfUser struct{ User string }

// rfKeys seals the tests' cookies: the same keys before and after a
// restart, as a deployment keeps them.
var rfKeys, _ = cookiesession.NewKeyring(cookiesession.GenerateSecret())

// rfHeader is what a revocation file of this release starts with.
const rfHeader = "CSREVOKE\x01"

// rfOpen opens the revocation file at path, closed when the test ends.
func rfOpen(t *testing.T, path string) *filestore.Store {
	t.Helper()
	f, err := filestore.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// rfRestart closes f and opens its file again, as a new process would.
func rfRestart(t *testing.T, f *filestore.Store, path string) *filestore.Store {
	t.Helper()
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return rfOpen(t, path)
}

// rfApp is an application whose Manager revokes into store: POST
// /login?user= signs in, POST /logout destroys the session, POST
// /everywhere signs its user out everywhere, and GET /whoami answers
// "user|whether the cookie was refused as revoked".
func rfApp(t *testing.T, store cookiesession.RevocationStore) http.Handler {
	t.Helper()
	m, err := cookiesession.New[rfUser](rfKeys,
		cookiesession.WithSubject(func(d rfUser) string { return d.User }),
		cookiesession.WithRevocation(store),
		cookiesession.WithErrorHandler(func(_ http.ResponseWriter, _ *http.Request, err error) {
			t.Errorf("error handler: %v", err)
		}))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(_ http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		s.Renew()
		s.Data.User = r.FormValue("user")
	})
	mux.HandleFunc("POST /logout", func(_ http.ResponseWriter, r *http.Request) { m.Get(r).Destroy() })
	mux.HandleFunc("POST /everywhere", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		if err := m.SignOutEverywhere(r.Context(), s.Data.User); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.Destroy()
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		fmt.Fprintf(w, "%s|%v", s.Data.User, errors.Is(s.Err(), cookiesession.ErrRevoked))
	})
	return m.Handler(mux)
}

// rfDo sends a request with cookies, and returns the body and the cookies
// the response set.
func rfDo(t *testing.T, h http.Handler, method, target string, cookies []*http.Cookie) (string, []*http.Cookie) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 400 {
		t.Fatalf("%s %s: status %d: %s", method, target, rec.Code, rec.Body)
	}
	return rec.Body.String(), rec.Result().Cookies()
}

// rfSignIn signs user in and returns the session's cookies.
func rfSignIn(t *testing.T, h http.Handler, user string) []*http.Cookie {
	t.Helper()
	_, cookies := rfDo(t, h, "POST", "/login?user="+user, nil)
	if len(cookies) == 0 {
		t.Fatal("signing in set no cookie")
	}
	return cookies
}

// rfWhoami returns what GET /whoami answers with cookies.
func rfWhoami(t *testing.T, h http.Handler, cookies []*http.Cookie) string {
	t.Helper()
	body, _ := rfDo(t, h, "GET", "/whoami", cookies)
	return body
}

// A session destroyed, or signed out everywhere, stays refused after the
// process restarts: the issue this store answers.
func TestSurvivesRestart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// end is the request that ends the phone's session.
		end string
		// laptop is what the laptop, signed in as the same user, sees
		// after the restart.
		laptop string
	}{
		{name: "destroy", end: "/logout", laptop: "ada|false"},
		{name: "sign out everywhere", end: "/everywhere", laptop: "|true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "revocations.db")
			store := rfOpen(t, path)
			h := rfApp(t, store)
			phone, laptop, bob := rfSignIn(t, h, "ada"), rfSignIn(t, h, "ada"), rfSignIn(t, h, "bob")
			if got := rfWhoami(t, h, phone); got != "ada|false" {
				t.Fatalf("before the sign-out, the phone's cookie gives %q", got)
			}
			rfDo(t, h, "POST", tt.end, phone)
			if got := rfWhoami(t, h, phone); got != "|true" {
				t.Fatalf("before the restart, a copy of the ended cookie gives %q, want it refused as revoked", got)
			}

			store = rfRestart(t, store, path)
			h = rfApp(t, store)
			if got := rfWhoami(t, h, phone); got != "|true" {
				t.Errorf("after the restart, a copy of the ended cookie gives %q, want it refused as revoked", got)
			}
			if got := rfWhoami(t, h, laptop); got != tt.laptop {
				t.Errorf("after the restart, the laptop's cookie gives %q, want %q", got, tt.laptop)
			}
			if got := rfWhoami(t, h, bob); got != "bob|false" {
				t.Errorf("after the restart, another user's cookie gives %q", got)
			}
			// The raised generation was kept: signing in again works.
			if got := rfWhoami(t, h, rfSignIn(t, h, "ada")); got != "ada|false" {
				t.Errorf("signing in again after the restart gives %q", got)
			}
			if h, err := store.Health(); h != revocation.Healthy || err != nil {
				t.Errorf("Health: %v, %v; want healthy", h, err)
			}
		})
	}
}

// rfRevoked revokes one session, live for an hour.
func rfRevoked(id revocation.SessionID) revocation.Revoked {
	return revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: id, Until: time.Now().Add(time.Hour)}}}
}

// rfID returns a session id made of b.
func rfID(b byte) revocation.SessionID {
	var id revocation.SessionID
	for i := range id {
		id[i] = b
	}
	return id
}

// rfRefused reports whether store refuses subject's session id as revoked.
func rfRefused(store cookiesession.RevocationStore, subject string, id revocation.SessionID) bool {
	return errors.Is(store.Check(subject, id, 0, time.Now()), cookiesession.ErrRevoked)
}

// A crash while a record is appended leaves a torn tail: the next open
// keeps every whole record, drops the rest, and the file takes new
// revocations as before.
func TestTornTail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// damage changes the file, of which the last record runs from
		// start to end.
		damage func(t *testing.T, path string, start, end int64)
		// lastKept is whether the last record survives.
		lastKept bool
	}{
		{name: "cut mid-record", lastKept: false, damage: func(t *testing.T, path string, start, end int64) {
			rfTruncate(t, path, start+(end-start)/2)
		}},
		{name: "cut after the length", lastKept: false, damage: func(t *testing.T, path string, start, _ int64) {
			rfTruncate(t, path, start+1)
		}},
		{name: "cut before the checksum ends", lastKept: false, damage: func(t *testing.T, path string, _, end int64) {
			rfTruncate(t, path, end-1)
		}},
		{name: "checksum wrong", lastKept: false, damage: func(t *testing.T, path string, _, end int64) {
			rfFlip(t, path, end-1)
		}},
		{name: "payload corrupt", lastKept: false, damage: func(t *testing.T, path string, start, end int64) {
			rfFlip(t, path, start+(end-start)/2)
		}},
		{name: "zeros after the last record", lastKept: true, damage: func(t *testing.T, path string, _, _ int64) {
			rfAppend(t, path, make([]byte, 40))
		}},
		{name: "a huge length appended", lastKept: true, damage: func(t *testing.T, path string, _, _ int64) {
			rfAppend(t, path, binary.AppendUvarint(nil, 1<<62))
		}},
		{name: "cut within a two-byte length", lastKept: true, damage: func(t *testing.T, path string, _, _ int64) {
			// A record of more than 127 bytes, cut at a page boundary
			// just after its first byte.
			rfAppend(t, path, binary.AppendUvarint(nil, 300)[:1])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "revocations.db")
			store := rfOpen(t, path)
			ctx := context.Background()
			if err := store.Revoke(ctx, "ada", rfRevoked(rfID(1))); err != nil {
				t.Fatal(err)
			}
			start := rfSize(t, path)
			if err := store.Revoke(ctx, "bob", rfRevoked(rfID(2))); err != nil {
				t.Fatal(err)
			}
			end := rfSize(t, path)
			if err := store.Close(); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, path, start, end)

			store = rfOpen(t, path)
			if !rfRefused(store, "ada", rfID(1)) {
				t.Error("a whole record before the damage was lost")
			}
			if got := rfRefused(store, "bob", rfID(2)); got != tt.lastKept {
				t.Errorf("the last record kept: %v, want %v", got, tt.lastKept)
			}
			if h, err := store.Health(); h != revocation.Healthy || err != nil {
				t.Errorf("Health: %v, %v; want healthy", h, err)
			}
			if err := store.Revoke(ctx, "cy", rfRevoked(rfID(3))); err != nil {
				t.Fatal(err)
			}
			store = rfRestart(t, store, path)
			if !rfRefused(store, "ada", rfID(1)) || !rfRefused(store, "cy", rfID(3)) {
				t.Error("after the repair, a revocation was lost")
			}
			want := 2
			if tt.lastKept {
				want = 3
			}
			if got := store.Len(); got != want {
				t.Errorf("Len %d, want %d", got, want)
			}
		})
	}
}

func rfSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func rfTruncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// rfFlip flips the bits of the byte at off.
func rfFlip(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0xff
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func rfAppend(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// rfRecord is the record of subject's state r, as the file holds it.
func rfRecord(subject string, r revocation.Revoked) []byte {
	payload := binary.AppendUvarint(nil, uint64(len(subject)))
	payload = append(payload, subject...)
	payload, _ = r.AppendBinary(payload)
	b := binary.AppendUvarint(nil, uint64(len(payload)))
	b = append(b, payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)))
}

// rfRecords reads the file at path, which must hold a header and whole
// records only, and returns each subject's state.
func rfRecords(t *testing.T, path string) map[string]revocation.Revoked {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte(rfHeader)) {
		t.Fatalf("the file starts with %q", b[:min(len(b), 16)])
	}
	b = b[len(rfHeader):]
	out := map[string]revocation.Revoked{}
	for len(b) > 0 {
		size, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < size+4 {
			t.Fatalf("a torn record in a file just written: %q", b)
		}
		payload := b[k : k+int(size)]
		if crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)) != binary.LittleEndian.Uint32(b[k+int(size):]) {
			t.Fatal("a record with a bad checksum in a file just written")
		}
		slen, j := binary.Uvarint(payload)
		subject := string(payload[j : j+int(slen)])
		var r revocation.Revoked
		if err := r.UnmarshalBinary(payload[j+int(slen):]); err != nil {
			t.Fatal(err)
		}
		out[subject] = out[subject].Merge(r)
		b = b[k+int(size)+4:]
	}
	return out
}

// Opening a file rewrites it with the live entries only: those expired
// since they were written are dropped, whole subjects or some of their
// sessions, and the rest kept.
func TestCompactsOnOpen(t *testing.T) {
	t.Parallel()
	now := time.Now()
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	path := filepath.Join(t.TempDir(), "revocations.db")
	file := []byte(rfHeader)
	file = append(file, rfRecord("ada", revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: rfID(1), Until: future}}})...)
	file = append(file, rfRecord("gone", revocation.Revoked{Generation: 7, GenerationUntil: past,
		Sessions: []revocation.RevokedSession{{ID: rfID(2), Until: past}}})...)
	file = append(file, rfRecord("cy", revocation.Revoked{Sessions: []revocation.RevokedSession{
		{ID: rfID(3), Until: past}, {ID: rfID(4), Until: future}}})...)
	// A later state of ada's, as Revoke appends it: both merge.
	file = append(file, rfRecord("ada", revocation.Revoked{Sessions: []revocation.RevokedSession{
		{ID: rfID(1), Until: future}, {ID: rfID(5), Until: future}}})...)
	file = append(file, rfRecord("dee", revocation.Revoked{Generation: 9, GenerationUntil: future})...)
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}

	store := rfOpen(t, path)
	if got := store.Len(); got != 4 {
		t.Errorf("Len %d, want 4: ada's two sessions, cy's live one and dee's generation", got)
	}
	got := rfRecords(t, path)
	want := map[string]revocation.Revoked{
		"ada": {Sessions: []revocation.RevokedSession{{ID: rfID(1), Until: future}, {ID: rfID(5), Until: future}}},
		"cy":  {Sessions: []revocation.RevokedSession{{ID: rfID(4), Until: future}}},
		"dee": {Generation: 9, GenerationUntil: future},
	}
	if len(got) != len(want) {
		t.Errorf("the rewritten file holds %v, want %v", got, want)
	}
	for subject, w := range want {
		if !got[subject].Equal(w) {
			t.Errorf("the rewritten file holds %+v for %s, want %+v", got[subject], subject, w)
		}
	}
	for _, c := range []struct {
		subject string
		id      revocation.SessionID
		want    bool
	}{{"ada", rfID(1), true}, {"ada", rfID(5), true}, {"cy", rfID(4), true}, {"cy", rfID(3), false}, {"gone", rfID(2), false}} {
		if got := rfRefused(store, c.subject, c.id); got != c.want {
			t.Errorf("%s's session %v refused: %v, want %v", c.subject, c.id, got, c.want)
		}
	}
	if err := store.Check("dee", rfID(6), 8, now); !errors.Is(err, cookiesession.ErrRevoked) {
		t.Errorf("dee's generation was lost: Check gives %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the rewritten file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary file is left: %v", err)
	}
}

// A file that grows with revocations is rewritten as it goes, and keeps
// every live entry.
func TestCompactsAsItGrows(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "revocations.db")
	store := rfOpen(t, path)
	ctx := context.Background()
	// Long subjects fill the file with few fsyncs.
	subject := func(i int) string { return fmt.Sprintf("%04d%s", i, strings.Repeat("x", 2000)) }
	const subjects, rounds = 40, 4
	appended := int64(0)
	for round := range rounds {
		for i := range subjects {
			before := rfSize(t, path)
			if err := store.Revoke(ctx, subject(i), rfRevoked(rfID(byte(round)))); err != nil {
				t.Fatal(err)
			}
			appended += max(rfSize(t, path)-before, 0)
		}
	}
	grown := rfSize(t, path)
	store = rfRestart(t, store, path)
	live := rfSize(t, path) // just rewritten: the live set
	if grown > 2*live+64<<10+4<<10 {
		t.Errorf("the file grew to %d bytes for a live set of %d", grown, live)
	}
	if appended <= grown {
		t.Errorf("no rewrite while revoking: %d bytes appended, the file holds %d", appended, grown)
	}
	if got := store.Len(); got != subjects*rounds {
		t.Errorf("Len %d after the restart, want %d", got, subjects*rounds)
	}
	// Below twice the live set, revocations are appended: the file is
	// not rewritten every 64 KiB.
	before, _ := os.Stat(path)
	for i := range subjects {
		if err := store.Revoke(ctx, subject(i), rfRevoked(rfID(rounds))); err != nil {
			t.Fatal(err)
		}
	}
	if after, _ := os.Stat(path); !os.SameFile(before, after) || after.Size()-before.Size() < 64<<10 {
		t.Errorf("a file of %d bytes, all live, was rewritten within 64 KiB of appends (%d bytes)", before.Size(), after.Size()-before.Size())
	}
	for i := range subjects {
		for round := range rounds {
			if !rfRefused(store, subject(i), rfID(byte(round))) {
				t.Fatalf("subject %d's session %d was lost", i, round)
			}
		}
	}
}

// A file that is not a revocation file, or of an unknown version, is
// refused with an error naming it, and left as it is. One cut short in its
// header is a creation that crashed: it holds nothing, and is rewritten.
func TestHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		wantErr bool
	}{
		{name: "empty", content: ""},
		{name: "header only", content: rfHeader},
		{name: "header cut short", content: rfHeader[:3]},
		{name: "magic only", content: rfHeader[:len(rfHeader)-1]},
		{name: "text", content: "user=ada\n", wantErr: true},
		{name: "another format", content: "SQLite format 3\x00", wantErr: true},
		{name: "one byte", content: "\x00", wantErr: true},
		{name: "unknown version", content: rfHeader[:len(rfHeader)-1] + "\x02" + "records", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "revocations.db")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := filestore.Open(path)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer f.Close()
				if b, _ := os.ReadFile(path); string(b) != rfHeader || f.Len() != 0 {
					t.Errorf("the file holds %q and %d entries, want an empty revocation file", b, f.Len())
				}
				return
			}
			if err == nil {
				f.Close()
				t.Fatal("Open opened it")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("the error does not name the file: %v", err)
			}
			if b, _ := os.ReadFile(path); string(b) != tt.content {
				t.Errorf("the file was changed to %q", b)
			}
		})
	}
}

// A file in a directory that does not exist cannot be opened: the error
// says so at start-up, rather than at the first sign-out.
func TestOpenError(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing", "revocations.db")
	if f, err := filestore.Open(path); err == nil {
		f.Close()
		t.Fatal("Open opened a file in a missing directory")
	} else if !strings.Contains(err.Error(), path) {
		t.Errorf("the error does not name the file: %v", err)
	}
}

// rfBigSubject is a subject that fills the file with few fsyncs.
func rfBigSubject(i int) string { return fmt.Sprintf("%04d%s", i, strings.Repeat("x", 4000)) }

// When the file cannot be written (its directory removed), each
// revocation is still enforced, Revoke returns an error and Health says
// Degraded with the cause; once it can be, Health is Healthy again and
// nothing was lost.
func TestDegraded(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "revocations.db")
	store := rfOpen(t, path)
	ctx := context.Background()
	if err := store.Revoke(ctx, "ada", rfRevoked(rfID(1))); err != nil {
		t.Fatal(err)
	}
	if h, err := store.Health(); h != revocation.Healthy || err != nil {
		t.Fatalf("Health: %v, %v; want healthy", h, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if h, err := store.Health(); h != revocation.Degraded || err == nil {
		t.Fatalf("Health with the directory gone: %v, %v; want degraded, with the cause", h, err)
	}
	const n = 3
	for i := range n {
		if err := store.Revoke(ctx, fmt.Sprint("user", i), rfRevoked(rfID(2))); err == nil {
			t.Fatalf("Revoke %d succeeded with the directory gone", i)
		}
		if !rfRefused(store, fmt.Sprint("user", i), rfID(2)) {
			t.Fatalf("user%d's revocation is not enforced while degraded", i)
		}
	}
	if h, err := store.Health(); h != revocation.Degraded || err == nil {
		t.Fatalf("Health: %v, %v; want degraded, with the cause", h, err)
	}

	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := store.Revoke(ctx, "last", rfRevoked(rfID(3))); err != nil {
		t.Fatal(err)
	}
	if h, err := store.Health(); h != revocation.Healthy || err != nil {
		t.Errorf("Health once the directory is back: %v, %v; want healthy", h, err)
	}
	store = rfRestart(t, store, path)
	if got, want := store.Len(), n+2; got != want {
		t.Errorf("Len %d after the restart, want %d", got, want)
	}
	if !rfRefused(store, "ada", rfID(1)) || !rfRefused(store, "user0", rfID(2)) || !rfRefused(store, "last", rfID(3)) {
		t.Error("a revocation was lost")
	}
}

// Revocations made at once from many goroutines are all stored.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "revocations.db")
	store := rfOpen(t, path)
	const workers, each = 8, 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if err := store.Revoke(context.Background(), fmt.Sprint("user", w), rfRevoked(rfID(byte(i)))); err != nil {
					t.Error(err)
				}
				rfRefused(store, fmt.Sprint("user", (w+1)%workers), rfID(byte(i)))
				store.Health()
			}
		})
	}
	wg.Wait()
	store = rfRestart(t, store, path)
	if got := store.Len(); got != workers*each {
		t.Errorf("Len %d after the restart, want %d", got, workers*each)
	}
}

// After Close, Revoke fails and Health is Down; what is held is still
// enforced, and closing again does nothing.
func TestClose(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "revocations.db")
	store := rfOpen(t, path)
	if err := store.Revoke(context.Background(), "ada", rfRevoked(rfID(1))); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Errorf("the second Close: %v", err)
	}
	if err := store.Revoke(context.Background(), "bob", rfRevoked(rfID(2))); err == nil {
		t.Error("Revoke after Close succeeded")
	}
	if h, err := store.Health(); h != revocation.Down || err == nil {
		t.Errorf("Health after Close: %v, %v; want down", h, err)
	}
	if !rfRefused(store, "ada", rfID(1)) {
		t.Error("a revocation is not enforced after Close")
	}
	// The file is unchanged by what came after Close.
	if got := rfRecords(t, path); len(got) != 1 {
		t.Errorf("the file holds %v", got)
	}
}

// Two Stores on one file lose revocations without a word: the second's
// rewrite on Open renames a new file over the first's, which then appends
// to a file no one reads again. The second Open fails instead, naming the
// file, until the first is closed; nothing the first stored is lost.
func TestOneStorePerFile(t *testing.T) {
	t.Parallel()
	switch runtime.GOOS {
	case "darwin", "dragonfly", "freebsd", "linux", "netbsd", "openbsd":
	default:
		t.Skipf("no flock on %s: one process per file is the operator's task", runtime.GOOS)
	}
	path := filepath.Join(t.TempDir(), "revocations.db")
	first := rfOpen(t, path)
	ctx := context.Background()
	start := time.Now()
	second, err := filestore.Open(path)
	if err == nil {
		// As a second process would go on: the first acknowledges a
		// revocation, and both stop.
		revokeErr := first.Revoke(ctx, "ada", rfRevoked(rfID(1)))
		_ = second.Close()
		store := rfRestart(t, first, path)
		t.Fatalf("a second Open of the file succeeded; a revocation the first then stored (%v) is refused after a restart: %v",
			revokeErr, rfRefused(store, "ada", rfID(1)))
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "another Store has it open") {
		t.Errorf("the error does not name the file and why: %v", err)
	}
	// Open waits about a second for a lock held, as a child process
	// holds it from fork to exec, before it gives up.
	if waited := time.Since(start); waited < time.Second/2 {
		t.Errorf("the second Open gave up after %v; want about a second's wait", waited)
	}
	if err := first.Revoke(ctx, "ada", rfRevoked(rfID(1))); err != nil {
		t.Fatal(err)
	}
	store := rfRestart(t, first, path)
	if !rfRefused(store, "ada", rfID(1)) {
		t.Error("a revocation was lost")
	}
}

// Damage before the end of the file is not what a crash leaves: records
// that were acknowledged may follow it. The file is refused, and left as
// it is, rather than truncated.
func TestDamageIsRefused(t *testing.T) {
	t.Parallel()
	for name, damage := range map[string]func(t *testing.T, path string, first int64){
		"a record within": func(t *testing.T, path string, first int64) { rfFlip(t, path, first-2) },
		// ada's length, read with its first byte flipped, runs past the
		// end of the file, as a torn record's does: bob's record follows.
		"a record's length": func(t *testing.T, path string, _ int64) { rfFlip(t, path, int64(len(rfHeader))) },
		"garbage after": func(t *testing.T, path string, _ int64) {
			rfAppend(t, path, []byte("\x05\x00garbage that is no record"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "revocations.db")
			store := rfOpen(t, path)
			ctx := context.Background()
			if err := store.Revoke(ctx, "ada", rfRevoked(rfID(1))); err != nil {
				t.Fatal(err)
			}
			first := rfSize(t, path)
			if err := store.Revoke(ctx, "bob", rfRevoked(rfID(2))); err != nil {
				t.Fatal(err)
			}
			if err := store.Close(); err != nil {
				t.Fatal(err)
			}
			damage(t, path, first)
			before := rfSize(t, path)
			if _, err := filestore.Open(path); err == nil || !strings.Contains(err.Error(), "is damaged at byte") {
				t.Fatalf("Open: %v", err)
			}
			if rfSize(t, path) != before {
				t.Error("the damaged file was changed")
			}
		})
	}
}

// rfFrame frames payload as a record, its checksum right: what only a
// bug or a later release writes, never a crash.
func rfFrame(payload []byte) []byte {
	b := binary.AppendUvarint(nil, uint64(len(payload)))
	b = append(b, payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)))
}

// More damage that a crash cannot leave, each with an acknowledged record
// after it, or a record read with a wrong length (which may hide those
// that follow): the file is refused, and left as it is.
func TestMoreDamageIsRefused(t *testing.T) {
	t.Parallel()
	bob := rfRecord("bob", rfRevoked(rfID(2)))
	revoked, _ := rfRevoked(rfID(1)).MarshalBinary()
	later := append([]byte{2}, revoked[1:]...) // another version of the binary form
	long := strings.Repeat("a", 200)           // a record of more than 127 bytes
	tests := map[string][]byte{
		"a whole record that is no revocation": append(rfFrame(append([]byte{3, 'a', 'd', 'a'}, later...)), bob...),
		"a subject longer than its record":     append(rfFrame(append([]byte{99, 'a', 'd', 'a'}, revoked...)), bob...),
		// bob's length, its bits flipped, runs past the end of the file
		// as a torn record's does; read with its length, the record is
		// whole.
		"the last record's length": func() []byte {
			b := rfRecord("ada", rfRevoked(rfID(1)))
			n := len(b)
			b = append(b, bob...)
			b[n] ^= 0xff
			return b
		}(),
		// The same of a record whose length takes two bytes: the second
		// flipped makes it three, running past the end.
		"a two-byte length": func() []byte {
			b := append(rfRecord(long, rfRevoked(rfID(1))), bob...)
			b[1] ^= 0xff
			return b
		}(),
	}
	for name, records := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "revocations.db")
			content := append([]byte(rfHeader), records...)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			if f, err := filestore.Open(path); err == nil || !strings.Contains(err.Error(), "is damaged at byte") {
				if err == nil {
					f.Close()
				}
				t.Fatalf("Open: %v", err)
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, content) {
				t.Error("the damaged file was changed")
			}
		})
	}
}

// A revocation file removed, replaced or truncated under a running Store
// (by hand, a clean-up job, a restored backup) held what a restart would
// read: appending to the open file, gone from the path or cut short,
// acknowledged every revocation and lost them all at the next start, or
// refused to start. Health says so instead, and the next Revoke, or Close,
// writes the file again from memory: nothing is lost.
func TestFileChangedUnderTheStore(t *testing.T) {
	t.Parallel()
	changes := map[string]func(t *testing.T, path, old string){
		"removed":   func(t *testing.T, path, _ string) { rfRemove(t, path) },
		"replaced":  func(t *testing.T, path, old string) { rfRename(t, old, path) },
		"truncated": func(t *testing.T, path, _ string) { rfTruncate(t, path, 0) },
		// As long as the file, and the same, but not the file open here.
		"replaced by a copy": func(t *testing.T, path, _ string) {
			rfCopy(t, path, path+".copy")
			rfRename(t, path+".copy", path)
		},
		"appended to": func(t *testing.T, path, _ string) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString("not a record"); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, change := range changes {
		// Revoke or Close repairs the file whether or not Health looked
		// at it first.
		for _, repair := range []string{"Revoke", "Close", "Revoke unlooked", "Close unlooked"} {
			t.Run(name+"/"+repair, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				path := filepath.Join(dir, "revocations.db")
				store := rfOpen(t, path)
				ctx := context.Background()
				if err := store.Revoke(ctx, "ada", rfRevoked(rfID(1))); err != nil {
					t.Fatal(err)
				}
				old := filepath.Join(dir, "backup.db") // a copy from before bob's revocation
				rfCopy(t, path, old)
				if err := store.Revoke(ctx, "bob", rfRevoked(rfID(2))); err != nil {
					t.Fatal(err)
				}
				change(t, path, old)
				if !strings.HasSuffix(repair, "unlooked") {
					if h, err := store.Health(); h != revocation.Degraded || err == nil || !strings.Contains(err.Error(), path) {
						t.Errorf("Health once the file was %s: %v, %v; want degraded, naming the file", name, h, err)
					}
				}
				want := map[string]revocation.SessionID{"ada": rfID(1), "bob": rfID(2)}
				if strings.HasPrefix(repair, "Revoke") {
					if err := store.Revoke(ctx, "cy", rfRevoked(rfID(3))); err != nil {
						t.Fatalf("Revoke once the file was %s: %v", name, err)
					}
					if h, err := store.Health(); h != revocation.Healthy || err != nil {
						t.Errorf("Health once the file was written again: %v, %v; want healthy", h, err)
					}
					want["cy"] = rfID(3)
				}
				store = rfRestart(t, store, path)
				for subject, id := range want {
					if !rfRefused(store, subject, id) {
						t.Errorf("%s's revocation was lost", subject)
					}
				}
			})
		}
	}
}

func rfRemove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func rfRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func rfCopy(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
