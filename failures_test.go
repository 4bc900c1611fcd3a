package cookiesession_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	. "github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/revocation"
)

// Failures that lose data are loud: logged, passed to the error handler,
// and by default a 500 for a save that failed. The browser keeps its
// previous cookie.

// A save that fails (here, over WithMaxSize) sends no cookie, so the
// browser keeps its previous one. The default error handler answers 500 in
// place of the application's response; a handler of the application's
// that writes nothing lets that response go out, without the cookie.
func TestSaveFailureKeepsPreviousCookie(t *testing.T) {
	appHeaders := map[string]string{
		"Content-Disposition": `attachment; filename="report.pdf"`,
		"Etag":                `"v1"`,
		"Last-Modified":       "Mon, 07 Dec 2026 10:00:00 GMT",
		"Refresh":             "5; url=/next",
		"Expires":             "Thu, 01 Jan 2099 00:00:00 GMT",
		"Content-Language":    "fr",
		"Content-Location":    "/report.pdf",
		"Accept-Ranges":       "bytes",
	}
	var hookErr error
	m := newTestManager[user](t, newClock(), WithMaxSize(1024))
	hooked := newTestManager[user](t, newClock(), WithMaxSize(1024),
		WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { hookErr = err }))
	for _, tt := range []struct {
		name       string
		m          *Manager[user]
		wantStatus int
	}{
		{"default handler", m, http.StatusInternalServerError},
		{"custom handler writing nothing", hooked, http.StatusSeeOther}, // the application's redirect
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t)
			b.do(handle(tt.m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
			before := b.cookies["session"]
			var body bytes.Buffer
			rec := b.do(tt.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tt.m.Get(r).Data.Name = strings.Repeat("x", 2000)
				w.Header().Set("X-Frame-Options", "DENY")
				w.Header().Set("CDN-Cache-Control", "max-age=600") // for the redirect, not a 500
				w.Header().Set("Surrogate-Control", "max-age=600")
				w.Header().Set("Content-Encoding", "gzip") // as a compressing middleware would
				for name, v := range appHeaders {
					w.Header().Set(name, v)
				}
				http.Redirect(w, r, "/next", http.StatusSeeOther)
			})), "GET", "/")
			body.Write(rec.Body.Bytes())
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if sc := rec.Header().Values("Set-Cookie"); len(sc) != 0 {
				t.Errorf("a failed save sent Set-Cookie %q", sc)
			}
			if b.cookies["session"] != before {
				t.Error("the browser lost its previous cookie")
			}
			if tt.wantStatus == http.StatusInternalServerError {
				if strings.Contains(body.String(), "See Other") {
					t.Error("the application's body went out after the 500")
				}
				// The 500 replaces the redirect: no Location, not cached;
				// headers that are not the response's own stay.
				h := rec.Header()
				// Content-Encoding stays, as with http.Error: a middleware
				// that set it compresses the 500 too.
				if h.Get("Location") != "" || h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" ||
					h.Get("Content-Encoding") != "gzip" || h.Get("CDN-Cache-Control") != "" || h.Get("Surrogate-Control") != "no-store" {
					t.Errorf("the 500's headers: %v", h)
				}
				// Nor do those that describe the application's body: the
				// 500 saved as report.pdf, or validated by its ETag.
				for name := range appHeaders {
					if v := h.Values(name); len(v) != 0 {
						t.Errorf("the 500 kept %s: %q", name, v)
					}
				}
			}
		})
	}
	if !errors.Is(hookErr, ErrSaveFailed) || !errors.Is(hookErr, ErrTooLarge) || !strings.Contains(hookErr.Error(), "the cap is 1024") {
		t.Errorf("hook got %v", hookErr)
	}
}

// A failed save is logged at error level, with the cause.
func TestSaveFailureIsLogged(t *testing.T) {
	var logs bytes.Buffer
	m := newTestManager[user](t, newClock(), WithMaxSize(1024), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	newBrowser(t).do(handle(m, func(s *Session[user]) { s.Data.Name = strings.Repeat("x", 2000) }), "GET", "/")
	if !strings.Contains(logs.String(), "the cap is 1024") || !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("log = %q", logs.String())
	}
}

// A change made once the headers are gone cannot reach the browser: it is
// logged and reported as ErrChangeAfterCommit, and a session only read
// late costs nothing.
func TestChangeAfterCommitIsReported(t *testing.T) {
	var logs bytes.Buffer
	var hookErr error
	m := newTestManager[user](t, newClock(), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { hookErr = err }))
	tests := []struct {
		name string
		h    http.HandlerFunc
		lost bool
	}{
		{"change after write", func(w http.ResponseWriter, r *http.Request) {
			s := m.Get(r)
			_, _ = io.WriteString(w, "body")
			s.Data.Name = "late"
		}, true},
		{"flash after WriteHeader", func(w http.ResponseWriter, r *http.Request) {
			s := m.Get(r)
			w.WriteHeader(http.StatusNoContent)
			s.AddFlash("late")
		}, true},
		{"first Get after write", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "body")
			m.Get(r).Data.N = 9
		}, true},
		{"change between two writes", func(w http.ResponseWriter, r *http.Request) {
			s := m.Get(r)
			_, _ = io.WriteString(w, "a")
			s.Data.Name = "late"
			_, _ = io.WriteString(w, "b")
		}, true},
		{"change before write", func(w http.ResponseWriter, r *http.Request) {
			m.Get(r).Data.Name = "early"
			_, _ = io.WriteString(w, "body")
		}, false},
		{"read after write", func(w http.ResponseWriter, r *http.Request) {
			s := m.Get(r)
			_, _ = io.WriteString(w, "body")
			_ = s.Data.Name
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			hookErr = nil
			newBrowser(t).do(m.Handler(tt.h), "GET", "/")
			if got := errors.Is(hookErr, ErrChangeAfterCommit); got != tt.lost {
				t.Errorf("reported %v (%v), want %v", got, hookErr, tt.lost)
			}
			if hookErr != nil && strings.Contains(hookErr.Error(), "hijack") {
				t.Errorf("reported %v: no connection was hijacked", hookErr)
			}
			if got := strings.Contains(logs.String(), "changed after the response was committed"); got != tt.lost {
				t.Errorf("logged %v, want %v: %s", got, tt.lost, logs.String())
			}
		})
	}
}

// Inside the middleware, a Save after the headers went out cannot reach
// the browser: it says so, and the change is reported as lost, instead of
// passing for written.
func TestSaveAfterTheHeadersIsNotSilent(t *testing.T) {
	var hookErr error
	m := newTestManager[user](t, newClock(),
		WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { hookErr = err }))
	var saveErr error
	rec := newBrowser(t).do(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		_, _ = w.Write([]byte("ok"))
		s.Data.Name = "ada"
		saveErr = m.Save(w, s)
	})), "GET", "/")
	if !errors.Is(saveErr, ErrChangeAfterCommit) {
		t.Errorf("Save returned %v, want ErrChangeAfterCommit", saveErr)
	}
	if !errors.Is(hookErr, ErrChangeAfterCommit) {
		t.Errorf("the error handler heard %v, want ErrChangeAfterCommit", hookErr)
	}
	if sc := rec.Header().Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("Set-Cookie %q after the body", sc)
	}

	// With nothing changed, there is nothing to lose: no error.
	hookErr = nil
	newBrowser(t).do(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		_, _ = w.Write([]byte("ok"))
		saveErr = m.Save(w, s)
	})), "GET", "/")
	if saveErr != nil || hookErr != nil {
		t.Errorf("an unchanged session's Save after the headers: %v, hook %v; want nil for both", saveErr, hookErr)
	}
}

// A session first asked for after the headers went out is a response that
// depends on the cookie without saying so (no Vary: Cookie): logged.
func TestGetAfterTheHeadersIsLogged(t *testing.T) {
	var logs bytes.Buffer
	m := newTestManager[user](t, newClock(), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	if logs.Len() != 0 {
		t.Fatalf("a Get before the headers logged %q", logs.String())
	}
	var name string
	b.do(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		name = m.Get(r).Data.Name
	})), "GET", "/late")
	if name != "ada" {
		t.Errorf("Name = %q", name)
	}
	if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "no Vary: Cookie") ||
		!strings.Contains(out, "path=/late") {
		t.Errorf("log = %q", out)
	}
}

// The validator and the error handler get the request the handler asked
// for the session with: middleware inside the Handler may have added what
// they need (a database handle, a tenant, a request id) to its context.
func TestHooksGetTheRequestGetWasGiven(t *testing.T) {
	type key struct{}
	var validated, reported any
	m := newTestManager[user](t, newClock(), WithMaxSize(1024),
		WithValidator(func(r *http.Request, s *Session[user]) error {
			validated = r.Context().Value(key{})
			return nil
		}),
		WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			reported = r.Context().Value(key{})
		}))
	tenant := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, "acme")))
		})
	}
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	b.do(m.Handler(tenant(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Data.Name = strings.Repeat("x", 2000) // too large: the save fails
	}))), "GET", "/")
	if validated != "acme" || reported != "acme" {
		t.Errorf("the validator saw %v and the error handler %v, want acme for both", validated, reported)
	}

	// A failed save found after the handler returns (it wrote nothing),
	// when inner middleware has cancelled its context on the way out: the
	// error handler still gets the values, and a live context.
	var live error = errors.New("not called")
	m2 := newTestManager[user](t, newClock(), WithMaxSize(1024),
		WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			reported, live = r.Context().Value(key{}), r.Context().Err()
		}))
	cancelling := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithCancel(context.WithValue(r.Context(), key{}, "acme"))
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
	reported = nil
	b.do(m2.Handler(cancelling(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m2.Get(r).Data.Name = strings.Repeat("x", 2000)
	}))), "GET", "/")
	if reported != "acme" || live != nil {
		t.Errorf("after the handler returned, the error handler saw %v with context error %v, want acme and nil", reported, live)
	}
}

// failingSerializer is encoding/json that cannot encode a session whose
// Name is "unencodable", as a serializer meets a value it cannot hold.
type failingSerializer struct{ JSONSerializer }

func (f failingSerializer) Marshal(v any) ([]byte, error) {
	if u, ok := v.(*user); ok && u.Name == "unencodable" {
		return nil, errors.New("cannot encode this")
	}
	return f.JSONSerializer.Marshal(v)
}

// A session the serializer cannot encode fails the save like one too
// large: ErrSaveFailed with the cause, a 500 by default, and the browser
// keeps its previous cookie.
func TestSerializerFailureFailsTheSave(t *testing.T) {
	var heard errorLog
	for _, hooked := range []bool{false, true} {
		opts := []Option{WithSerializer(failingSerializer{})}
		if hooked {
			opts = append(opts, heard.option())
		}
		m := newTestManager[user](t, newClock(), opts...)
		b := newBrowser(t)
		b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
		before := b.cookies["session"]
		rec := b.do(handle(m, func(s *Session[user]) { s.Data.Name = "unencodable" }), "GET", "/")
		if sets(rec) || b.cookies["session"] != before {
			t.Errorf("hooked %v: a failed save sent Set-Cookie %q", hooked, rec.Header().Values("Set-Cookie"))
		}
		if !hooked && rec.Code != http.StatusInternalServerError {
			t.Errorf("status %d, want 500", rec.Code)
		}
		if err := heard.take(); hooked && (!errors.Is(err, ErrSaveFailed) || !strings.Contains(err.Error(), "cannot encode this")) {
			t.Errorf("the error handler heard %v", err)
		}
	}
}

// Without an error handler, only a failed save replaces the response with
// a 500: failures that cost the response nothing (a revocation not stored,
// a change made after the headers left) are logged, and the application's
// response goes out as it wrote it.
func TestOnlyAFailedSaveBecomesA500(t *testing.T) {
	var logs bytes.Buffer
	f := newRevocationFixture(t, WithRevocation(failingStore{Replica: revocation.NewReplica(nil)}),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	late := f.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := f.m.Get(r)
		_, _ = io.WriteString(w, "ok")
		s.Data.N = 5
	}))
	for _, tt := range []struct {
		name string
		h    http.Handler
		log  string
	}{
		{"a revocation not stored", f.logout, "revocation not stored"},
		{"a change after the response", late, "session change lost"},
	} {
		logs.Reset()
		b := newBrowser(t)
		b.do(f.login, "POST", "/login")
		rec := b.do(tt.h, "POST", "/")
		if rec.Code != http.StatusOK || rec.Body.String() != "ok" || !strings.Contains(logs.String(), tt.log) {
			t.Errorf("%s: status %d, body %q, log %q; want the application's 200 \"ok\", and %q logged", tt.name, rec.Code, rec.Body.String(), logs.String(), tt.log)
		}
	}
}
