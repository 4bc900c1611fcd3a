package cookiesession

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
)

// The policy for failures that lose data: how loud each is, and what the
// response becomes when no error handler was given.

// reportPending reports the session's pending failures, once.
func (e *engine) reportPending(w http.ResponseWriter, st *state) {
	pending := st.pending
	st.pending = nil
	for _, err := range pending {
		e.report(w, st.req, err)
	}
}

// report logs a failure that loses data and passes it to the error handler.
func (e *engine) report(w http.ResponseWriter, r *http.Request, err error) {
	// Inner middleware may have cancelled r's context on its way out (the
	// commit can run after the handler returns): keep its values, for the
	// log and the error handler, but not its cancellation.
	r = r.WithContext(context.WithoutCancel(r.Context()))
	msg, level := "cookiesession: session not saved", slog.LevelError
	switch {
	case errors.Is(err, ErrChangeAfterCommit):
		msg = "cookiesession: session change lost"
	case errors.Is(err, ErrMigration):
		msg, level = "cookiesession: gorilla session not converted; the user gets a new session", slog.LevelWarn
	case errors.Is(err, ErrRevocationFailed):
		msg = "cookiesession: session revocation not stored; copies of the cookie may still open on other instances"
	case errors.Is(err, ErrReplaced):
		msg, level = "cookiesession: session replaced by another request or a Renew; this request's change was not written", slog.LevelWarn
	}
	e.logger.LogAttrs(r.Context(), level, msg,
		slog.String("cookie", e.cookies.name), slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Any("error", err))
	if e.onError != nil {
		e.onError(w, r, err)
		return
	}
	if errors.Is(err, ErrSaveFailed) {
		h := w.Header()
		for _, k := range replacedHeaders {
			delete(h, k)
		}
		h.Set("Cache-Control", "no-store")
		makePrivate(h) // and no CDN-Cache-Control or Surrogate-Control left to cache it
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	}
}

// replacedHeaders are the headers that the default 500 for a failed save
// removes: they describe the application's response it replaces (a
// redirect's target, a download's file name, its caching), not the error.
// Others (security policies, Vary, the application's other cookies) stay.
var replacedHeaders = []string{
	"Location", "Refresh", "Content-Disposition", "Content-Language", "Content-Range",
	"Content-Location", "Etag", "Last-Modified", "Expires", "Cache-Control", "Age", "Accept-Ranges",
	// Not Content-Encoding: as http.Error, which leaves it, knows, an outer
	// middleware may have set it and compress what is written (the 500
	// included).
}
