package cookiesession_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

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

var _ = httptest.NewRecorder
