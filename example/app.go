package main

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/revocation"
)

// sessionData is everything the app keeps about a visitor. It lives in the
// cookie, serialised as JSON: fields can be added or removed in a later
// release without signing anyone out.
type sessionData struct {
	User string            `json:"user,omitempty"`
	Cart []string          `json:"cart,omitempty"`
	Data map[string]string `json:"data,omitempty"`
}

const (
	// maxUsername is the longest accepted user name, in characters.
	maxUsername = 64
	// maxForm bounds a request body. The whole session must fit in
	// cookiesession.DefaultMaxSize, so a larger form could never be saved.
	maxForm = 64 << 10
)

//go:embed templates
var templateFS embed.FS

var indexTemplate = template.Must(template.ParseFS(templateFS, "templates/index.html"))

// app holds the handlers' shared state. It is immutable once built, but
// for the health last logged.
type app struct {
	sessions *cookiesession.Manager[sessionData]
	logger   *slog.Logger
	// health reports how the revocation store is doing, and why when it
	// is not healthy.
	health func() (revocation.Health, error)
	// logged is the revocation.Health last logged, so that a state is
	// logged once when it begins rather than at every probe.
	logged atomic.Int64
}

// newApp returns the app's handler: every route behind the session
// middleware, and every state-changing request behind cross-origin
// protection. It does not listen, so tests can serve it with httptest.
func newApp(keys *cookiesession.Keyring, cfg config, logger *slog.Logger) (http.Handler, error) {
	opts := []cookiesession.Option{
		cookiesession.WithLogger(logger),
		cookiesession.WithMaxAge(cfg.MaxAge),
		cookiesession.WithIdleTimeout(cfg.IdleTimeout),
		// The signed-in user is the subject whose sessions "sign out
		// everywhere" ends.
		cookiesession.WithSubject(func(d sessionData) string { return d.User }),
	}
	if cfg.revocations != nil {
		opts = append(opts, cookiesession.WithRevocation(cfg.revocations))
	}
	if cfg.now != nil {
		opts = append(opts, cookiesession.WithClock(cfg.now))
	}
	if cfg.Insecure {
		// Development over plain http (see config.settle): browsers
		// differ on whether they keep Secure cookies from a loopback
		// address.
		opts = append(opts, cookiesession.WithSecure(false))
	}
	m, err := cookiesession.New[sessionData](keys, opts...)
	if err != nil {
		return nil, err
	}
	a := &app{sessions: m, logger: logger, health: healthOf(cfg.revocations)}
	a.logged.Store(notYetLogged)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /{$}", a.index)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("POST /logout-everywhere", a.logoutEverywhere)
	mux.HandleFunc("POST /cart", a.addToCart)
	mux.HandleFunc("POST /cart/clear", a.clearCart)
	mux.HandleFunc("POST /api/data", a.setData)
	mux.HandleFunc("GET /api/data", a.getData)
	mux.HandleFunc("GET /api/session", a.session)

	// CrossOriginProtection lets safe methods (GET, HEAD, OPTIONS) through
	// and refuses cross-origin POSTs, so it can guard the whole mux.
	return m.Handler(http.NewCrossOriginProtection().Handler(mux)), nil
}

// healthOf returns how store reports its health: the file and Redis
// stores have Health; a store with only Ready is up or down; one with
// neither (the library's default, in this process) is always healthy.
func healthOf(store cookiesession.RevocationStore) func() (revocation.Health, error) {
	switch s := store.(type) {
	case interface {
		Health() (revocation.Health, error)
	}:
		return s.Health
	case interface{ Ready() error }:
		return func() (revocation.Health, error) {
			if err := s.Ready(); err != nil {
				return revocation.Down, err
			}
			return revocation.Healthy, nil
		}
	}
	return func() (revocation.Health, error) { return revocation.Healthy, nil }
}

// healthz answers with the revocation store's state, in one word, for a
// load balancer: "healthy" or "degraded" with 200, "down" with 503.
// Degraded still serves, enforcing the revocations the instance holds:
// when the cause is shared (Redis unreachable), every instance is
// degraded at once, and pulling them all would take the site down. Down
// means that a revoked cookie could be accepted, or that every signed-in
// session is refused: that instance must get no traffic. The cause may
// name an address or hold a store's error text, so it goes to the log,
// once when the state begins, and never in the answer.
func (a *app) healthz(w http.ResponseWriter, r *http.Request) {
	h, err := a.health()
	if h != revocation.Healthy && h != revocation.Degraded {
		h = revocation.Down // an unknown state is not taken for a good one
	}
	a.logHealth(r, h, err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if h == revocation.Down {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write([]byte(h.String() + "\n"))
}

// logHealth logs h, with its cause, if it differs from the state last
// logged.
func (a *app) logHealth(r *http.Request, h revocation.Health, err error) {
	prev := a.logged.Swap(int64(h))
	switch {
	case prev == int64(h):
		return
	case prev == notYetLogged && h == revocation.Healthy:
		return // as expected: nothing to say
	case prev == notYetLogged && h == revocation.Down:
		// Starting: the store loads its revocations (a Redis store waits a
		// few seconds more on a new Redis), which is no failure.
		a.logger.InfoContext(r.Context(), "revocation store not ready yet: /healthz answers 503 until it is loaded", "error", err)
		return
	}
	switch h {
	case revocation.Healthy:
		a.logger.InfoContext(r.Context(), "revocation store healthy")
	case revocation.Degraded:
		a.logger.WarnContext(r.Context(), "revocation store degraded: still serving, revocations held here are enforced; "+
			"/healthz answers 200 degraded", "error", err)
	default:
		a.logger.ErrorContext(r.Context(), "revocation store down: /healthz answers 503", "error", err)
	}
}

// notYetLogged is the health logged before the first probe.
const notYetLogged = -1

// indexPage is what templates/index.html shows.
type indexPage struct {
	User    string
	Cart    []string
	Data    map[string]string
	Flashes []string
}

func (a *app) index(w http.ResponseWriter, r *http.Request) {
	s := a.sessions.Get(r)
	page := indexPage{User: s.Data.User, Cart: s.Data.Cart, Data: s.Data.Data}
	// GET patterns match HEAD too: a HEAD request (a link checker, curl -I)
	// shows no page, so it must not use up the messages the page shows.
	if r.Method != http.MethodHead {
		page.Flashes = s.Flashes()
	}
	// Render into a buffer so that a template error can still become a 500.
	var buf bytes.Buffer
	if err := indexTemplate.Execute(&buf, page); err != nil {
		a.logger.ErrorContext(r.Context(), "rendering the page", "error", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	// "user", as in the README's Quick start, so that its curl lines work
	// against this app too.
	name := strings.TrimSpace(r.PostForm.Get("user"))
	if n := utf8.RuneCountInString(name); n < 1 || n > maxUsername || !utf8.ValidString(name) {
		http.Error(w, "user must be a name of 1 to 64 characters", http.StatusBadRequest)
		return
	}
	s := a.sessions.Get(r)
	// A new lifetime on sign-in, so that a cookie captured before cannot
	// stand for the signed-in user.
	s.Renew()
	s.Data.User = name
	s.AddFlash("Signed in as " + name)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout ends the session: Destroy deletes the cookie and revokes the
// session's id, so that a copy of the cookie is refused too.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	s := a.sessions.Get(r)
	s.Destroy()
	// After Destroy a flash starts a new, otherwise empty session.
	s.AddFlash("Signed out")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logoutEverywhere ends every session of the signed-in user, in every
// browser and on every instance that shares the revocation store, this one
// included.
func (a *app) logoutEverywhere(w http.ResponseWriter, r *http.Request) {
	s := a.sessions.Get(r)
	msg := "Signed out everywhere"
	if user := s.Data.User; user != "" {
		if err := a.sessions.SignOutEverywhere(r.Context(), user); err != nil {
			// Logged, and said: this browser is signed out all the same.
			a.logger.ErrorContext(r.Context(), "signing out everywhere", "error", err)
			msg = "Signed out here; signing out elsewhere failed, try again"
		}
	}
	s.Destroy()
	s.AddFlash(msg)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) addToCart(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	var items []string
	for _, item := range r.PostForm["item"] {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	if len(items) == 0 {
		http.Error(w, "at least one non-empty item is needed", http.StatusBadRequest)
		return
	}
	s := a.sessions.Get(r)
	s.Data.Cart = append(s.Data.Cart, items...)
	// If the cart no longer fits the cookie, the library's default error
	// handling answers 500 and the browser keeps its previous cart.
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) clearCart(w http.ResponseWriter, r *http.Request) {
	s := a.sessions.Get(r)
	s.Data.Cart = nil
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// keyValue is the JSON body POST /api/data accepts.
type keyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func (a *app) setData(w http.ResponseWriter, r *http.Request) {
	var kv keyValue
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "application/json" {
		if err := json.NewDecoder(r.Body).Decode(&kv); err != nil {
			writeJSON(w, formErrorStatus(err), map[string]string{"error": "the body must be a JSON object with string fields key and value"})
			return
		}
	} else {
		if err := r.ParseForm(); err != nil {
			writeJSON(w, formErrorStatus(err), map[string]string{"error": "the form does not parse"})
			return
		}
		kv = keyValue{Key: r.PostForm.Get("key"), Value: r.PostForm.Get("value")}
	}
	if kv.Key == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "key is required"})
		return
	}
	s := a.sessions.Get(r)
	if s.Data.Data == nil {
		s.Data.Data = make(map[string]string)
	}
	s.Data.Data[kv.Key] = kv.Value
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

func (a *app) getData(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("key")
	if key == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "key is required"})
		return
	}
	v, ok := a.sessions.Get(r).Data.Data[key]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such key in the session"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"value": v})
}

// sessionView is what GET /api/session answers.
type sessionView struct {
	User      string            `json:"user"`
	Cart      []string          `json:"cart"`
	Data      map[string]string `json:"data"`
	New       bool              `json:"new"`
	CreatedAt string            `json:"created_at"`
}

func (a *app) session(w http.ResponseWriter, r *http.Request) {
	s := a.sessions.Get(r)
	v := sessionView{
		User:      s.Data.User,
		Cart:      s.Data.Cart,
		Data:      s.Data.Data,
		New:       s.IsNew(),
		CreatedAt: s.Created().Format(time.RFC3339),
	}
	// Empty collections as [] and {}, not null, for clients' convenience.
	if v.Cart == nil {
		v.Cart = []string{}
	}
	if v.Data == nil {
		v.Data = map[string]string{}
	}
	writeJSON(w, http.StatusOK, v)
}

// parseForm parses a bounded request body, answering the request itself
// and returning false if it cannot.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form does not parse", formErrorStatus(err))
		return false
	}
	return true
}

// formErrorStatus tells a body over maxForm from a malformed one.
func formErrorStatus(err error) int {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
