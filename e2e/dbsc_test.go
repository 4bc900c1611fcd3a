package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
)

// The library's device binding in real Chromium (issue 27): sign-in
// registers a key; the bound cookie expires and the browser refreshes
// through a 403 challenge and a signed proof, the held request going on
// with the new cookie; a thief's copy of every cookie works only until the
// bound lifetime ends, while the browser stays signed in; after Destroy,
// the next refresh ends the browser's DBSC session.

// dbscLifetime is the bound lifetime: the shortest the library accepts,
// so that the test waits for an expiry as little as it can. Under two
// minutes Chromium also refreshes alongside every request it sends.
const dbscLifetime = cookiesession.MinBoundLifetime

type dbscUser struct {
	User string `json:"user"`
}

func newDBSCApp(t *testing.T) http.Handler {
	t.Helper()
	keys, err := cookiesession.NewKeyring(cookiesession.GenerateSecret())
	if err != nil {
		t.Fatal(err)
	}
	m, err := cookiesession.New[dbscUser](keys,
		cookiesession.WithSubject(func(d dbscUser) string { return d.User }),
		cookiesession.WithDeviceBinding("/.well-known/dbsc", dbscLifetime))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("home")) })
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		s.Renew()
		s.Data.User = "ada"
		_, _ = w.Write([]byte("signed in"))
	})
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Destroy()
		_, _ = w.Write([]byte("signed out"))
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		if u := m.Get(r).Data.User; u != "" {
			_, _ = w.Write([]byte(u))
			return
		}
		http.Error(w, "signed out", http.StatusUnauthorized)
	})
	return m.Handler(mux)
}

func TestDeviceBindingInChromium(t *testing.T) {
	chromium := findChromium(t)
	srv := startDBSCServer(t, newDBSCApp(t))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	b := newDBSCBrowser(t, ctx, chromium, srv)
	const bound = cookiesession.DefaultName + ".bound"

	// Sign-in invites registration; Chromium registers a key at once.
	if status, body := b.navigate("/login"); status != http.StatusOK {
		t.Fatalf("GET /login: %d %q", status, body)
	}
	created, _ := b.waitEvent("the DBSC session's creation", 0, dbscStepTimeout, isDBSCEvent("creation"))
	if !created.Succeeded {
		t.Fatalf("Chromium refused the registration: %s\nevents:\n%s", dbscJSON(created), b.events)
	}
	if jar := b.cookies(); jar[cookiesession.DefaultName] == nil || jar[bound] == nil {
		t.Fatalf("after registration the browser holds %v, want the session and the bound cookie", names(jar))
	}

	// A copy of every cookie works while the bound cookie lives.
	thief, copied := b.thief(), time.Now()
	if status, body := thief.get("/whoami"); status != http.StatusOK || body != "ada" {
		t.Fatalf("thief, at once: %d %q", status, body)
	}

	// Once the bound cookie expired, the browser's next request is held
	// while it refreshes through a challenge; the thief is refused.
	b.waitCookieGone(bound, dbscLifetime+dbscStepTimeout)
	n := len(b.events.occurred()) // the proactive refreshes before are not this one
	if status, body := b.fetch("GET", "/whoami"); status != http.StatusOK || strings.TrimSpace(body) != "ada" {
		t.Fatalf("browser, after the bound cookie expired: %d %q\nevents:\n%s", status, body, b.events)
	}
	ch, n := b.waitEvent("the refresh's challenge", n, dbscStepTimeout, isDBSCEvent("challenge"))
	ev, n := b.waitEvent("the refresh that held the request", n, dbscStepTimeout, isDBSCEvent("refresh"))
	if !ch.Succeeded || !ev.Succeeded || ev.RefreshEventDetails.WasFullyProactiveRefresh {
		t.Fatalf("want a challenge, then a refresh that held the request; got %s and %s", dbscJSON(ch), dbscJSON(ev))
	}
	// The copy's bound cookie was sealed at most a second after the copy
	// (times are sealed in whole seconds, rounded up): past that and the
	// lifetime, the thief is refused, for good.
	dbscWait(ctx, t, "the thief's copy to be refused", time.Until(copied.Add(dbscLifetime+2*time.Second)), func() (bool, string) {
		status, body := thief.get("/whoami")
		return status == http.StatusUnauthorized, fmt.Sprintf("%d %q", status, body)
	})
	if status, body := b.fetch("GET", "/whoami"); status != http.StatusOK {
		t.Fatalf("browser, while the thief is refused: %d %q", status, body)
	}
	// Let the proactive refresh that follows a short-lived cookie finish.
	if ev, n = b.waitEvent("the proactive refresh after it", n, dbscStepTimeout, isDBSCEvent("refresh")); !ev.Succeeded {
		t.Fatalf("proactive refresh failed: %s", dbscJSON(ev))
	}

	// Destroy revokes the binding: the refresh that the missing bound
	// cookie starts is answered 403 without a challenge, which ends the
	// browser's DBSC session.
	if status, body := b.navigate("/logout"); status != http.StatusOK {
		t.Fatalf("GET /logout: %d %q", status, body)
	}
	b.fetch("GET", "/whoami")
	b.waitEvent("the session's termination", n, dbscStepTimeout, isDBSCEvent("termination"))
	if sessions := b.sessions(); len(sessions) != 0 {
		t.Fatalf("the browser still lists DBSC sessions %s", dbscJSON(sessions))
	}
}
