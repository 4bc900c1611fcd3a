package cookiesession

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingFormat counts seals and opens, to check the middleware's work.
type countingFormat struct {
	format
	seals, opens atomic.Int32
}

func (c *countingFormat) seal(name string, e *Contents) (string, error) {
	c.seals.Add(1)
	return c.format.seal(name, e)
}

func (c *countingFormat) open(name, value string, o openOptions) (Contents, int, error) {
	c.opens.Add(1)
	return c.format.open(name, value, o)
}

func countFormat[T any](m *Manager[T]) *countingFormat {
	c := &countingFormat{format: m.e.format}
	m.e.format = c
	return c
}

func TestOneOpenAndAtMostOneSealPerRequest(t *testing.T) {
	m := newTestManager[user](t, newClock())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	c := countFormat(m)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Get(r)
		s := m.Get(r) // a second Get returns the same session
		if r.URL.Path == "/write" {
			s.Data.N++
		}
		_, _ = io.WriteString(w, s.Data.Name)
	}))
	b.do(h, "GET", "/read")
	if c.opens.Load() != 1 || c.seals.Load() != 0 {
		t.Errorf("read-only request: %d opens, %d seals; want 1, 0", c.opens.Load(), c.seals.Load())
	}
	c.opens.Store(0)
	b.do(h, "GET", "/write")
	if c.opens.Load() != 1 || c.seals.Load() != 1 {
		t.Errorf("changing request: %d opens, %d seals; want 1, 1", c.opens.Load(), c.seals.Load())
	}
	c.opens.Store(0)
	b.do(m.Handler(http.NotFoundHandler()), "GET", "/")
	if c.opens.Load() != 0 {
		t.Error("a request that never asked for the session opened the cookie")
	}
}

// serve starts a loopback server for h, closed when the test ends.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, ctx context.Context, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// A streamed response gets the cookie with its headers, which a flush
// sends before any byte of the body: the flush itself commits the session.
// (The handler holds the rest of the body back until the client has read
// the headers; a failing test releases it, so that it fails rather than
// hangs.)
func TestStreamingGetsTheCookieOnTheFirstByte(t *testing.T) {
	m := newTestManager[user](t, newClock())
	flushers := map[string]func(http.ResponseWriter){
		"http.Flusher":       func(w http.ResponseWriter) { w.(http.Flusher).Flush() },
		"ResponseController": func(w http.ResponseWriter) { _ = http.NewResponseController(w).Flush() },
	}
	for name, flush := range flushers {
		t.Run(name, func(t *testing.T) {
			release := make(chan struct{})
			srv := serve(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				m.Get(r).Data.Name = "streamer"
				flush(w) // the headers go now, before any byte of the body
				select {
				case <-release: // the handler is still running when the client reads
				case <-r.Context().Done():
					return
				}
				_, _ = io.WriteString(w, "body\n")
			})))
			var once sync.Once
			t.Cleanup(func() { once.Do(func() { close(release) }) }) // before srv.Close
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp := get(t, ctx, srv.URL) // returns with the headers
			if len(resp.Cookies()) != 1 {
				t.Errorf("the streamed response has cookies %v", resp.Cookies())
			}
			once.Do(func() { close(release) })
			if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || line != "body\n" {
				t.Errorf("body %q, %v", line, err)
			}
		})
	}
}

// io.Copy into the response uses its ReadFrom (sendfile, for a file): the
// session is committed before the copy starts.
func TestReadFromGetsTheCookie(t *testing.T) {
	m := newTestManager[user](t, newClock())
	srv := serve(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Data.Name = "copier"
		if _, ok := w.(io.ReaderFrom); !ok {
			t.Error("the wrapper has no ReadFrom")
		}
		// A LimitedReader has no WriteTo, so io.Copy calls w.ReadFrom.
		_, _ = io.Copy(w, io.LimitReader(strings.NewReader("copied"), 6))
	})))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp := get(t, ctx, srv.URL)
	body, _ := io.ReadAll(resp.Body)
	if len(resp.Cookies()) != 1 || string(body) != "copied" {
		t.Errorf("cookies %v, body %q", resp.Cookies(), body)
	}
}

func TestHijackWorksThroughTheWrapper(t *testing.T) {
	var logs bytes.Buffer
	var hookErr atomic.Value
	m := newTestManager[user](t, newClock(), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { hookErr.Store(err) }))
	done := make(chan struct{})
	inner := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
		_ = rw.Flush()
		m.Get(r).Data.Name = "lost" // cannot reach the browser any more
	}))
	// done closes once the middleware has finished with the request.
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		inner.ServeHTTP(w, r)
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp := get(t, ctx, srv.URL)
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "hi" {
		t.Errorf("body %q", body)
	}
	<-done
	if err, _ := hookErr.Load().(error); !errors.Is(err, ErrChangeAfterCommit) {
		t.Errorf("a change after hijacking was not reported: %v", err)
	}
}

func TestEarlyHintsDoNotCommit(t *testing.T) {
	m := newTestManager[user](t, newClock())
	srv := serve(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		m.Get(r).Data.Name = "after hints"
		_, _ = io.WriteString(w, "ok")
	})))
	var got1xx atomic.Int32
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			if code == http.StatusEarlyHints {
				got1xx.Add(1)
			}
			return nil
		},
	})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp := get(t, ctx, srv.URL)
	if got1xx.Load() != 1 {
		t.Error("no 103 reached the client")
	}
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) != 1 {
		t.Fatalf("status %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(resp.Cookies()[0])
	if got := m.Load(req).Data.Name; got != "after hints" {
		t.Errorf("Name = %q", got)
	}
}

func TestServeContentKeepsWorking(t *testing.T) {
	m := newTestManager[user](t, newClock())
	payload := strings.Repeat("0123456789", 10000)
	srv := serve(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Data.Name = "reader"
		if _, ok := w.(io.ReaderFrom); !ok {
			t.Error("the wrapper hides io.ReaderFrom")
		}
		http.ServeContent(w, r, "data.txt", time.Time{}, strings.NewReader(payload))
	})))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp := get(t, ctx, srv.URL)
	body, _ := io.ReadAll(resp.Body)
	if string(body) != payload || len(resp.Cookies()) != 1 {
		t.Errorf("body %d bytes, cookies %v", len(body), resp.Cookies())
	}
}

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
			if got := strings.Contains(logs.String(), "changed after the response was committed"); got != tt.lost {
				t.Errorf("logged %v, want %v: %s", got, tt.lost, logs.String())
			}
		})
	}
}

func TestHandlerThatWritesNothingStillSaves(t *testing.T) {
	m := newTestManager[user](t, newClock())
	b := newBrowser(t)
	rec := b.do(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Data.Name = "quiet"
	})), "GET", "/")
	if rec.Code != http.StatusOK || b.cookies["session"] == "" {
		t.Errorf("status %d, cookies %v", rec.Code, b.cookies)
	}
}

func TestNestedHandlersShareOneSession(t *testing.T) {
	m := newTestManager[user](t, newClock())
	c := countFormat(m)
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.N = 1 }), "GET", "/")
	inner := handle(m, func(s *Session[user]) { s.Data.N++ })
	rec := b.do(m.Handler(m.Handler(inner)), "GET", "/")
	if n := len(rec.Header().Values("Set-Cookie")); n != 1 || c.seals.Load() != 2 {
		t.Errorf("%d Set-Cookie lines, %d seals", n, c.seals.Load())
	}
}

// The middleware's header values share no backing array: a handler that
// appends to one of them after the commit changes nothing else.
func TestHeaderValuesAreIndependent(t *testing.T) {
	m := newTestManager[user](t, newClock())
	var h http.Header
	newBrowser(t).do(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Data.Name = "ada"
		_, _ = io.WriteString(w, "ok")
		h = w.Header()
		for _, k := range []string{"Vary", "Cache-Control", "Set-Cookie"} {
			h[k] = append(h[k], "appended")
		}
	})), "GET", "/")
	if got := h["Vary"]; len(got) != 2 || got[0] != "Cookie" {
		t.Errorf("Vary: %q", got)
	}
	if got := h["Cache-Control"]; len(got) != 2 || got[0] != "private" {
		t.Errorf("Cache-Control: %q", got)
	}
	if got := h["Set-Cookie"]; len(got) != 2 || !strings.HasPrefix(got[0], "session=") {
		t.Errorf("Set-Cookie: %q", got)
	}
}

// The request's context is extended, not replaced: its values, deadline
// and cancellation, and another Manager's session, all still reach the
// handler, and a handler can extend it further.
func TestRequestContextKeepsWorking(t *testing.T) {
	m := newTestManager[user](t, newClock())
	other := newTestManager[user](t, newClock(), WithName("other"))
	type key struct{}
	deadline := time.Now().Add(time.Hour)
	withDeadline, stopDeadline := context.WithDeadline(context.WithValue(context.Background(), key{}, "value"), deadline)
	defer stopDeadline()
	parent, cancel := context.WithCancel(withDeadline)
	defer cancel()
	var (
		child     context.Context
		stopChild context.CancelFunc = func() {}
	)
	defer func() { stopChild() }()
	h := m.Handler(other.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Context().Value(key{}); got != "value" {
			t.Errorf("a value of the request's context: %v", got)
		}
		if got, ok := r.Context().Deadline(); !ok || !got.Equal(deadline) {
			t.Errorf("the request's deadline: %v %t", got, ok)
		}
		type inner struct{}
		r = r.WithContext(context.WithValue(r.Context(), inner{}, 1))
		m.Get(r).Data.Name = "ada"
		other.Get(r).Data.Name = "eve"
		for _, verb := range []string{"%v", "%+v", "%#v"} {
			if got := fmt.Sprintf(verb, r.Context()); strings.Contains(got, "ada") || strings.Contains(got, "eve") {
				t.Errorf("printing the request's context with %s shows the session's data: %s", verb, got)
			}
		}
		child, stopChild = context.WithCancel(r.Context())
	})))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil).WithContext(parent))
	if n := len(w.Result().Cookies()); n != 2 {
		t.Errorf("two Managers set %d cookies, want 2", n)
	}
	cancel()
	if err := child.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelling the request's context: a context derived in the handler has %v", err)
	}
}

// stringWriter is a recorder that counts the strings it is given whole.
type stringWriter struct {
	*httptest.ResponseRecorder
	strings int
}

func (w *stringWriter) WriteString(s string) (int, error) {
	w.strings++
	return w.ResponseRecorder.WriteString(s)
}

// io.WriteString through the middleware commits the cookie first and hands
// the string to the original writer as a string; after a failed save, the
// application's string is discarded like its bytes.
func TestWriteStringCommitsFirst(t *testing.T) {
	m := newTestManager[user](t, newClock(), WithMaxSize(1024))
	var n int
	var err error
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		m.Get(r).Data.Name = name
		n, err = io.WriteString(w, "hello "+name[:3])
	}))

	w := &stringWriter{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(w, httptest.NewRequest("GET", "/?name=ada", nil))
	if n != 9 || err != nil || w.Body.String() != "hello ada" || w.strings != 1 {
		t.Errorf("io.WriteString: %d, %v; body %q; %d strings passed on whole", n, err, w.Body.String(), w.strings)
	}
	if len(w.Result().Cookies()) != 1 {
		t.Errorf("the response set cookies %v", w.Result().Cookies())
	}

	w = &stringWriter{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(w, httptest.NewRequest("GET", "/?name="+strings.Repeat("x", 2000), nil))
	if !errors.Is(err, errDiscarded) || w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "hello") {
		t.Errorf("after a failed save: %v; status %d, body %q", err, w.Code, w.Body.String())
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

// A handler may ask for the session from goroutines of its own while it
// writes the response: all get the same session, and (under -race) the
// middleware's state is not raced over.
func TestGetFromGoroutinesWhileWriting(t *testing.T) {
	m := newTestManager[user](t, newClock(), WithLogger(slog.New(slog.DiscardHandler)))
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	for range 20 {
		var got [4]*Session[user]
		b.do(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var wg sync.WaitGroup
			for i := range got {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got[i] = m.Get(r)
				}()
			}
			_, _ = w.Write([]byte("ok"))
			wg.Wait()
		})), "GET", "/")
		for i, s := range got {
			if s != got[0] || s.Data.Name != "ada" {
				t.Fatalf("goroutine %d got %p (%+v), goroutine 0 %p", i, s, s.Data, got[0])
			}
		}
	}
}

// Two Managers of one cookie name nested in one handler chain overwrite
// each other's cookie: the mistake is logged, once, where it can be seen.
func TestNestedManagersOfOneNameAreReported(t *testing.T) {
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	clock := newClock()
	outer := newTestManager[user](t, clock, WithLogger(logger))
	inner := newTestManager[user](t, clock, WithLogger(logger))
	h := outer.Handler(handle(inner, func(s *Session[user]) { s.Data.N++ }))
	for range 3 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	if n := strings.Count(logs.String(), "two Managers with the same cookie name"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs.String())
	}
	// Managers of different names, and one Manager's Handler twice, are fine.
	logs.Reset()
	other := newTestManager[user](t, clock, WithLogger(logger), WithName("other"))
	outer.Handler(other.Handler(outer.Handler(handle(other, nil)))).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if logs.Len() != 0 {
		t.Errorf("logged for distinct names:\n%s", logs.String())
	}
}
