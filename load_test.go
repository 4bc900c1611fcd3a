package cookiesession_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	. "github.com/ce967478/cookiesession"
)

// A cookie that does not open is untrusted input, not a failure: the
// handler gets a fresh, empty session whose Err says why, the response is
// the application's, and the cookie is cleared. (hostile_test.go has the
// full catalogue of attacks.)
func TestBadCookiesGiveAFreshSession(t *testing.T) {
	clock := newClock()
	m := newTestManager[user](t, clock)
	other, err := New[user](mustKeyring(t, testSecret(9)), WithClock(clock.Now), WithName(FallbackName), quiet)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	b.do(handle(other, func(s *Session[user]) { s.Data.Name = "eve" }), "GET", "/")
	foreign := b.cookies["session"]
	b = newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	good := b.cookies["session"]
	tests := []struct {
		name   string
		cookie string
		want   error // nil: any sentinel
	}{
		{"garbage", "session=%%%", ErrMalformed},
		{"tampered", "session=" + tamper(good), nil},
		{"foreign key", "session=" + foreign, ErrUnknownKey},
		{"other name", "other=" + good + "; session=x", ErrMalformed},
		{"chunks without main", "session.1=abc", ErrMalformed},
		{"too large", "session=" + strings.Repeat("A", 1<<20), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, rec := send(m, tt.cookie, nil)
			if rec.Code != http.StatusOK {
				t.Errorf("status %d", rec.Code)
			}
			if !s.IsNew() || s.Err() == nil || s.Data.Name != "" {
				t.Fatalf("new %v, err %v, data %+v", s.IsNew(), s.Err(), s.Data)
			}
			if tt.want != nil && !errors.Is(s.Err(), tt.want) {
				t.Errorf("err = %v, want %v", s.Err(), tt.want)
			}
			if !deletes(rec) {
				t.Errorf("the bad cookie was not cleared: %q", rec.Header().Values("Set-Cookie"))
			}
		})
	}
}

// A cookie that does not open is logged at debug level with the reason,
// for whoever chases unexpected sign-outs, and never above it, since
// anyone can send one; the value itself is never logged.
func TestCookiesThatDoNotOpenAreLoggedAtDebug(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := newTestManager[user](t, newClock(), WithLogger(logger))
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	tampered := tamper(b.cookies["session"])
	b.cookies["session"] = tampered
	b.do(handle(m, func(*Session[user]) {}), "GET", "/account")
	out := logs.String()
	if !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "failed authentication") || !strings.Contains(out, "path=/account") {
		t.Errorf("no debug record with the reason and the path:\n%s", out)
	}
	if strings.Contains(out, "level=WARN") || strings.Contains(out, "level=ERROR") || strings.Contains(out, tampered[10:40]) {
		t.Errorf("logged louder than debug, or the value:\n%s", out)
	}
}

// Data that authenticates but does not decode into the session type (a
// deploy changed a field's type) starts a new session with ErrMalformed,
// and the serializer's error stays reachable with errors.As; but its
// message, which encoding/json fills with the number it could not store,
// is in neither Session.Err's message nor the log: they would carry the
// session's contents (a card number, a one-time code) into plain text.
func TestDataThatDoesNotDecodeIsNotQuoted(t *testing.T) {
	const secret = "4111111111111111"
	type narrowed struct{ PIN int8 }
	type prefs struct{ Prefs map[string]int8 }
	type line struct{ Qty int8 }
	type cart struct {
		Lines []line `json:"lines"`
	}
	type embedded struct{ cart }
	// The field is named, up to a map: Go 1.27's path holds its keys.
	notQuoted[narrowed](t, `{"PIN":`+secret+`}`, `field "PIN" of type int8`)
	notQuoted[cart](t, `{"lines":[{"Qty":`+secret+`}]}`, `field "lines`)
	notQuoted[embedded](t, `{"lines":[{"Qty":`+secret+`}]}`, `.Qty" of type int8`)
	notQuoted[prefs](t, `{"Prefs":{"`+secret+`":1000}}`, `of type int8`)
	notQuoted[map[string]int8](t, `{"`+secret+`":1000}`, `of type int8`)
}

// notQuoted checks that data, which does not decode into T, starts a new
// session with ErrMalformed and the cause for errors.As, an Err that says
// want, and quotes none of the data in Err or the log.
func notQuoted[T any](t *testing.T, data, want string) {
	t.Helper()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := newTestManager[T](t, newClock(), WithLogger(logger))
	v, err := testKeys(t).Seal(FallbackName, Contents{Created: t0, Issued: t0, ID: randomID(), Data: []byte(data)})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := send(m, FallbackName+"="+v, nil)
	var cause *json.UnmarshalTypeError
	if !s.IsNew() || !errors.Is(s.Err(), ErrMalformed) || !errors.As(s.Err(), &cause) {
		t.Fatalf("%s into %T: new %v, Err %v; want a new session, ErrMalformed and the cause", data, s.Data, s.IsNew(), s.Err())
	}
	if !strings.Contains(s.Err().Error(), want) {
		t.Errorf("%s into %T: Err %v; want it to say %s", data, s.Data, s.Err(), want)
	}
	if strings.Contains(s.Err().Error(), "4111") || strings.Contains(logs.String(), "4111") {
		t.Errorf("%s into %T: the session's data is quoted:\nErr: %v\nlog: %s", data, s.Data, s.Err(), logs.String())
	}
}

// Another serializer's error is wrapped for errors.As, and its message,
// which may quote the data, is left out of Err and the log.
func TestSerializerErrorIsNotQuoted(t *testing.T) {
	const secret = "4111111111111111"
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := newTestManager[user](t, newClock(), WithLogger(logger), WithSerializer(quotingSerializer{}))
	v, err := testKeys(t).Seal(FallbackName, Contents{Created: t0, Issued: t0, ID: randomID(), Data: []byte(`{"Name":"` + secret + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := send(m, FallbackName+"="+v, nil)
	var cause *quotingError
	if !s.IsNew() || !errors.Is(s.Err(), ErrMalformed) || !errors.As(s.Err(), &cause) {
		t.Fatalf("data the serializer refuses: new %v, Err %v; want a new session, ErrMalformed and the cause", s.IsNew(), s.Err())
	}
	if strings.Contains(s.Err().Error(), secret) || strings.Contains(logs.String(), secret) {
		t.Errorf("the session's data is quoted:\nErr: %v\nlog: %s", s.Err(), logs.String())
	}
}

// quotingSerializer is encoding/json, but for Unmarshal, which refuses
// all data with an error that quotes it.
type quotingSerializer struct{ JSONSerializer }

func (quotingSerializer) Unmarshal(data []byte, _ any) error {
	return &quotingError{data: string(data)}
}

type quotingError struct{ data string }

func (e *quotingError) Error() string { return "cannot read " + e.data }
