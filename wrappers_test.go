package cookiesession_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/revocation"
)

// The middleware as applications compose it: with the standard library's
// wrappers and handlers inside and outside it, over the real server where
// the server makes the difference.

// recoverer is the recovery middleware of most applications: it answers
// a panic with a 500, on the writer it was given.
func recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// After a panic, the session is abandoned for good: a goroutine of the
// handler that still holds the writer and writes later commits nothing,
// and the recovery's 500 stays without a cookie.
func TestPanicAbandonsTheSessionForLaterWrites(t *testing.T) {
	m := newTestManager[user](t, newClock())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	release, done := make(chan struct{}), make(chan struct{})
	rec := b.do(recoverer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Data.N = 7
		go func() {
			defer close(done)
			<-release
			_, _ = io.WriteString(w, "late")
		}()
		panic("with a goroutine holding the writer")
	}))), "POST", "/")
	close(release)
	<-done
	if rec.Code != http.StatusInternalServerError || sets(rec) {
		t.Errorf("a write after the panic: status %d, Set-Cookie %q; want the recovery's 500 and no cookie", rec.Code, rec.Header().Values("Set-Cookie"))
	}
}

// A handler that panics after its response went out still has what its
// commit could not store reported (here a revocation of the logout the
// response already carried), and one that panics before writing leaves
// the browser's cookie as it was: the panic aborts its changes, and the
// recovery's 500 carries no cookie.
func TestPanicAfterTheCommitStillReports(t *testing.T) {
	var heard errorLog
	f := newRevocationFixture(t, WithRevocation(failingStore{Replica: revocation.NewReplica(nil)}), heard.option())
	b := newBrowser(t)
	b.do(f.login, "POST", "/login")
	heard.take()
	before := b.cookies["session"]
	rec := b.do(recoverer(f.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.m.Get(r).Data.N = 7
		panic("before the response")
	}))), "POST", "/")
	if rec.Code != http.StatusInternalServerError || sets(rec) || b.cookies["session"] != before {
		t.Errorf("a panic before the response: status %d, Set-Cookie %q; want the recovery's 500 and no cookie", rec.Code, rec.Header().Values("Set-Cookie"))
	}
	if err := heard.take(); err != nil {
		t.Errorf("a panic before the response reported %v", err)
	}
	b.do(recoverer(f.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.m.Get(r).Destroy()
		_, _ = io.WriteString(w, "signed out")
		panic("after the response")
	}))), "POST", "/logout")
	if err := heard.take(); !errors.Is(err, ErrRevocationFailed) {
		t.Errorf("a panic after the logout's response: the error handler heard %v, want ErrRevocationFailed", err)
	}
	if len(b.cookies) != 0 {
		t.Errorf("the logout's response left cookies %v", b.names())
	}

	// The same over the real server, whose own recovery aborts the
	// connection on http.ErrAbortHandler after the headers were flushed.
	srv := serve(t, f.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.m.Get(r).Destroy()
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	})))
	b.do(f.login, "POST", "/login")
	heard.take()
	resp := getWith(t, &http.Client{Jar: b}, srv.URL)
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("the aborted response ended cleanly")
	}
	if err := heard.take(); !errors.Is(err, ErrRevocationFailed) {
		t.Errorf("after http.ErrAbortHandler: the error handler heard %v, want ErrRevocationFailed", err)
	}
}

// proxy returns a reverse proxy to a loopback backend that answers with
// the Set-Cookie lines given, and a Vary of its own.
func proxy(t *testing.T, setCookies ...string) *httputil.ReverseProxy {
	t.Helper()
	backend := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, line := range setCookies {
			w.Header().Add("Set-Cookie", line)
		}
		w.Header().Set("Vary", "Accept-Language")
		_, _ = io.WriteString(w, "proxied")
	}))
	u, err := url.Parse(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	return httputil.NewSingleHostReverseProxy(u)
}

// httputil.ReverseProxy as the handler: the backend's headers and cookies
// go out with the session's, Vary names both, and a session changed
// before proxying is written after the backend's lines, so that it wins a
// clash of names. A backend (or handler) that sets the session's own
// cookie replaces the session in the browser: that is logged as an error
// (the session is lost), once, without the value.
func TestReverseProxyAsTheHandler(t *testing.T) {
	for _, tt := range []struct {
		name    string
		backend []string
		change  bool
		warn    bool
	}{
		{"other cookies, session read", []string{"lang=en; Path=/"}, false, false},
		{"other cookies, session changed", []string{"lang=en; Path=/"}, true, false},
		{"the session's name, session read", []string{"session=backend; Path=/"}, false, true},
		{"a chunk's name, session changed", []string{"session.1=backend; Path=/"}, true, true},
		{"the session's name without attributes", []string{"session=backend"}, false, true},
		{"the session's name, spaced", []string{"session =backend; Path=/"}, false, true},
		// The session's own shape, but for the attributes after Max-Age.
		{"the session's name with Path and Max-Age", []string{"session=backend; Path=/; Max-Age=60"}, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			m := newTestManager[user](t, newClock(), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			rp := proxy(t, tt.backend...)
			b := newBrowser(t)
			b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
			srv := serve(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if s := m.Get(r); tt.change {
					s.Data.N++
				}
				rp.ServeHTTP(w, r)
			})))
			resp := getWith(t, &http.Client{Jar: b}, srv.URL)
			body, _ := io.ReadAll(resp.Body)
			lines := resp.Header.Values("Set-Cookie")
			if string(body) != "proxied" || resp.Header.Get("Vary") != "Accept-Language" || !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Cookie") {
				t.Errorf("body %q, Vary %q", body, resp.Header.Values("Vary"))
			}
			if tt.change && (len(lines) != 2 || !strings.HasPrefix(lines[1], "session=") || lines[0] != tt.backend[0]) {
				t.Errorf("Set-Cookie %q; want the backend's, then the session's", lines)
			}
			if got := strings.Contains(logs.String(), "level=ERROR") && strings.Contains(logs.String(), "sets the session's cookie by other means"); got != tt.warn {
				t.Errorf("logged an error %v, want %v: %s", got, tt.warn, logs.String())
			}
			if tt.warn && !strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("not logged as an error: %s", logs.String())
			}
			if strings.Contains(logs.String(), "backend") {
				t.Errorf("the log shows the cookie's value: %s", logs.String())
			}
			if tt.warn {
				logs.Reset()
				getWith(t, &http.Client{Jar: b}, srv.URL)
				if logs.Len() != 0 {
					t.Errorf("warned again: %s", logs.String())
				}
			}
		})
	}
}

// A line the session did not write is found wherever the session is
// written, or would be: without the middleware, at Save, after the
// handler set the session's cookie itself; inside it, at the commit, also
// when the handler never looked at the session.
func TestForeignLineFoundWithoutASessionRead(t *testing.T) {
	setsSession := func(m *Manager[user]) http.Handler {
		return m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "mine"})
		}))
	}
	for _, tt := range []struct {
		name    string
		cookies string // the Manager's WithName, "" for none
		h       func(m *Manager[user]) http.Handler
	}{
		{"before a Save without the middleware", FallbackName, func(m *Manager[user]) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.SetCookie(w, &http.Cookie{Name: "session", Value: "mine"})
				s := m.Load(r)
				s.Data.Name = "ada"
				if err := m.Save(w, s); err != nil {
					t.Error(err)
				}
			})
		}},
		{"the middleware, the session never read", FallbackName, setsSession},
		// Without WithName, the name earlier releases used by default,
		// which a session moving from it is still read under.
		{"the old default name", "", setsSession},
	} {
		var logs bytes.Buffer
		opts := []Option{WithClock(newClock().Now), WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))}
		if tt.cookies != "" {
			opts = append(opts, WithName(tt.cookies))
		}
		m, err := New[user](testKeys(t), opts...)
		if err != nil {
			t.Fatal(err)
		}
		rec := newBrowser(t).do(tt.h(m), "GET", "/")
		if !strings.Contains(logs.String(), "sets the session's cookie by other means") {
			t.Errorf("%s: Set-Cookie %q, log %s; want the error logged", tt.name, rec.Header().Values("Set-Cookie"), logs.String())
		}
	}
}

// The warning of a foreign line is logged with the request's context, as
// every log of the package is: a handler that takes a request id from it
// finds it there.
func TestForeignLineLoggedWithTheRequestsContext(t *testing.T) {
	type key struct{}
	var seen ctxValues
	m := newTestManager[user](t, newClock(), WithLogger(slog.New(&seen)))
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "mine"})
	}))
	newBrowser(t).do(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, "request 7")))
	}), "GET", "/")
	if got := seen.values(key{}); len(got) != 1 || got[0] != "request 7" {
		t.Errorf("the log records saw %v in their context; want one, with the request's id", got)
	}
}

// ctxValues is a slog.Handler that keeps the context of each record.
type ctxValues struct {
	mu   sync.Mutex
	ctxs []context.Context
}

func (c *ctxValues) Enabled(context.Context, slog.Level) bool { return true }
func (c *ctxValues) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *ctxValues) WithGroup(string) slog.Handler            { return c }
func (c *ctxValues) Handle(ctx context.Context, _ slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ctxs = append(c.ctxs, ctx)
	return nil
}

// values returns what the records' contexts hold under key.
func (c *ctxValues) values(key any) []any {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []any
	for _, ctx := range c.ctxs {
		out = append(out, ctx.Value(key))
	}
	return out
}

// getWith sends a GET to url through c, the real client.
func getWith(t *testing.T, c *http.Client, url string) *http.Response {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// The session's own lines are never taken for another's: a Save before
// the middleware's commit, a second Save, chunks, deletions, a move from
// the old default name and the deletion of a gorilla cookie at its own
// path all pass without the warning.
func TestTheSessionsOwnLinesAreNotForeign(t *testing.T) {
	clock := gorillaClock()
	var logs bytes.Buffer
	logged := WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	mk := func(opts ...Option) *Manager[user] {
		m, err := New[user](testKeys(t), append([]Option{WithClock(clock.Now), logged}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	named := mk(WithName(FallbackName))
	moving := mk()
	migrating := mk(WithName(FallbackName), WithGorillaMigration(GorillaStore{KeyPairs: [][]byte{gorillaHash, gorillaBlock}, Path: "/app", MaxAge: 86400}, convertUser))
	saveInside := func(m *Manager[user], fn func(*Session[user])) http.Handler {
		return m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := m.Get(r)
			fn(s)
			if err := m.Save(w, s); err != nil {
				t.Error(err)
			}
			_, _ = io.WriteString(w, "ok")
		}))
	}
	big := func(s *Session[user]) { s.Data = bigData(5000) }
	for _, tt := range []struct {
		name    string
		before  http.Handler // the browser's first request
		gorilla bool         // the browser holds a gorilla/sessions cookie
		h       http.Handler
	}{
		{"Save inside the middleware", nil, false, saveInside(named, func(s *Session[user]) { s.Data.N = 1 })},
		{"Save twice without it", nil, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := named.Load(r)
			s.Data = bigData(5000)
			_ = named.Save(w, s)
			s.Data.N++
			_ = named.Save(w, s)
		})},
		{"chunks destroyed", handle(named, big), false, saveInside(named, func(s *Session[user]) { s.Destroy() })},
		{"chunks shrunk", handle(named, big), false, saveInside(named, func(s *Session[user]) { s.Data = user{Name: "ada"} })},
		{"moved from the old name", handle(named, big), false, saveInside(moving, func(s *Session[user]) {})},
		{"gorilla cookie deleted", nil, true, saveInside(migrating, func(s *Session[user]) {})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			b := newBrowser(t)
			if tt.before != nil {
				b.do(tt.before, "GET", "/")
			}
			if tt.gorilla {
				b.cookies["session"] = gorillaCookie(t, "session", map[any]any{"name": "ada"}, gorillaHash, gorillaBlock)
			}
			rec := b.do(tt.h, "GET", "/")
			if !sets(rec) || logs.Len() != 0 {
				t.Errorf("Set-Cookie %q; logged %s", rec.Header().Values("Set-Cookie"), logs.String())
			}
		})
	}
}

// expiring is a request context whose deadline passes when the test says
// so: http.TimeoutHandler's own context, made from it, then times out
// then, as it would on its clock, with no sleep.
type expiring struct {
	context.Context
	done chan struct{}
}

func newExpiring() *expiring {
	return &expiring{Context: context.Background(), done: make(chan struct{})}
}

func (c *expiring) Done() <-chan struct{} { return c.done }

func (c *expiring) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// With http.TimeoutHandler around the middleware (the order that keeps
// the session on the handler's goroutine), a request that times out gets
// the 503 without the session's cookie, since TimeoutHandler drops the
// headers it buffered: the browser keeps its previous cookie. When the
// handler's writes say so (http.ErrHandlerTimeout), a session the
// response would have written is reported as not saved. A request that
// finishes in time gets its cookie. No race, no panic.
func TestTimeoutHandlerAroundTheMiddleware(t *testing.T) {
	var heard errorLog
	m := newTestManager[user](t, newClock(), heard.option())
	for _, tt := range []struct {
		name   string
		steps  []string // see timeOut
		status int
		lost   bool
	}{
		{"in time", []string{"change", "write"}, http.StatusOK, false},
		{"written, then timed out", []string{"change", "write", "timeout", "write"}, http.StatusServiceUnavailable, true},
		{"timed out, then written", []string{"change", "timeout", "write"}, http.StatusServiceUnavailable, true},
		{"changed after the timeout", []string{"timeout", "change", "write"}, http.StatusServiceUnavailable, true},
		{"read only", []string{"write", "timeout", "write"}, http.StatusServiceUnavailable, false},
		{"timed out, then written with Write", []string{"change", "timeout", "write bytes"}, http.StatusServiceUnavailable, true},
		{"timed out, then copied with ReadFrom", []string{"change", "timeout", "copy"}, http.StatusServiceUnavailable, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t)
			b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
			before := b.cookies["session"]
			rec := timeOut(m, b, tt.steps...)
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.status != http.StatusOK && (sets(rec) || b.cookies["session"] != before) {
				t.Errorf("the 503 has Set-Cookie %q", rec.Header().Values("Set-Cookie"))
			}
			err := heard.take()
			if lost := errors.Is(err, ErrSaveFailed) && errors.Is(err, http.ErrHandlerTimeout); lost != tt.lost || !tt.lost && err != nil {
				t.Errorf("the error handler heard %v; want a lost save: %v", err, tt.lost)
			}
		})
	}

	// Without an error handler, the loss is logged; the 503 stands.
	var logs bytes.Buffer
	m = newTestManager[user](t, newClock(), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	rec := timeOut(m, newBrowser(t), "change", "timeout", "write")
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(logs.String(), "session not saved") || !strings.Contains(logs.String(), http.ErrHandlerTimeout.Error()) {
		t.Errorf("status %d, log %s", rec.Code, logs.String())
	}
}

// A write that fails for another reason than http.TimeoutHandler's (the
// client went away) is not taken for a dropped response: the headers,
// the session's cookie with them, were handed on.
func TestFailedWriteIsNotALostSave(t *testing.T) {
	var heard errorLog
	m := newTestManager[user](t, newClock(), heard.option())
	rec := newBrowser(t).do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Data.N++
		if _, err := io.WriteString(w, "ok"); err == nil {
			t.Error("the write did not fail")
		}
	}))
	failing := &failingWriter{ResponseWriter: httptest.NewRecorder()}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", strings.Join(rec.Header().Values("Set-Cookie"), "; "))
	h.ServeHTTP(failing, req)
	if err := heard.take(); err != nil || len(failing.Header().Values("Set-Cookie")) == 0 {
		t.Errorf("the error handler heard %v, Set-Cookie %q; want nothing heard, and the cookie written", err, failing.Header().Values("Set-Cookie"))
	}
}

// failingWriter fails every write, as a connection the client closed.
type failingWriter struct{ http.ResponseWriter }

func (f *failingWriter) Write([]byte) (int, error) { return 0, syscall.EPIPE }

// timeOut serves one request from b through http.TimeoutHandler around
// m's middleware, whose handler takes steps in order: "change" changes
// the session, "write" writes to the response ("write bytes" with Write,
// "copy" with ReadFrom), "timeout" makes the
// deadline pass and waits until TimeoutHandler has answered. It returns
// once the middleware is done, with the response stored in b.
func timeOut(m *Manager[user], b *browser, steps ...string) *httptest.ResponseRecorder {
	ctx := newExpiring()
	answered := make(chan struct{})
	finished := make(chan struct{})
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		for _, step := range steps {
			switch step {
			case "change":
				s.Data.N++
			case "write":
				_, _ = io.WriteString(w, "ok")
			case "write bytes":
				_, _ = w.Write([]byte("ok"))
			case "copy":
				_, _ = w.(io.ReaderFrom).ReadFrom(strings.NewReader("ok"))
			case "timeout":
				close(ctx.done)
				<-answered
			}
		}
	}))
	th := http.TimeoutHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(finished)
		h.ServeHTTP(w, r)
	}), time.Hour, "timed out")
	rec := httptest.NewRecorder()
	th.ServeHTTP(rec, b.request("GET", "/").WithContext(ctx))
	close(answered)
	<-finished
	b.store(rec.Header())
	return rec
}

// The standard library's routing wrappers, inside and around the
// middleware: Go 1.22 patterns and PathValue reach the handler through
// the middleware's request, the session is read from the context however
// the request was copied (StripPrefix, MaxBytesHandler,
// AllowQuerySemicolons), a bad cookie gives a fresh session (never a 500),
// a change is written, a read adds Vary: Cookie and no Set-Cookie, and a
// request the mux refuses carries neither.
func TestRoutingWrappers(t *testing.T) {
	m := newTestManager[user](t, newClock())
	// route sets the session's name from the path when asked (?set), and
	// answers with the name, the pattern and the body it could read.
	route := func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		if r.URL.Query().Has("set") {
			s.Data.Name = r.PathValue("id")
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		_, _ = io.WriteString(w, s.Data.Name+" "+r.Pattern+" "+string(body))
	}
	inner := http.NewServeMux()
	inner.Handle("POST /items/{id}", m.Handler(http.HandlerFunc(route)))
	outer := http.NewServeMux()
	outer.HandleFunc("POST /items/{id}", route)
	for _, tt := range []struct {
		name, target, body string
		h                  http.Handler
		status             int
		want               string // the body; "" for none expected
		set, vary          bool
	}{
		{"inside the mux", "/items/7?set", "", inner, 200, "7 POST /items/{id} ", true, true},
		{"inside the mux, read", "/items/7", "", inner, 200, "ada POST /items/{id} ", false, true},
		{"around the mux", "/items/8?set", "", m.Handler(outer), 200, "8 POST /items/{id} ", true, true},
		{"around the mux, no route", "/nowhere?set", "", m.Handler(outer), 404, "", false, false},
		{"inside the mux, no route", "/items/7/parts?set", "", inner, 404, "", false, false},
		{"StripPrefix", "/api/items/9?set", "", m.Handler(http.StripPrefix("/api", outer)), 200, "9 POST /items/{id} ", true, true},
		{"AllowQuerySemicolons", "/items/10?a=1;set", "", http.AllowQuerySemicolons(m.Handler(outer)), 200, "10 POST /items/{id} ", true, true},
		{"MaxBytesHandler, within", "/items/11?set", "small", http.MaxBytesHandler(m.Handler(outer), 8), 200, "11 POST /items/{id} small", true, true},
		{"MaxBytesHandler, over", "/items/12?set", "far too large", http.MaxBytesHandler(m.Handler(outer), 8), 413, "", true, true},
		{"MaxBytesHandler inside, over", "/items/13?set", "far too large", m.Handler(http.MaxBytesHandler(outer, 8)), 413, "", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, garbage := range []bool{false, true} {
				b := newBrowser(t)
				b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
				if garbage {
					b.cookies["session"] = "not-a-session"
				}
				req := b.request("POST", tt.target)
				req.Body = io.NopCloser(strings.NewReader(tt.body))
				rec := httptest.NewRecorder()
				tt.h.ServeHTTP(rec, req)
				b.store(rec.Header())
				if garbage {
					// A fresh session: the same answers, but the name is
					// gone, and the bad cookie is cleared or replaced.
					if rec.Code != tt.status || tt.vary && !sets(rec) {
						t.Errorf("with a bad cookie: status %d, Set-Cookie %q", rec.Code, rec.Header().Values("Set-Cookie"))
					}
					continue
				}
				if rec.Code != tt.status || tt.want != "" && rec.Body.String() != tt.want {
					t.Errorf("status %d, body %q; want %d, %q", rec.Code, rec.Body.String(), tt.status, tt.want)
				}
				if sets(rec) != tt.set || (rec.Header().Get("Vary") == "Cookie") != tt.vary {
					t.Errorf("Set-Cookie %q, Vary %q; want a cookie %v, Vary %v", rec.Header().Values("Set-Cookie"), rec.Header().Values("Vary"), tt.set, tt.vary)
				}
			}
		})
	}
}

// endpoint is a loopback server of h over one protocol, and a client for
// it whose cookie jar is a new browser.
type endpoint struct {
	proto  string // as the server's requests and the client's responses say it
	url    string
	client *http.Client
	b      *browser
}

// protocols starts h on loopback twice: over HTTP/1.1, and over HTTP/2
// with TLS.
func protocols(t *testing.T, h http.Handler) []endpoint {
	t.Helper()
	h1 := serve(t, h)
	h2 := httptest.NewUnstartedServer(h)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)
	c1, c2 := h1.Client(), h2.Client()
	c2.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	e := []endpoint{{"HTTP/1.1", h1.URL, c1, newBrowser(t)}, {"HTTP/2.0", h2.URL, c2, newBrowser(t)}}
	for _, p := range e {
		p.client.Jar = p.b
	}
	return e
}

// Through the middleware's writer, http.ResponseController reaches the
// server's over both protocols: deadlines and full duplex work, Flush
// commits the session and sends the headers, and Hijack is refused over
// HTTP/2 as without the middleware. 103 Early Hints go out before the
// final response without committing, and the session changed after them
// arrives with the 200.
func TestResponseControllerOverBothProtocols(t *testing.T) {
	m := newTestManager[user](t, newClock())
	var got1xx atomic.Int32
	type result struct {
		proto                            string
		deadlines, duplex, flush, hijack error
	}
	results := make(chan result, 1)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		w.Header().Set("Link", "</app.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		m.Get(r).Data.Name = r.Proto
		res := result{proto: r.Proto}
		res.deadlines = errors.Join(rc.SetWriteDeadline(time.Now().Add(time.Minute)), rc.SetReadDeadline(time.Now().Add(time.Minute)))
		res.duplex = rc.EnableFullDuplex()
		res.flush = rc.Flush()
		if r.ProtoMajor == 2 {
			_, _, res.hijack = rc.Hijack()
		}
		_, _ = io.WriteString(w, "streamed")
		results <- res
	}))
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			got1xx.Add(1)
			return nil
		},
	})
	for _, e := range protocols(t, h) {
		t.Run(e.proto, func(t *testing.T) {
			got1xx.Store(0)
			req, err := http.NewRequestWithContext(ctx, "GET", e.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			res := <-results
			if res.proto != e.proto || resp.Proto != e.proto || string(body) != "streamed" || got1xx.Load() != 1 {
				t.Errorf("served %s, answered %s, body %q, %d 1xx", res.proto, resp.Proto, body, got1xx.Load())
			}
			if res.deadlines != nil || res.duplex != nil || res.flush != nil {
				t.Errorf("deadlines %v, full duplex %v, flush %v", res.deadlines, res.duplex, res.flush)
			}
			if e.proto == "HTTP/2.0" && !errors.Is(res.hijack, http.ErrNotSupported) {
				t.Errorf("Hijack over HTTP/2: %v, want http.ErrNotSupported", res.hijack)
			}
			if got := m.Load(e.b.request("GET", "/")).Data.Name; got != e.proto {
				t.Errorf("the session holds %q, want %q", got, e.proto)
			}
		})
	}
}

// The standard library's file and content serving through the middleware,
// over the real server: HEAD, a 304 from If-None-Match or
// If-Modified-Since, a range, a range not satisfiable, and a file sent
// with sendfile all carry the changed session's cookie, Vary: Cookie and
// Cache-Control: private, with the body each should have.
func TestServingContentAndFiles(t *testing.T) {
	m := newTestManager[user](t, newClock())
	modified := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	file := filepath.Join(t.TempDir(), "big.txt")
	payload := strings.Repeat("0123456789", 10000)
	if err := os.WriteFile(file, []byte(payload), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, modified, modified); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Data.N++
		switch r.URL.Path {
		case "/content":
			w.Header().Set("Etag", `"v1"`)
			http.ServeContent(w, r, "hello.txt", modified, strings.NewReader("hello"))
		case "/file":
			http.ServeFile(w, r, file)
		default:
			_, _ = io.WriteString(w, "body")
		}
	})))
	for _, tt := range []struct {
		name, method, path, header, value string
		status, length                    int
	}{
		{"HEAD", "HEAD", "/", "", "", 200, 0},
		{"304 by Etag", "GET", "/content", "If-None-Match", `"v1"`, 304, 0},
		{"a range", "GET", "/content", "Range", "bytes=1-3", 206, 3},
		{"a range not satisfiable", "GET", "/content", "Range", "bytes=99-", 416, -1},
		{"a file", "GET", "/file", "", "", 200, len(payload)},
		{"304 by date", "GET", "/file", "If-Modified-Since", modified.Format(http.TimeFormat), 304, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				req.Header.Set(tt.header, tt.value)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || tt.length >= 0 && len(body) != tt.length {
				t.Errorf("status %d, %d bytes; want %d, %d", resp.StatusCode, len(body), tt.status, tt.length)
			}
			if len(resp.Cookies()) != 1 || resp.Header.Get("Vary") != "Cookie" || resp.Header.Get("Cache-Control") != "private" {
				t.Errorf("cookies %v, Vary %q, Cache-Control %q", resp.Cookies(), resp.Header.Values("Vary"), resp.Header.Values("Cache-Control"))
			}
		})
	}
}

// gzipWriter compresses what is written to it, the way compression
// middleware does: without Unwrap, so that nothing behind it is reached
// but through Write.
type gzipWriter struct {
	http.ResponseWriter
	z *gzip.Writer
}

func (g gzipWriter) Write(p []byte) (int, error) { return g.z.Write(p) }

// gzipping is compression middleware that streams through gzip.
func gzipping(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		z := gzip.NewWriter(w)
		defer z.Close()
		next.ServeHTTP(gzipWriter{w, z}, r)
	})
}

// buffering is middleware that holds the whole response back and sends
// it, with its length, once the handler returns.
func buffering(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		maps.Copy(w.Header(), rec.Header())
		w.Header().Set("Content-Length", strconv.Itoa(rec.Body.Len()))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// Compression and buffering middleware around the middleware, or inside
// it wrapping its writer: the changed session's cookie goes out with
// Vary naming both what the compression and the session depend on, and
// the body arrives whole.
func TestCompressionAndBufferingMiddleware(t *testing.T) {
	m := newTestManager[user](t, newClock())
	write := func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Data.N++
		_, _ = io.WriteString(w, "hello")
	}
	quiet := func(w http.ResponseWriter, r *http.Request) { m.Get(r).Data.N++ }
	for _, tt := range []struct {
		name string
		h    http.Handler
		body string
		gzip bool
	}{
		{"gzip around", gzipping(m.Handler(http.HandlerFunc(write))), "hello", true},
		{"gzip inside", m.Handler(gzipping(http.HandlerFunc(write))), "hello", true},
		{"gzip inside, nothing written", m.Handler(gzipping(http.HandlerFunc(quiet))), "", true},
		{"buffering around", buffering(m.Handler(http.HandlerFunc(write))), "hello", false},
		{"buffering inside", m.Handler(buffering(http.HandlerFunc(write))), "hello", false},
		{"buffering around gzip inside", buffering(m.Handler(gzipping(http.HandlerFunc(write)))), "hello", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			body := rec.Body.String()
			if tt.gzip {
				z, err := gzip.NewReader(rec.Body)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(z)
				if err != nil {
					t.Fatal(err)
				}
				body = string(b)
			}
			vary := strings.Join(rec.Header().Values("Vary"), ", ")
			if body != tt.body || len(rec.Result().Cookies()) != 1 || !strings.Contains(vary, "Cookie") || tt.gzip && !strings.Contains(vary, "Accept-Encoding") {
				t.Errorf("body %q, cookies %v, Vary %q", body, rec.Result().Cookies(), vary)
			}
		})
	}
}

// A handler may ask for the session from a goroutine of its own while it
// streams the response, over either protocol: under -race, the commit
// that a flush makes on one goroutine and the Get on the other share
// nothing unguarded, and both see the one session.
func TestGetFromAGoroutineWhileStreaming(t *testing.T) {
	m := newTestManager[user](t, newClock())
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := make(chan string)
		go func() { name <- m.Get(r).Data.Name }()
		_, _ = io.WriteString(w, "data: one\n\n")
		_ = http.NewResponseController(w).Flush()
		_, _ = io.WriteString(w, "data: "+<-name+"\n\n")
	}))
	for _, e := range protocols(t, h) {
		t.Run(e.proto, func(t *testing.T) {
			e.b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
			for range 10 {
				resp := getWith(t, e.client, e.url)
				body, _ := io.ReadAll(resp.Body)
				if string(body) != "data: one\n\ndata: ada\n\n" || len(resp.Cookies()) != 0 || resp.Header.Get("Vary") != "Cookie" && resp.Header.Get("Vary") != "" {
					t.Fatalf("body %q, cookies %v, Vary %q", body, resp.Cookies(), resp.Header.Values("Vary"))
				}
			}
		})
	}
}
