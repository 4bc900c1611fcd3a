package cookiesession

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
)

// errDiscarded is what the application's writes get after a failed save was
// answered by the error handler in its place.
var errDiscarded = errors.New("cookiesession: response replaced by the error handler after a failed save")

// reqState is the middleware's per-request state, reached from the
// request's context by Get and from the response writer at commit time.
type reqState[T any] struct {
	m       *Manager[T]
	handler handler // this request's entry in the list of Handlers
	once    sync.Once
	// mu orders a Get on one goroutine with the commit on another (a
	// handler may ask for the session from goroutines of its own while it
	// writes): it guards sess, committed and w.hijacked.
	mu        sync.Mutex
	sess      *Session[T] // nil until a handler asks; then &val
	committed bool
	// saveFailed: the commit failed and was reported; the session's state
	// is not what the browser has, so it is not compared again.
	saveFailed bool
	w          responseWriter[T]
	val        Session[T]
}

func (st *reqState[T]) session(r *http.Request) *Session[T] {
	st.once.Do(func() {
		s := st.m.load(r, st.m.now(), &st.val)
		st.mu.Lock()
		s.st = st
		st.sess = s
		late := st.committed && !st.w.hijacked
		st.mu.Unlock()
		if late {
			// Too late for the headers: nothing tells caches that the
			// response depends on the cookie, and a cookie that needs
			// clearing or sealing again cannot be.
			st.m.logger.LogAttrs(r.Context(), slog.LevelWarn,
				"cookiesession: session first read after the response headers were sent; the response has no Vary: Cookie",
				slog.String("cookie", st.m.name), slog.String("method", r.Method), slog.String("path", r.URL.Path))
		}
	})
	return st.sess
}

// isCommitted reports whether the response's headers are gone (or the
// connection hijacked): the session can no longer be written.
func (st *reqState[T]) isCommitted() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.committed
}

// loaded reports the session if a handler asked for it, without loading it.
func (st *reqState[T]) loaded() *Session[T] {
	st.once.Do(func() {}) // a later Get now returns nil: the request is over
	return st.sess
}

// Handler returns middleware that gives next's requests a session, through
// Get. The cookie is opened only when a handler first calls Get, and
// written back just before the response headers leave, only if it must be:
// when the session changed, was destroyed or renewed, was sealed by an older
// key, is due for an idle refresh, or came in invalid.
//
// The response is not buffered: streaming, flushing, io.ReaderFrom and
// hijacking work as without the middleware, and http.ResponseController
// reaches the original writer through Unwrap.
func (m *Manager[T]) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		outer, _ := ctx.Value(handlersKey{}).(*handler)
		for h := outer; h != nil; h = h.outer {
			if h.m == any(m) {
				next.ServeHTTP(w, r) // already inside this Manager's Handler
				return
			}
			if h.name == m.name {
				// Two Managers of one cookie name on one request write
				// conflicting Set-Cookie lines, each undoing the other's.
				m.sharedName.Do(func() {
					m.logger.LogAttrs(ctx, slog.LevelError, "cookiesession: two Managers with the same cookie name handle one request, and their cookies overwrite each other; give each its own name with WithName",
						slog.String("cookie", m.name), slog.String("path", r.URL.Path))
				})
			}
		}
		st := &reqState[T]{m: m}
		st.handler = handler{name: m.name, m: m, st: st, outer: outer}
		r = r.WithContext(context.WithValue(ctx, handlersKey{}, &st.handler))
		st.w = responseWriter[T]{ResponseWriter: w, st: st}
		next.ServeHTTP(&st.w, r)
		st.w.finish()
	})
}

// Get returns the request's session, opening its cookie on first use. The
// request must have come through m.Handler; calling Get on any other
// request is a programming error and panics. A cookie that does not open
// gives a new, empty session: see Session.Err for why.
//
// Call Get before writing the response. A session first asked for after
// the headers went out cannot add Vary: Cookie to them, nor refresh or
// clear the cookie; that is logged as a warning, and a change made to it
// is reported as ErrChangeAfterCommit.
func (m *Manager[T]) Get(r *http.Request) *Session[T] {
	var st *reqState[T]
	for h, _ := r.Context().Value(handlersKey{}).(*handler); h != nil && st == nil; h = h.outer {
		if h.m == any(m) {
			st = h.st.(*reqState[T])
		}
	}
	if st == nil {
		panic("cookiesession: Get called on a request that did not pass through this Manager's Handler; " +
			"wrap the handler with m.Handler(...), or use m.Load and m.Save")
	}
	s := st.session(r)
	if s == nil {
		panic("cookiesession: Get called after the handler returned")
	}
	return s
}

// handlersKey is the context key of the Managers' Handlers a request
// passed through: one value, a list, so that passing a Handler costs one
// context value, and a Manager finds another of its cookie name.
type handlersKey struct{}

// handler is one Handler a request passed through, innermost first.
type handler struct {
	name  string
	m     any // the *Manager[T]
	st    any // its *reqState[T]
	outer *handler
}

// responseWriter commits the session just before the headers leave.
type responseWriter[T any] struct {
	http.ResponseWriter
	st       *reqState[T]
	hijacked bool
	// replaced: a failed save was answered by the error handler, which
	// wrote the response; the application's writes are discarded.
	replaced bool
}

// commit writes the session's cookies into the headers, once.
func (w *responseWriter[T]) commit() {
	st := w.st
	st.mu.Lock()
	if st.committed {
		st.mu.Unlock()
		return
	}
	st.committed = true
	s := st.sess
	st.mu.Unlock()
	if s == nil {
		return
	}
	m := st.m
	if err := m.commit(w.Header(), s); err != nil {
		st.saveFailed = true
		hw := &hookWriter{ResponseWriter: w.ResponseWriter}
		m.report(hw, s.req, err)
		w.replaced = hw.wrote
	}
}

// finish runs after the handler returns: it commits if the handler wrote
// nothing, and reports a change that came too late to be sent.
func (w *responseWriter[T]) finish() {
	st := w.st
	if !st.isCommitted() {
		// Load nothing now: a session nobody asked for has nothing to say.
		st.loaded()
		w.commit()
	} else if s := st.loaded(); s != nil && !st.saveFailed && st.m.dirty(s) {
		st.m.report(w, s.req, ErrChangeAfterCommit)
	}
	// Failures that cost this response nothing (a gorilla cookie not
	// converted, a revocation not stored, a change not written because
	// another request replaced the session) are told once the handler is
	// done: the error handler cannot write over the application's response.
	if s := st.loaded(); s != nil {
		st.m.reportPending(w.ResponseWriter, s)
	}
}

// WriteHeader commits the session, unless code is informational (1xx but
// 101): an early hints response does not end the handler's chance to
// change the session.
func (w *responseWriter[T]) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols && !w.st.isCommitted() {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.commit()
	if w.replaced {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write commits the session before the first byte.
func (w *responseWriter[T]) Write(p []byte) (int, error) {
	w.commit()
	if w.replaced {
		return 0, errDiscarded
	}
	return w.ResponseWriter.Write(p)
}

// WriteString commits the session before the first byte, and passes the
// string on without converting it to bytes when the original writer can
// take a string (net/http's can), as io.WriteString expects.
func (w *responseWriter[T]) WriteString(s string) (int, error) {
	w.commit()
	if w.replaced {
		return 0, errDiscarded
	}
	if sw, ok := w.ResponseWriter.(io.StringWriter); ok {
		return sw.WriteString(s)
	}
	return w.ResponseWriter.Write([]byte(s))
}

// ReadFrom commits the session, then lets the original writer copy (using
// sendfile where it can).
func (w *responseWriter[T]) ReadFrom(src io.Reader) (int64, error) {
	w.commit()
	if w.replaced {
		return 0, errDiscarded
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

// Flush commits the session and flushes, like http.Flusher.
func (w *responseWriter[T]) Flush() { _ = w.FlushError() }

// FlushError commits the session and flushes, returning the error that
// http.ResponseController.Flush reports.
func (w *responseWriter[T]) FlushError() error {
	w.commit()
	if w.replaced {
		return errDiscarded
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over. The session cannot be written after
// that: a change made to it is reported as lost.
func (w *responseWriter[T]) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.st.mu.Lock()
		w.hijacked = true
		w.st.committed = true
		w.st.mu.Unlock()
	}
	return conn, rw, err
}

// Unwrap returns the original writer, for http.ResponseController.
func (w *responseWriter[T]) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writerOnly hides a writer's ReadFrom, so that io.Copy does not call back
// into it.
type writerOnly struct{ io.Writer }

// hookWriter records whether the error handler wrote a response.
type hookWriter struct {
	http.ResponseWriter
	wrote bool
}

func (h *hookWriter) WriteHeader(code int) {
	h.wrote = true
	h.ResponseWriter.WriteHeader(code)
}

func (h *hookWriter) Write(p []byte) (int, error) {
	h.wrote = true
	return h.ResponseWriter.Write(p)
}

func (h *hookWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }
