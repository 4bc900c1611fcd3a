package cookiesession_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
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
// cookie replaces the session in the browser: that is logged, once,
// without the value.
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
			resp := getWith(t, b, srv.URL)
			body, _ := io.ReadAll(resp.Body)
			lines := resp.Header.Values("Set-Cookie")
			if string(body) != "proxied" || resp.Header.Get("Vary") != "Accept-Language" || !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Cookie") {
				t.Errorf("body %q, Vary %q", body, resp.Header.Values("Vary"))
			}
			if tt.change && (len(lines) != 2 || !strings.HasPrefix(lines[1], "session=") || lines[0] != tt.backend[0]) {
				t.Errorf("Set-Cookie %q; want the backend's, then the session's", lines)
			}
			if got := strings.Contains(logs.String(), "sets the session's cookie by other means"); got != tt.warn {
				t.Errorf("warned %v, want %v: %s", got, tt.warn, logs.String())
			}
			if strings.Contains(logs.String(), "backend") {
				t.Errorf("the log shows the cookie's value: %s", logs.String())
			}
			if tt.warn {
				logs.Reset()
				getWith(t, b, srv.URL)
				if logs.Len() != 0 {
					t.Errorf("warned again: %s", logs.String())
				}
			}
		})
	}
}

// getWith sends a GET to url through the real client, with b as its
// cookie jar.
func getWith(t *testing.T, b *browser, url string) *http.Response {
	t.Helper()
	resp, err := (&http.Client{Jar: b}).Get(url)
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
	migrating := mk(WithName(FallbackName), WithGorillaMigration(GorillaStore{KeyPairs: [][]byte{gorillaHash, gorillaBlock}, Path: "/app"}, convertUser))
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

// timeOut serves one request from b through http.TimeoutHandler around
// m's middleware, whose handler takes steps in order: "change" changes
// the session, "write" writes to the response, "timeout" makes the
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
