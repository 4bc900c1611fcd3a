package cookiesession_test

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

	. "github.com/ce967478/cookiesession"
)

// countingSerializer is encoding/json that counts what it decodes: one
// decode for each cookie that opened.
type countingSerializer struct {
	JSONSerializer
	decodes atomic.Int32
}

func (c *countingSerializer) Unmarshal(data []byte, v any) error {
	c.decodes.Add(1)
	return c.JSONSerializer.Unmarshal(data, v)
}

// A request opens its cookie once, however often it asks for the session,
// and only if it asks; it writes one cookie if it changed the session,
// none if it did not.
func TestOneOpenAndAtMostOneSealPerRequest(t *testing.T) {
	counter := &countingSerializer{}
	m := newTestManager[user](t, newClock(), WithSerializer(counter))
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		if again := m.Get(r); again != s {
			t.Error("a second Get returned another session")
		}
		if r.URL.Path == "/write" {
			s.Data.N++
		}
		_, _ = io.WriteString(w, s.Data.Name)
	}))
	for _, tt := range []struct {
		path         string
		decodes, set int
	}{
		{"/read", 1, 0},
		{"/write", 1, 1},
		{"/read", 1, 0},
	} {
		counter.decodes.Store(0)
		rec := b.do(h, "GET", tt.path)
		if got, set := int(counter.decodes.Load()), len(rec.Header().Values("Set-Cookie")); got != tt.decodes || set != tt.set {
			t.Errorf("%s: %d cookies opened, %d set; want %d, %d", tt.path, got, set, tt.decodes, tt.set)
		}
	}
	counter.decodes.Store(0)
	if rec := b.do(m.Handler(http.NotFoundHandler()), "GET", "/"); counter.decodes.Load() != 0 || rec.Header().Get("Vary") != "" {
		t.Error("a request that never asked for the session opened the cookie")
	}
	var n int
	b.do(handle(m, func(s *Session[user]) { n = s.Data.N }), "GET", "/")
	if n != 1 {
		t.Errorf("N = %d after one write, want 1", n)
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
		m.Get(r).Data.Name = "lost" // before Hijack, and still no response of ours carries it
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
		_ = rw.Flush()
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
	if err, _ := hookErr.Load().(error); !errors.Is(err, ErrChangeAfterCommit) || !strings.Contains(err.Error(), "hijacked") {
		t.Errorf("a change in a hijacked request was not reported as such: %v", err)
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
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.N = 1 }), "GET", "/")
	var outer, inner *Session[user]
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		outer = m.Get(r)
		m.Handler(handle(m, func(s *Session[user]) { inner = s; s.Data.N++ })).ServeHTTP(w, r)
	}))
	rec := b.do(h, "GET", "/")
	if n := len(rec.Header().Values("Set-Cookie")); n != 1 || outer != inner {
		t.Errorf("%d Set-Cookie lines, want 1; one session: %v", n, outer == inner)
	}
	var n int
	b.do(handle(m, func(s *Session[user]) { n = s.Data.N }), "GET", "/")
	if n != 2 {
		t.Errorf("N = %d, want 2: the change was made once, and written", n)
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
	if err == nil || n != 0 || w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "hello") {
		t.Errorf("after a failed save: %v; status %d, body %q", err, w.Code, w.Body.String())
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

// Load and Save serve code that cannot use the middleware, exactly as the
// middleware would: a second Save of an unchanged session writes nothing.
func TestLoadAndSaveWithoutMiddleware(t *testing.T) {
	m := newTestManager[user](t, newClock())
	b := newBrowser(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.Load(r)
		s.Data.N++
		if err := m.Save(w, s); err != nil {
			t.Error(err)
		}
		if err := m.Save(w, s); err != nil {
			t.Error(err)
		}
	})
	for i := range 3 {
		rec := b.do(h, "GET", "/")
		if n := len(rec.Header().Values("Set-Cookie")); n != 1 {
			t.Fatalf("request %d: %d Set-Cookie lines", i, n)
		}
	}
	if got := m.Load(b.request("GET", "/")).Data.N; got != 3 {
		t.Errorf("N = %d, want 3", got)
	}
}

// Get outside the Handler, or after the handler returned, is a programming
// error: it panics, saying what to do.
func TestGetOutsideTheHandlerPanicsWithAdvice(t *testing.T) {
	m := newTestManager[user](t, newClock())
	var late *http.Request
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { late = r })).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	for _, tt := range []struct {
		name string
		r    *http.Request
		want string
	}{
		{"a request that did not pass the Handler", httptest.NewRequest("GET", "/", nil), "m.Handler"},
		{"another Manager's request", otherManagersRequest(t), "m.Handler"},
		{"after the handler returned", late, "after the handler returned"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), tt.want) {
					t.Errorf("panic = %v, want it to say %q", r, tt.want)
				}
			}()
			m.Get(tt.r)
		})
	}
}

// otherManagersRequest returns a request that passed another Manager's
// Handler only.
func otherManagersRequest(t *testing.T) *http.Request {
	other := newTestManager[user](t, newClock(), WithName("other"))
	var got *http.Request
	other.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r })).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	return got
}

// 101 Switching Protocols is the final response of its request, not an
// informational one: the session is committed into its headers, which the
// client gets before the connection changes protocol.
func TestSwitchingProtocolsCommits(t *testing.T) {
	m := newTestManager[user](t, newClock())
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Data.Name = "upgraded"
		w.Header().Set("Upgrade", "websocket")
		w.WriteHeader(http.StatusSwitchingProtocols)
	})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	res := rec.Result()
	if res.StatusCode != http.StatusSwitchingProtocols || len(res.Cookies()) != 1 || res.Header.Get("Vary") != "Cookie" {
		t.Fatalf("status %d, cookies %v, Vary %q; want 101 with the session's cookie and Vary: Cookie", res.StatusCode, res.Cookies(), res.Header.Get("Vary"))
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(res.Cookies()[0])
	if got := m.Load(req).Data.Name; got != "upgraded" {
		t.Errorf("Name = %q", got)
	}
}
