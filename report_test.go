package cookiesession

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Each failure that loses data is logged once, at the level its harm calls
// for, with a message that says what was lost and the request and cookie
// it concerns: an operator filtering on level=ERROR sees data lost, and a
// user's new session after a refused conversion is a warning. Failures
// this precise are rare to provoke through a request, so report is called
// directly.
func TestFailuresAreLoggedByKind(t *testing.T) {
	keys, err := NewKeyring(bytes.Repeat([]byte("k"), MinSecretSize))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		err       error
		wantLevel slog.Level
		wantMsg   string
	}{
		{fmt.Errorf("%w: %w", ErrSaveFailed, ErrTooLarge), slog.LevelError, "session not saved"},
		{ErrChangeAfterCommit, slog.LevelError, "session change lost"},
		{fmt.Errorf("%w: refused", ErrMigration), slog.LevelWarn, "gorilla session not converted"},
		{fmt.Errorf("%w: store down", ErrRevocationFailed), slog.LevelError, "revocation not stored"},
		{ErrReplaced, slog.LevelWarn, "session replaced"},
	}
	for _, tt := range tests {
		t.Run(tt.wantMsg, func(t *testing.T) {
			var logs bytes.Buffer
			m, err := New[map[string]string](keys, WithName("sid"), WithSecure(false),
				WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))),
				WithErrorHandler(func(http.ResponseWriter, *http.Request, error) {}))
			if err != nil {
				t.Fatal(err)
			}
			m.e.report(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/cart", nil), tt.err)
			var rec struct {
				Level, Msg, Cookie, Method, Path, Error string
			}
			if err := json.Unmarshal(logs.Bytes(), &rec); err != nil {
				t.Fatalf("not one JSON record: %v\n%s", err, logs.String())
			}
			if rec.Level != tt.wantLevel.String() || !strings.Contains(rec.Msg, tt.wantMsg) {
				t.Errorf("logged %s %q, want %s and %q", rec.Level, rec.Msg, tt.wantLevel, tt.wantMsg)
			}
			if rec.Cookie != "sid" || rec.Method != http.MethodPost || rec.Path != "/cart" || rec.Error != tt.err.Error() {
				t.Errorf("attributes %+v", rec)
			}
		})
	}
}
