package cookiesession_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
)

// The catalogue of hostile cookies: each row is one attack, or one kind of
// garbage a server meets in the wild, sent through the middleware the way
// a request would bring it. Whatever the cookie, the handler must get a new,
// empty session whose Err names the right sentinel, the response must not
// be a 5xx, the cookies that did not open must be deleted, and refusing a
// huge header must not cost memory in proportion to it.

// hostileFixture holds the Managers the rows are sent to and genuine
// cookies the rows are made from. Every genuine cookie opens (checked by
// newHostileFixture), so each row differs from a working cookie only by
// its attack.
type hostileFixture struct {
	clock *testClock
	// m is a default Manager (one key, testSecret(1)); big allows three
	// chunks; idle has a one-hour idle timeout; scFormat seals in the
	// securecookie format; migrating takes over gorilla/sessions cookies.
	m, big, idle, scFormat, migrating *Manager[user]
	// names are each Manager's session cookies: the main one, then the
	// chunks it may write.
	names map[*Manager[user]][]string

	good      string            // m's cookie value for a small session
	bigA      map[string]string // big's three chunk cookies of one session
	bigB      map[string]string // and of another, of the same size
	otherName string            // sealed with m's keys for the cookie "other"
	retired   string            // sealed by a key that m's ring no longer holds
	scGood    string            // scFormat's cookie value
}

func newHostileFixture(t *testing.T) *hostileFixture {
	t.Helper()
	clock := gorillaClock() // its gorilla cookies are stamped with the real time
	f := &hostileFixture{
		clock:     clock,
		m:         newTestManager[user](t, clock),
		big:       newTestManager[user](t, clock, WithPath(longPath), WithMaxSize(7600)),
		idle:      newTestManager[user](t, clock, WithIdleTimeout(time.Hour)),
		scFormat:  newTestManager[user](t, clock, WithGorillaFormat()),
		migrating: newTestManager[user](t, clock, WithGorillaMigration(gorillaStore, convertUser)),
	}
	f.names = map[*Manager[user]][]string{}
	for _, m := range []*Manager[user]{f.m, f.big, f.idle, f.scFormat, f.migrating} {
		f.names[m] = sessionCookieNames(t, m)
	}
	cookies := func(m *Manager[user], data user) map[string]string {
		b := newBrowser(t)
		b.do(handle(m, func(s *Session[user]) { s.Data = data }), "GET", "/")
		return b.cookies
	}
	f.good = cookies(f.m, user{Name: "ada", Cart: []string{"tea"}, N: 1})["session"]
	f.bigA = cookies(f.big, bigData(7000))
	other := bigData(7000)
	other.N = 2
	f.bigB = cookies(f.big, other)
	otherApp := newTestManager[user](t, clock, WithName("other"))
	f.otherName = cookies(otherApp, user{Name: "eve"})["other"]
	oldApp, err := New[user](mustKeyring(t, testSecret(7)), WithClock(clock.Now), WithName(FallbackName), quiet)
	if err != nil {
		t.Fatal(err)
	}
	f.retired = cookies(oldApp, user{Name: "eve"})["session"]
	f.scGood = cookies(f.scFormat, user{Name: "ada"})["session"]

	for _, c := range []struct {
		m      *Manager[user]
		header string
	}{
		{f.m, "session=" + f.good},
		{f.big, cookieHeader(f.bigA)},
		{f.big, cookieHeader(f.bigB)},
		{otherApp, "other=" + f.otherName},
		{oldApp, "session=" + f.retired},
		{f.scFormat, "session=" + f.scGood},
		{f.migrating, "session=" + gorillaCookie(t, "session", map[any]any{"name": "ada"}, gorillaHash, gorillaBlock)},
	} {
		if s := load(c.m, c.header); s.IsNew() {
			t.Fatalf("a genuine cookie of the fixture does not open: %v", s.Err())
		}
	}
	if len(f.bigA) != 3 || len(f.bigB) != 3 || len(f.bigA["session.1"]) != len(f.bigB["session.1"]) {
		t.Fatalf("the chunked sessions are not three chunks of equal sizes: %d, %d", len(f.bigA), len(f.bigB))
	}
	return f
}

// cookieHeader renders cookies as a Cookie header, main cookie first.
func cookieHeader(cookies map[string]string) string {
	parts := []string{"session=" + cookies["session"]}
	for i := 1; i < 16; i++ {
		name := fmt.Sprintf("session.%d", i)
		if v, ok := cookies[name]; ok {
			parts = append(parts, name+"="+v)
		}
	}
	return strings.Join(parts, "; ")
}

// flipBit flips bit 0 of byte i of a version-1 value (i < 0 counts from
// the end).
func flipBit(t testing.TB, value string, i int) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		t.Fatal(err)
	}
	if i < 0 {
		i += len(raw)
	}
	raw[i] ^= 1
	return base64.RawURLEncoding.EncodeToString(raw)
}

// sealData seals data as m's keys would for the cookie "session", at the
// fixture's time, bypassing the serializer: a valid Contents around any
// payload, as only a key holder (or a bug) could make.
func (f *hostileFixture) sealData(t testing.TB, created, issued time.Time, data string) string {
	t.Helper()
	v, err := testKeys(t).Seal("session", Contents{Created: created, Issued: issued, Data: []byte(data)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// chunkTagSize is the length of the tag each chunk cookie's value starts
// with (then a dot): the last characters of the main cookie's part, which
// tie the chunks to it.
const chunkTagSize = 8

// retag gives chunk, a chunk cookie's value, the tag that main's chunks
// carry.
func retag(t testing.TB, chunk, main string) string {
	t.Helper()
	_, part, ok := strings.Cut(chunk, ".")
	if !ok || len(main) < chunkTagSize {
		t.Fatalf("not a chunk: %.20q", chunk)
	}
	_, first, _ := strings.Cut(main, ".")
	return first[len(first)-chunkTagSize:] + "." + part
}

// hostileRow is one entry of the catalogue.
type hostileRow struct {
	name   string
	m      *Manager[user] // the Manager the request goes to; nil: the default one
	header string         // the Cookie header the request brings
	// want is the sentinel Err must wrap; nil means that no cookie of the
	// Manager came (the session is new without an error, and nothing is
	// deleted).
	want error
	// maxAlloc, if set, bounds the bytes allocated while serving the
	// request, which is built beforehand.
	maxAlloc uint64
}

// The memory bounds. Refusing a 1 MB header must cost what refusing a
// small one does, beyond net/http's parsing: a few KB for the session, the
// context, the deleting Set-Cookie lines and an error message. Where a row's cookies pass the
// size checks and are assembled and opened, the bound adds the value
// (at most WithMaxSize bytes) and its decoding.
const (
	hostileRefusalAlloc = 8 << 10
	hostileOpenAlloc    = 32 << 10
)

func hostileRows(t *testing.T, f *hostileFixture) []hostileRow {
	now := f.clock.Now()
	good := f.good
	a, b := f.bigA, f.bigB
	mb := strings.Repeat("A", 1<<20)
	var unrelated strings.Builder // 1 MB of other cookies, fewer than net/http's limit of 3000
	for i := 0; unrelated.Len() < 1<<20; i++ {
		fmt.Fprintf(&unrelated, "pref%d=%s; ", i, strings.Repeat("x", 1000))
	}
	var thousand strings.Builder // a main cookie claiming 2 chunks, then 1000 chunk cookies of 1 KB
	thousand.WriteString("session=2." + good)
	for i := 1; i <= 1000; i++ {
		fmt.Fprintf(&thousand, "; session.%d=%s", i, strings.Repeat("B", 1000))
	}
	var thousandClaimed strings.Builder // the same, with the main cookie claiming 16 chunks
	thousandClaimed.WriteString("session=16." + strings.Repeat("A", 1000))
	for i := 1; i <= 1000; i++ {
		fmt.Fprintf(&thousandClaimed, "; session.%d=%s", i, strings.Repeat("B", 1000))
	}
	scRaw, err := base64.URLEncoding.DecodeString(f.scGood)
	if err != nil {
		t.Fatal(err)
	}
	scRaw[len(scRaw)-1] ^= 1 // the last byte of the MAC
	scTampered := base64.URLEncoding.EncodeToString(scRaw)
	foreignSC, err := New[user](mustKeyring(t, testSecret(8)), WithClock(f.clock.Now), WithGorillaFormat(), WithName(FallbackName), quiet)
	if err != nil {
		t.Fatal(err)
	}
	bf := newBrowser(t)
	bf.do(handle(foreignSC, func(s *Session[user]) { s.Data.Name = "eve" }), "GET", "/")
	foreignSCValue := bf.cookies["session"]
	wrongKeys := bytes.Repeat([]byte("W"), 32)

	return []hostileRow{
		// --- Tampering with a genuine value. ---

		// A bit flipped in the ciphertext: an attempt to edit the data
		// (say, a user id) without the key.
		{name: "flipped bit in the ciphertext", header: "session=" + flipBit(t, good, v1HeaderSize+2), want: ErrAuthentication},
		// A bit flipped in the Poly1305 tag: a forged tag.
		{name: "flipped bit in the tag", header: "session=" + flipBit(t, good, -1), want: ErrAuthentication},
		// A bit flipped in the nonce: replaying the ciphertext under
		// another nonce.
		{name: "flipped bit in the nonce", header: "session=" + flipBit(t, good, 1+keyIDSize+3), want: ErrAuthentication},
		// A bit flipped in the key id: pointing the value at another key.
		{name: "flipped bit in the key id", header: "session=" + flipBit(t, good, 1), want: ErrUnknownKey},
		// A bit flipped in the version byte: a downgrade to a format that
		// does not exist.
		{name: "flipped bit in the version", header: "session=" + flipBit(t, good, 0), want: ErrMalformed},
		// The value cut short by 3 bytes (4 characters): a truncated tag,
		// as a proxy limiting header sizes might leave it.
		{name: "truncated value", header: "session=" + good[:len(good)-4], want: ErrAuthentication},
		// The value cut below the shortest sealed value: nothing to decrypt.
		{name: "truncated below a header", header: "session=" + good[:20], want: ErrMalformed},
		// Bytes appended to a genuine value: padding an attack payload on.
		{name: "extended value", header: "session=" + good + "AAAA", want: ErrAuthentication},

		// --- Chunks. ---

		// The second and third chunks swapped: each is genuine, the order
		// is not.
		{name: "swapped chunks", m: f.big, header: cookieHeader(map[string]string{
			"session": a["session"], "session.1": a["session.2"], "session.2": a["session.1"]}), want: ErrAuthentication},
		// Chunks of two sessions mixed: building a session out of parts of
		// others (both genuine, of equal sizes). Each chunk carries its
		// main cookie's tag, so another session's chunk is not taken.
		{name: "chunks of two sessions mixed", m: f.big, header: cookieHeader(map[string]string{
			"session": a["session"], "session.1": b["session.1"], "session.2": a["session.2"]}), want: ErrMalformed},
		// One session's main cookie with another's chunks: keeping the
		// header (and the chunk count) of one and the body of another.
		{name: "main cookie of one session, chunks of another", m: f.big, header: cookieHeader(map[string]string{
			"session": a["session"], "session.1": b["session.1"], "session.2": b["session.2"]}), want: ErrMalformed},
		// A genuine chunk with its tag replaced by the main cookie's:
		// the tag is not authenticated on its own, the whole value is.
		{name: "foreign chunk with the tag copied", m: f.big, header: cookieHeader(map[string]string{
			"session": a["session"], "session.1": retag(t, b["session.1"], a["session"]), "session.2": a["session.2"]}), want: ErrAuthentication},
		// A chunk missing: the browser dropped one, or an attacker removed
		// part of the value.
		{name: "missing chunk", m: f.big, header: cookieHeader(map[string]string{
			"session": a["session"], "session.2": a["session.2"]}), want: ErrMalformed},
		// Chunk cookies without the main one: the main cookie expired or
		// was deleted by a sibling application.
		{name: "chunks without the main cookie", m: f.big, header: "session.1=" + a["session.1"] + "; session.2=" + a["session.2"], want: ErrMalformed},
		// A genuine value presented as a chunk: moving a value between the
		// cookie names of one session.
		{name: "value moved to a chunk name", header: "session.1=" + good, want: ErrMalformed},
		// A chunk count of 99: more chunks than any Manager reads.
		{name: "chunk count of 99", header: "session=99." + good, want: ErrMalformed},
		// A chunk count of 0 and of 1: counts that chunking never writes.
		{name: "chunk count of 0", header: "session=0." + good, want: ErrMalformed},
		{name: "chunk count of 1", header: "session=1." + good, want: ErrMalformed},
		// A chunk count within the format's limit (16) but beyond what this
		// Manager's size cap allows (2).
		{name: "chunk count beyond the size cap", header: "session=16." + good, want: ErrTooLarge},
		// A genuine value made the first of 2 chunks, followed by 1000
		// chunk cookies of 1 KB each (1 MB): only the chunk the count asks
		// for is read, and the concatenation does not authenticate.
		{name: "1000 chunk cookies", header: thousand.String(), want: ErrAuthentication, maxAlloc: hostileOpenAlloc},
		// The same with the main cookie claiming 16 chunks: refused before
		// any chunk is concatenated.
		{name: "1000 chunk cookies, 16 claimed", header: thousandClaimed.String(), want: ErrTooLarge, maxAlloc: hostileRefusalAlloc},

		// --- Size. ---

		// A 1 MB cookie: memory exhaustion through the decoder.
		{name: "1 MB value", header: "session=" + mb, want: ErrTooLarge, maxAlloc: hostileRefusalAlloc},
		// A 1 MB second chunk behind a plausible first one: memory
		// exhaustion through reassembly.
		{name: "1 MB chunk", header: "session=2." + strings.Repeat("A", 4000) + "; session.1=" + mb, want: ErrTooLarge, maxAlloc: hostileRefusalAlloc},
		// 1 MB of other cookies before an invalid session cookie: the
		// search for the session's cookies must not copy the header.
		{name: "1 MB of other cookies, then a bad session", header: unrelated.String() + "session=AAAA", want: ErrMalformed, maxAlloc: hostileRefusalAlloc},
		// 1 MB of other cookies and no session: nothing to open, nothing to
		// delete, nothing allocated for the header.
		{name: "1 MB of other cookies only", header: unrelated.String(), want: nil, maxAlloc: hostileRefusalAlloc},

		// --- Encoding. ---

		// Characters outside base64url: garbage from another application
		// or a fuzzer.
		{name: "invalid base64", header: "session=" + strings.Repeat("!*", len(good)/2), want: ErrMalformed},
		// Padded base64: a value re-encoded by some middlebox.
		{name: "padded base64", header: "session=" + good + "==", want: ErrMalformed},
		// An empty value: what a deleting Set-Cookie leaves behind in a
		// browser that ignores Max-Age.
		{name: "empty value", header: "session=", want: ErrMalformed},
		// A name without "=" and value: net/http reads an empty value.
		{name: "no value at all", header: "session", want: ErrMalformed},
		// A tampered value in double quotes (RFC 6265 allows quoting; the
		// quotes are removed as net/http does), still refused.
		{name: "quoted tampered value", header: `session="` + flipBit(t, good, v1HeaderSize+2) + `"`, want: ErrAuthentication},
		// An unbalanced quote before a genuine value. net/http's parser
		// drops a value holding bytes RFC 6265 forbids (a lone quote,
		// controls, non-ASCII): the request carries no session cookie.
		{name: "unbalanced quote", header: `session="` + good, want: nil},
		// Empty quotes.
		{name: "empty quoted value", header: `session=""`, want: ErrMalformed},
		// Null bytes and control characters in front of a genuine value's
		// tail: parsers that stop at NUL, terminal escapes in logs.
		{name: "null bytes and control characters", header: "session=\x00\x01\x1b[2J\x7f" + good[8:], want: nil},
		// CR LF inside a genuine value (Go's base64 decoder skips line
		// breaks): header injection leftovers must not open.
		{name: "CR LF inside a value", header: "session=" + good[:20] + "\r\n" + good[20:], want: nil},
		// Non-ASCII bytes.
		{name: "non-ASCII value", header: "session=" + strings.Repeat("é", len(good)/2), want: nil},

		// --- Valid envelopes around bad payloads: only a key holder (or a
		// bug in an older release) makes these; the data must still be
		// refused rather than half-decoded. ---

		// Data that is not JSON.
		{name: "payload not JSON", header: "session=" + f.sealData(t, now, now, "not json"), want: ErrMalformed},
		// JSON of the wrong shape: a number where T has a string.
		{name: "payload of the wrong type", header: "session=" + f.sealData(t, now, now, `{"Name":42}`), want: ErrMalformed},
		// JSON of the wrong shape: an array where T is an object.
		{name: "payload an array", header: "session=" + f.sealData(t, now, now, `["ada"]`), want: ErrMalformed},
		// Truncated JSON.
		{name: "payload truncated JSON", header: "session=" + f.sealData(t, now, now, `{"Name":"ada"`), want: ErrMalformed},
		// JSON followed by more: smuggling a second document.
		{name: "payload with trailing data", header: "session=" + f.sealData(t, now, now, `{"Name":"ada"} {"Name":"root"}`), want: ErrMalformed},
		// No data at all.
		{name: "payload empty", header: "session=" + f.sealData(t, now, now, ""), want: ErrMalformed},

		// --- Binding to the cookie name, keys and time. ---

		// A value moved from another cookie name sealed with the same keys
		// (another application on the same keys, or a CSRF token cookie):
		// the name is authenticated.
		{name: "value moved between cookie names", header: "session=" + f.otherName, want: ErrAuthentication},
		// A value sealed by a key that has been retired: a cookie kept
		// since before a rotation, or sealed with a leaked, retired key.
		{name: "value from a retired key", header: "session=" + f.retired, want: ErrUnknownKey},
		// A value whose absolute lifetime is over: a captured cookie
		// replayed after its lifetime, whatever its own Max-Age said.
		{name: "expired lifetime", header: "session=" + f.sealData(t, now.Add(-DefaultMaxAge-time.Second), now.Add(-time.Hour), `{"Name":"ada"}`), want: ErrExpired},
		// A value idle for longer than the idle timeout: a cookie from an
		// abandoned browser.
		{name: "expired idle time", m: f.idle, header: "session=" + f.sealData(t, now.Add(-3*time.Hour), now.Add(-2*time.Hour), `{"Name":"ada"}`), want: ErrExpired},
		// A value issued beyond the clock-skew allowance in the future: an
		// instance with a wrong clock, or a key holder trying to outlive
		// the lifetime.
		{name: "issued in the future beyond ClockSkew", header: "session=" + f.sealData(t, now, now.Add(ClockSkew+time.Second), `{"Name":"ada"}`), want: ErrExpired},
		// Duplicate cookie names, none of which opens: cookie tossing from
		// a sibling subdomain or a more specific path, which browsers send
		// before the genuine cookie. (A genuine value among them wins:
		// TestSameNameCookies.) The first one's error is reported; the
		// deleting Set-Cookie targets the genuine cookie's own name. A
		// __Host- name prevents tossing.
		{name: "duplicate cookie names", header: "session=" + f.retired + "; session=" + tamper(good), want: ErrUnknownKey},
		// Duplicate chunk names, none of them the main cookie's: one of
		// another session, one without a tag, which is taken for a chunk
		// written before tags existed. (With the genuine chunk among them,
		// the session opens: TestCookieTossing.)
		{name: "duplicate chunk names", m: f.big, header: "session=" + a["session"] + "; session.1=" + b["session.1"] + "; session.1=x; session.2=" + a["session.2"], want: ErrAuthentication},

		// --- The other formats. ---

		// A value in the securecookie format sealed by a key of another
		// ring: that format names no key, so this is an authentication
		// failure, not an unknown key.
		{name: "securecookie format, foreign key", header: "session=" + foreignSCValue, want: ErrAuthentication},
		// A securecookie-format value with a flipped MAC bit.
		{name: "securecookie format, tampered", m: f.scFormat, header: "session=" + scTampered, want: ErrAuthentication},
		// A version-1 value of a retired key fed to a Manager sealing in
		// the securecookie format, which still opens version 1.
		{name: "v1 value of a retired key to the securecookie format", m: f.scFormat, header: "session=" + f.retired, want: ErrUnknownKey},
		// A tampered version-1 value fed to the securecookie format.
		{name: "tampered v1 value to the securecookie format", m: f.scFormat, header: "session=" + flipBit(t, good, v1HeaderSize+2), want: ErrAuthentication},
		// A gorilla/sessions cookie made with keys other than the migrated
		// store's: a forgery, or a cookie of another gorilla application.
		{name: "gorilla cookie with wrong keys", m: f.migrating, header: "session=" + gorillaCookie(t, "session", map[any]any{"name": "eve"}, wrongKeys, gorillaBlock), want: ErrAuthentication},
		// A gorilla cookie of the right store moved from another cookie
		// name.
		{name: "gorilla cookie of another name", m: f.migrating, header: "session=" + gorillaCookie(t, "other", map[any]any{"name": "eve"}, gorillaHash, gorillaBlock), want: ErrAuthentication},
		// A genuine gorilla cookie sent to a Manager without migration:
		// gorilla's keys are not this ring's.
		{name: "gorilla cookie without migration", header: "session=" + gorillaCookie(t, "session", map[any]any{"name": "ada"}, gorillaHash, gorillaBlock), want: ErrAuthentication},
		// A genuine gorilla cookie whose values the conversion refuses
		// (values of a shape the application no longer stores).
		{name: "gorilla cookie that does not convert", m: f.migrating, header: "session=" + gorillaCookie(t, "session", map[any]any{"admin": true}, gorillaHash, gorillaBlock), want: ErrMigration},
	}
}

func TestHostileCookies(t *testing.T) {
	f := newHostileFixture(t)
	for _, row := range hostileRows(t, f) {
		t.Run(row.name, func(t *testing.T) {
			m := row.m
			if m == nil {
				m = f.m
			}
			var s *Session[user]
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s = m.Get(r)
				_, _ = w.Write([]byte("ok"))
			}))
			// Build the requests first, so that only serving is measured;
			// take the least of three runs, so that no other goroutine's
			// allocations are counted.
			const runs = 3
			reqs := make([]*http.Request, runs)
			recs := make([]*httptest.ResponseRecorder, runs)
			for i := range reqs {
				reqs[i] = httptest.NewRequest("GET", "/", nil)
				reqs[i].Header.Set("Cookie", row.header)
				recs[i] = httptest.NewRecorder()
			}
			least := ^uint64(0)
			for i := range reqs {
				var before, after runtimeMem
				before.read()
				h.ServeHTTP(recs[i], reqs[i])
				after.read()
				least = min(least, after.total-before.total)
			}
			rec := recs[0]
			if row.maxAlloc > 0 {
				t.Logf("serving allocated %d bytes (header of %d bytes)", least, len(row.header))
			}
			// net/http's cookie parser allocates 8 bytes per cookie of the
			// header each time a name is read, and the Manager reads the
			// main cookie's name and each chunk's.
			bound := row.maxAlloc + uint64(8*len(f.names[m])*(strings.Count(row.header, ";")+1))
			if row.maxAlloc > 0 && least > bound {
				t.Errorf("serving the request allocated %d bytes; the bound is %d (header of %d bytes)", least, bound, len(row.header))
			}

			if rec.Code >= 500 || rec.Code != http.StatusOK {
				t.Errorf("status %d", rec.Code)
			}
			if !s.IsNew() || !reflect.DeepEqual(s.Data, user{}) {
				t.Fatalf("new %v, data %+v (err %v): the hostile cookie opened", s.IsNew(), s.Data, s.Err())
			}
			switch {
			case row.want == nil && s.Err() != nil:
				t.Errorf("err = %v, want none", s.Err())
			case row.want != nil && !errors.Is(s.Err(), row.want):
				t.Errorf("err = %v, want %v", s.Err(), row.want)
			}

			// With gorilla migration, a gorilla cookie that did not
			// convert is kept for a later request, and told of.
			if m == f.migrating && errors.Is(row.want, ErrMigration) {
				if set := rec.Header().Values("Set-Cookie"); len(set) != 0 {
					t.Errorf("a gorilla cookie that did not convert was not kept: %q", set)
				}
				return
			}
			// Otherwise, with gorilla migration, an empty session of ours
			// replaces what came, so that no gorilla cookie converts there
			// again.
			if m == f.migrating && row.want != nil {
				b := newBrowser(t)
				b.store(rec.Result().Header)
				if s := m.Load(b.request("GET", "/")); s.IsNew() || !reflect.DeepEqual(s.Data, user{}) {
					t.Errorf("the response did not replace the cookie with an empty session: %q", rec.Header().Values("Set-Cookie"))
				}
				return
			}
			// Every cookie of the session that came must be deleted, with
			// the attributes it was set with; nothing else is set.
			present := presentNames(reqs[0], f.names[m])
			path := "/"
			if m == f.big {
				path = longPath
			}
			var deleted []string
			lines := rec.Result().Header.Values("Set-Cookie")
			for _, line := range lines {
				c, err := http.ParseSetCookie(line)
				if err != nil {
					t.Fatalf("bad Set-Cookie %q: %v", line, err)
				}
				if !slices.Contains(f.names[m], c.Name) || c.Value != "" || c.MaxAge >= 0 || !strings.Contains(line, "; Max-Age=0") ||
					c.Path != path || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode {
					t.Errorf("Set-Cookie %q is not the deletion of a session cookie", line)
					continue
				}
				deleted = append(deleted, c.Name)
			}
			if row.want == nil {
				if len(lines) != 0 {
					t.Errorf("cookies set although none of the session came: %q", lines)
				}
				return
			}
			if slices.Sort(deleted); len(present) == 0 || !slices.Equal(deleted, present) {
				t.Errorf("deleted cookies %q, the request had %q: %q", deleted, present, lines)
			}
			if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "private") {
				t.Errorf("a response deleting cookies has Cache-Control %q", cc)
			}
		})
	}
}

// TestHostileQuotedGenuineValueOpens is the control of the quoting rows: a
// genuine value in double quotes opens, as net/http's Request.Cookie reads
// it, so that the refusals above are due to their attacks.
func TestHostileQuotedGenuineValueOpens(t *testing.T) {
	f := newHostileFixture(t)
	if s := load(f.m, `session="`+f.good+`"`); s.IsNew() || s.Data.Name != "ada" {
		t.Errorf("new %v, err %v", s.IsNew(), s.Err())
	}
}
