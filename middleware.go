package cookiesession

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
)

// errDiscarded is what the application's writes get after a failed save was
// answered by the error handler in its place.
var errDiscarded = errors.New("cookiesession: response replaced by the error handler after a failed save")

// reqState is the middleware's per-request state, reached from the
// request's context by Get and from the response writer at commit time.
type reqState struct {
	e     *engine
	front front     // makes the session when a handler first asks
	outer *reqState // the Handler the request passed before this one, if any
	once  sync.Once
	// mu orders a Get on one goroutine with the commit on another (a
	// handler may ask for the session from goroutines of its own while it
	// writes): it guards sess, committed and w.hijacked.
	mu        sync.Mutex
	sess      holder // nil until a handler asks
	committed bool
	// saveFailed: the commit failed and was reported; the session's state
	// is not what the browser has, so it is not compared again.
	saveFailed bool
	w          responseWriter
	r          *http.Request // as next got it, for what is logged without a session
}

func (rs *reqState) session(r *http.Request) holder {
	rs.once.Do(func() {
		s := rs.front.newHolder()
		s.st().mw = rs
		rs.e.load(r, rs.e.now(), s)
		rs.mu.Lock()
		rs.sess = s
		late := rs.committed && !rs.w.hijacked
		rs.mu.Unlock()
		if late {
			// Too late for the headers: nothing tells caches that the
			// response depends on the cookie, and a cookie that needs
			// clearing or sealing again cannot be.
			rs.e.logger.LogAttrs(r.Context(), slog.LevelWarn,
				"cookiesession: session first read after the response headers were sent; the response has no Vary: Cookie",
				slog.String("cookie", rs.e.cookies.name), slog.String("method", r.Method), slog.String("path", r.URL.Path))
		}
	})
	return rs.sess
}

// isCommitted reports whether the response's headers are gone (or the
// connection hijacked): the session can no longer be written.
func (rs *reqState) isCommitted() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.committed
}

// loaded reports the session if a handler asked for it, without loading it.
func (rs *reqState) loaded() holder {
	rs.once.Do(func() {}) // a later Get now returns nil: the request is over
	return rs.sess
}

// handler returns the middleware of Manager.Handler, whose sessions f
// makes.
func (e *engine) handler(next http.Handler, f front) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		outer, _ := ctx.Value(handlersKey{}).(*reqState)
		for h := outer; h != nil; h = h.outer {
			if h.e == e {
				next.ServeHTTP(w, r) // already inside this Manager's Handler
				return
			}
			if h.e.cookies.name == e.cookies.name {
				// Two Managers of one cookie name on one request write
				// conflicting Set-Cookie lines, each undoing the other's.
				e.sharedName.Do(func() {
					e.logger.LogAttrs(ctx, slog.LevelError, "cookiesession: two Managers with the same cookie name handle one request, and their cookies overwrite each other; give each its own name with WithName",
						slog.String("cookie", e.cookies.name), slog.String("path", r.URL.Path))
				})
			}
		}
		if e.binding != nil && r.URL.Path == e.binding.path {
			e.serveBinding(w, r, f) // the device binding's endpoint is the Manager's
			return
		}
		rs := &reqState{e: e, front: f, outer: outer}
		r = r.WithContext(context.WithValue(ctx, handlersKey{}, rs))
		rs.r = r
		rs.w = responseWriter{ResponseWriter: w, rs: rs}
		// A panic in next aborts its changes to the session: whoever
		// recovers answers for the request, and a half-done session is
		// not written with that answer. What a commit before the panic
		// could not store is still told: the browser got that response.
		returned := false
		defer func() {
			if !returned {
				rs.w.abandon()
			}
		}()
		next.ServeHTTP(&rs.w, r)
		returned = true
		rs.w.finish()
	})
}

// get returns the request's session: see Manager.Get.
func (e *engine) get(r *http.Request) holder {
	var rs *reqState
	for h, _ := r.Context().Value(handlersKey{}).(*reqState); h != nil && rs == nil; h = h.outer {
		if h.e == e {
			rs = h
		}
	}
	if rs == nil {
		panic("cookiesession: Get called on a request that did not pass through this Manager's Handler; " +
			"wrap the handler with m.Handler(...), or use m.Load and m.Save")
	}
	s := rs.session(r)
	if s == nil {
		panic("cookiesession: Get called after the handler returned")
	}
	return s
}

// save is Manager.Save.
func (e *engine) save(w http.ResponseWriter, s holder) error {
	st := s.st()
	if st.mw != nil && st.mw.isCommitted() {
		if !e.dirty(s) {
			return nil // nothing to write that could still be written
		}
		// Setting headers now would do nothing, and the session would
		// pass for written; left as it is, the middleware reports the
		// change as lost when the handler returns.
		return fmt.Errorf("%w: Save called after the response headers were sent", ErrChangeAfterCommit)
	}
	e.checkForeign(w.Header(), st.req)
	err := e.commit(w.Header(), s)
	e.reportPending(w, st)
	return err
}

// checkForeign logs, once and as an error, a Set-Cookie line for the
// session's cookie that the session did not write: a handler's own
// http.SetCookie, or a backend's that httputil.ReverseProxy passed on. The browser takes it for
// the session's cookie, so the session is lost, or whichever of the two
// lines comes last wins. Lines the session wrote (on this response, by
// Save, before the middleware's commit) are told by their shape.
func (e *engine) checkForeign(h http.Header, r *http.Request) {
	for _, line := range h["Set-Cookie"] {
		name, _, _ := strings.Cut(line, "=")
		name = textproto.TrimString(name)
		switch spec := e.cookies.owner(name); {
		case spec == nil, spec.wrote(line):
		case e.migration != nil && line == e.migration.deletion(e.cookies):
		default:
			e.foreignWarning.Do(func() {
				e.logger.LogAttrs(r.Context(), slog.LevelError, "cookiesession: the response sets the session's cookie by other means than the session, and the browser loses the session; give the session another name with WithName, or the other cookie another name",
					slog.String("cookie", name), slog.String("method", r.Method), slog.String("path", r.URL.Path))
			})
			return
		}
	}
}

// handlersKey is the context key of the Handlers a request passed
// through: one value, the innermost reqState, which links to the outer
// ones, so that passing a Handler costs one context value, and a Manager
// finds another of its cookie name.
type handlersKey struct{}

// responseWriter commits the session just before the headers leave.
type responseWriter struct {
	http.ResponseWriter
	rs       *reqState
	hijacked bool
	// replaced: a failed save was answered by the error handler, which
	// wrote the response; the application's writes are discarded.
	replaced bool
	// setCookies: the commit added Set-Cookie lines; dropped: a write
	// said that the response, headers and all, will never be sent.
	setCookies, dropped bool
}

// commit writes the session's cookies into the headers, once.
func (w *responseWriter) commit() {
	rs := w.rs
	rs.mu.Lock()
	if rs.committed {
		rs.mu.Unlock()
		return
	}
	rs.committed = true
	s := rs.sess
	rs.mu.Unlock()
	rs.e.checkForeign(w.Header(), rs.r)
	if s == nil {
		return
	}
	lines := len(w.Header()["Set-Cookie"])
	err := rs.e.commit(w.Header(), s)
	w.setCookies = len(w.Header()["Set-Cookie"]) > lines
	if err != nil {
		rs.saveFailed = true
		hw := &hookWriter{ResponseWriter: w.ResponseWriter}
		rs.e.report(hw, s.st().req, err)
		w.replaced = hw.wrote
	}
}

// finish runs after the handler returns: it commits if the handler wrote
// nothing, and reports a change that came too late to be sent.
func (w *responseWriter) finish() {
	rs := w.rs
	if !rs.isCommitted() {
		// Load nothing now: a session nobody asked for has nothing to say.
		rs.loaded()
		w.commit()
	} else if s := rs.loaded(); s != nil && !rs.saveFailed && rs.e.dirty(s) {
		if st := s.st(); st.end == endDestroy {
			// The cookie cannot be deleted now, but the session can
			// still end: its id is revoked.
			rs.e.revoke(st, rs.e.ended(st, rs.e.now()))
		}
		err := ErrChangeAfterCommit
		if w.hijacked {
			err = errHijacked
		}
		rs.e.report(w, s.st().req, err)
	}
	if w.dropped && w.setCookies {
		rs.e.report(w.ResponseWriter, rs.sess.st().req, errDropped)
	}
	w.reportPending()
}

// errHijacked is a change to the session of a request whose connection the
// handler hijacked, before Hijack or after: no response of the
// middleware's carries the session (the handler writes its own, such as a
// WebSocket upgrade).
var errHijacked = fmt.Errorf("%w: the handler hijacked the connection, and the session cannot be written on it", ErrChangeAfterCommit)

// errDropped is the save that http.TimeoutHandler lost: it drops the
// headers it buffered, the session's cookies with them, and sends its own
// 503. The browser keeps its previous cookie.
var errDropped = fmt.Errorf("%w: the response that carried it was dropped: %w", ErrSaveFailed, http.ErrHandlerTimeout)

// wrote notes a write's error: one that says the response was dropped.
func (w *responseWriter) wrote(err error) {
	if err != nil && errors.Is(err, http.ErrHandlerTimeout) {
		w.dropped = true
	}
}

// reportPending tells the failures that cost this response nothing (a
// gorilla cookie not converted, a revocation not stored, a change not
// written because another request replaced the session), once the handler
// is done: the error handler cannot write over the application's response.
func (w *responseWriter) reportPending() {
	if s := w.rs.loaded(); s != nil && len(s.st().pending) > 0 {
		w.rs.e.reportPending(w.ResponseWriter, s.st())
	}
}

// abandon ends the request of a handler that panicked: nothing is
// committed from now on, even by a goroutine still holding the writer,
// and the failures of a commit already made are reported.
func (w *responseWriter) abandon() {
	rs := w.rs
	rs.mu.Lock()
	rs.committed = true
	rs.mu.Unlock()
	w.reportPending()
}

// WriteHeader commits the session, unless code is informational (1xx but
// 101): an early hints response does not end the handler's chance to
// change the session.
func (w *responseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols && !w.rs.isCommitted() {
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
func (w *responseWriter) Write(p []byte) (int, error) {
	w.commit()
	if w.replaced {
		return 0, errDiscarded
	}
	n, err := w.ResponseWriter.Write(p)
	w.wrote(err)
	return n, err
}

// WriteString commits the session before the first byte, and passes the
// string on without converting it to bytes when the original writer can
// take a string (net/http's can), as io.WriteString expects.
func (w *responseWriter) WriteString(s string) (int, error) {
	w.commit()
	if w.replaced {
		return 0, errDiscarded
	}
	var n int
	var err error
	if sw, ok := w.ResponseWriter.(io.StringWriter); ok {
		n, err = sw.WriteString(s)
	} else {
		n, err = w.ResponseWriter.Write([]byte(s))
	}
	w.wrote(err)
	return n, err
}

// ReadFrom commits the session, then lets the original writer copy (using
// sendfile where it can).
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	w.commit()
	if w.replaced {
		return 0, errDiscarded
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, src)
	}
	w.wrote(err)
	return n, err
}

// Flush commits the session and flushes, like http.Flusher.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError commits the session and flushes, returning the error that
// http.ResponseController.Flush reports.
func (w *responseWriter) FlushError() error {
	w.commit()
	if w.replaced {
		return errDiscarded
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over. The session cannot be written after
// that: a change made to it is reported as lost.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.rs.mu.Lock()
		w.hijacked = true
		w.rs.committed = true
		w.rs.mu.Unlock()
	}
	return conn, rw, err
}

// Unwrap returns the original writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

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
