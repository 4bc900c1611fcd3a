package cookiesession

import "testing"

// decide is the one place that says what a response does with a session's
// cookies; each row is a situation a request can be in.
func TestDecide(t *testing.T) {
	tests := []struct {
		name     string
		f        facts
		replaced bool
		want     outcome
	}{
		{"read only", facts{}, false, keepCookies},
		{"read only, replaced meanwhile", facts{}, true, keepCookies},
		{"changed", facts{changed: true}, false, writeSession},
		{"changed, replaced meanwhile", facts{changed: true}, true, skipReplaced},
		{"changed to nothing", facts{changed: true, empty: true}, false, removeSession},
		{"renewed", facts{renewed: true}, false, writeSession},
		{"renewed within its grace", facts{renewed: true}, true, skipReplaced},
		{"destroyed", facts{destroyed: true, empty: true}, false, removeSession},
		{"destroyed, then a flash", facts{destroyed: true, changed: true}, false, writeSession},
		{"sealed by an older key", facts{stale: true}, false, writeSession},
		{"idle refresh due", facts{idleDue: true}, false, writeSession},
		{"a cookie that did not open", facts{invalid: true, empty: true}, false, clearCookies},
		{"a cookie that did not open, with migration", facts{invalid: true, migrating: true}, false, writeSession},
		{"a cookie that did not open, with migration, replaced", facts{invalid: true, migrating: true}, true, skipReplaced},
		{"a cookie under the old name that opened", facts{stale: true}, false, writeSession},
		{"destroyed within its grace", facts{destroyed: true, readOnly: true, empty: true}, false, removeSession},
		{"sealed by an older key, within its grace", facts{stale: true, readOnly: true}, true, keepCookies},
		{"idle refresh due, within its grace", facts{idleDue: true, readOnly: true}, true, keepCookies},
		{"changed within its grace", facts{changed: true, readOnly: true}, true, skipReplaced},
		{"destroyed within its grace, then given data", facts{destroyed: true, readOnly: true, changed: true}, false, removeSession},
	}
	for _, tt := range tests {
		asked := false
		got := decide(tt.f, func() bool { asked = true; return tt.replaced })
		if got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
		if asked && (got == keepCookies || got == clearCookies) {
			t.Errorf("%s: asked the revocations although nothing is written", tt.name)
		}
	}
}
