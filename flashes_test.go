package cookiesession_test

import (
	"errors"
	"strings"
	"testing"

	. "github.com/ce967478/cookiesession"
)

// maxFlashes is the most flash messages a session holds: the sealed format
// refuses a value claiming more.
const maxFlashes = 1 << 10

func TestFlashesAreReadOnce(t *testing.T) {
	m := newTestManager[user](t, newClock())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.AddFlash("saved"); s.AddFlash("twice") }), "POST", "/")
	var got []string
	rec := b.do(handle(m, func(s *Session[user]) { got = s.Flashes() }), "GET", "/")
	if strings.Join(got, ",") != "saved,twice" {
		t.Fatalf("flashes = %q", got)
	}
	if !sets(rec) {
		t.Error("reading flashes did not write the session without them")
	}
	b.do(handle(m, func(s *Session[user]) { got = s.Flashes() }), "GET", "/")
	if len(got) != 0 {
		t.Errorf("flashes read twice: %q", got)
	}
	if rec := b.do(handle(m, func(s *Session[user]) { s.Flashes() }), "GET", "/"); sets(rec) {
		t.Error("reading no flashes wrote a cookie")
	}
}

// A flash added and read in the same request (a handler that renders
// instead of redirecting) leaves the cookie as it came; flashes the cookie
// brought are gone once read, whatever was added and read meanwhile.
func TestFlashesAddedAndReadTogether(t *testing.T) {
	m := newTestManager[user](t, newClock())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	var got []string
	rec := b.do(handle(m, func(s *Session[user]) { s.AddFlash("now"); got = s.Flashes() }), "GET", "/")
	if strings.Join(got, ",") != "now" {
		t.Errorf("flashes = %q", got)
	}
	if sets(rec) {
		t.Error("a flash added and read in one request rewrote an unchanged cookie")
	}

	b.do(handle(m, func(s *Session[user]) { s.AddFlash("queued") }), "POST", "/")
	rec = b.do(handle(m, func(s *Session[user]) {
		got = s.Flashes()
		s.AddFlash("now")
		got = append(got, s.Flashes()...)
	}), "GET", "/")
	if strings.Join(got, ",") != "queued,now" {
		t.Errorf("flashes = %q", got)
	}
	if !sets(rec) {
		t.Error("the cookie's flashes were read but the cookie was not rewritten without them")
	}
	b.do(handle(m, func(s *Session[user]) { got = s.Flashes() }), "GET", "/")
	if len(got) != 0 {
		t.Errorf("flashes read twice: %q", got)
	}
}

// More flash messages than a cookie may claim to hold fail the save,
// loudly, instead of writing a cookie that would not open again; as many
// as it may hold are kept. In either sealed format.
func TestTooManyFlashesFailTheSave(t *testing.T) {
	for _, format := range []struct {
		name string
		opts []Option
	}{{"default format", nil}, {"securecookie format", []Option{WithGorillaFormat()}}} {
		t.Run(format.name, func(t *testing.T) {
			var heard errorLog
			m := newTestManager[user](t, newClock(), append(format.opts, heard.option())...)
			b := newBrowser(t)
			b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "POST", "/login")
			before := b.cookies[m.Name()]
			b.do(handle(m, func(s *Session[user]) {
				for range maxFlashes + 1 {
					s.AddFlash("")
				}
			}), "POST", "/")
			if err := heard.take(); !errors.Is(err, ErrSaveFailed) || !errors.Is(err, ErrTooLarge) {
				t.Errorf("the error handler heard %v, want ErrSaveFailed and ErrTooLarge", err)
			}
			if b.cookies[m.Name()] != before {
				t.Error("the browser lost its previous cookie")
			}
			var s *Session[user]
			b.do(handle(m, func(got *Session[user]) { s = got }), "GET", "/")
			if s.Data.Name != "ada" || s.Err() != nil {
				t.Errorf("the session did not survive: %+v, %v", s.Data, s.Err())
			}

			b.do(handle(m, func(s *Session[user]) {
				for range maxFlashes {
					s.AddFlash("")
				}
			}), "POST", "/")
			var got []string
			b.do(handle(m, func(s *Session[user]) { got = s.Flashes() }), "GET", "/")
			if err := heard.take(); err != nil || len(got) != maxFlashes {
				t.Errorf("%d flashes: %d read back, error handler heard %v", maxFlashes, len(got), err)
			}
		})
	}
}
