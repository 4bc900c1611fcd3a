package cookiesession_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/gorilla/securecookie"
)

// Cart is an application's session type: any type JSON can encode works.
type Cart struct {
	User  string
	Items []string
}

// exampleKeys stands for the keys an application reads from SESSION_KEYS.
var exampleKeys, _ = cookiesession.NewKeyring([]byte("an example secret of 32 bytes!!!"))

func Example() {
	sessions, err := cookiesession.New[Cart](exampleKeys)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.Get(r)
		s.Data.Items = append(s.Data.Items, r.URL.Query().Get("item"))
		// No Save: the middleware sees the change and writes the cookie.
		fmt.Fprintf(w, "%d items", len(s.Data.Items))
	})
	mux.HandleFunc("GET /cart", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Join(sessions.Get(r).Data.Items, ", "))
	})
	srv := httptest.NewTLSServer(sessions.Handler(mux))
	defer srv.Close()

	// A client that keeps the cookies responses set, as a browser does.
	client := srv.Client()
	client.Jar, _ = cookiejar.New(nil)
	send := func(method, path string) (body string, setCookie bool) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), resp.Header.Get("Set-Cookie") != ""
	}
	send("POST", "/cart?item=tea")
	_, set := send("POST", "/cart?item=scones")
	fmt.Println("Set-Cookie sent:", set)
	body, set := send("GET", "/cart")
	fmt.Println(body)
	fmt.Println("Set-Cookie sent:", set)
	// Output:
	// Set-Cookie sent: true
	// tea, scones
	// Set-Cookie sent: false
}

func ExampleKeyringFromEnv() {
	if earlier, ok := os.LookupEnv("SESSION_KEYS"); ok {
		defer os.Setenv("SESSION_KEYS", earlier)
	} else {
		defer os.Unsetenv("SESSION_KEYS")
	}
	// In production SESSION_KEYS comes from the deployment; newest first.
	os.Setenv("SESSION_KEYS", cookiesession.EncodeSecret(cookiesession.GenerateSecret())+","+
		cookiesession.EncodeSecret(cookiesession.GenerateSecret()))

	keys, err := cookiesession.KeyringFromEnv("") // "" means SESSION_KEYS
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("keys:", strings.Count(keys.String(), ",")+1) // prints ids, never key material

	// Errors say which key is wrong and how to make a good one, and never
	// show key material.
	os.Setenv("SESSION_KEYS", "c2hvcnQ=")
	_, err = cookiesession.KeyringFromEnv("")
	fmt.Println(errors.Is(err, cookiesession.ErrInvalidKeys))
	fmt.Println(strings.SplitN(err.Error(), ";", 2)[0])
	// Output:
	// keys: 2
	// true
	// invalid session keys: SESSION_KEYS: key 1 decodes to 5 bytes
}

func ExampleManager_Get() {
	type Prefs struct{ Theme string }
	sessions, _ := cookiesession.New[Prefs](exampleKeys,
		cookiesession.WithIdleTimeout(30*time.Minute))
	app := sessions.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.Get(r) // opens the cookie on first use
		if s.IsNew() {
			s.Data.Theme = "dark"
		}
		fmt.Fprint(w, s.Data.Theme)
	}))
	resp := httptest.NewRecorder()
	app.ServeHTTP(resp, httptest.NewRequest("GET", "/", nil))
	fmt.Println(resp.Body.String(), resp.Header().Get("Vary"))
	// Output: dark Cookie
}

func ExampleSession_Renew() {
	sessions, _ := cookiesession.New[Cart](exampleKeys)
	login := sessions.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.Get(r)
		// Signing in changes privilege: start a new lifetime, keep the cart.
		s.Renew()
		s.Data.User = "ada"
		s.AddFlash("Welcome back, ada")
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}))
	home := sessions.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.Get(r)
		fmt.Fprint(w, s.Data.User, ": ", strings.Join(s.Flashes(), "; "))
	}))
	mux := http.NewServeMux()
	mux.Handle("POST /login", login)
	mux.Handle("GET /{$}", home)
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	client := srv.Client()
	client.Jar, _ = cookiejar.New(nil)                  // keeps the cookies, as a browser does
	resp, err := client.Post(srv.URL+"/login", "", nil) // and follows the redirect home
	if err != nil {
		log.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(b))
	resp, err = client.Get(srv.URL + "/") // the flash shows once
	if err != nil {
		log.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(b))
	// Output:
	// ada: Welcome back, ada
	// ada:
}

func ExampleSession_Destroy() {
	sessions, _ := cookiesession.New[Cart](exampleKeys,
		// A session signed in as a user names them: Destroy then revokes
		// it, so that a copy of the cookie stops working too.
		cookiesession.WithSubject(func(c Cart) string { return c.User }))
	app := sessions.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.Get(r)
		switch r.URL.Path {
		case "/login":
			s.Renew()
			s.Data.User = "ada"
		case "/logout":
			s.Destroy()
		default:
			fmt.Fprintf(w, "user %q, revoked %v", s.Data.User, errors.Is(s.Err(), cookiesession.ErrRevoked))
		}
	}))
	serve := func(path string, cookies []*http.Cookie) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", path, nil)
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		return w
	}
	signedIn := serve("/login", nil).Result().Cookies() // and a thief copies them
	fmt.Println("signed in:", serve("/", signedIn).Body.String())
	deleted := serve("/logout", signedIn).Result().Cookies()[0]
	fmt.Println("logout deletes the cookie:", deleted.Name, deleted.MaxAge < 0)
	fmt.Println("the copy:", serve("/", signedIn).Body.String())
	// Output:
	// signed in: user "ada", revoked false
	// logout deletes the cookie: __Host-session true
	// the copy: user "", revoked true
}

func ExampleWithValidator() {
	// signedOutAt stands for a per-user time kept in the application's
	// database, set by "sign out everywhere".
	signedOutAt := map[string]time.Time{}
	sessions, _ := cookiesession.New[Cart](exampleKeys,
		cookiesession.WithValidator(func(r *http.Request, s *cookiesession.Session[Cart]) error {
			if t, ok := signedOutAt[s.Data.User]; ok && !s.Created().After(t) {
				return errors.New("signed out everywhere")
			}
			return nil
		}))
	// Sign in: a response that sets the session's cookie.
	login := httptest.NewRecorder()
	sessions.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessions.Get(r).Data.User = "ada"
	})).ServeHTTP(login, httptest.NewRequest("POST", "/login", nil))
	// A later request with that cookie.
	later := func() {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(login.Result().Cookies()[0])
		s := sessions.Load(r) // where the validator runs
		fmt.Println(s.Data.User == "ada", errors.Is(s.Err(), cookiesession.ErrRejected))
	}
	later()
	// "Sign out everywhere", a second later than the sign-in: session
	// times are whole seconds, rounded up, so a session created less than
	// a second before a sign-out survives it (see Session.Created).
	signedOutAt["ada"] = time.Now().Add(time.Second)
	later()
	// Output:
	// true false
	// false true
}

// An application that used gorilla/sessions' CookieStore moves over
// without signing anyone out: the old store's keys and attributes, and a
// function from its session.Values to the new type, are all it takes. The
// gorilla cookie is read once, written back in this package's format on
// the same response, and deleted where the old store set it.
func ExampleWithGorillaMigration() {
	// What the application had:
	//
	//	store := sessions.NewCookieStore(hashKey, blockKey)
	//	store.Options.Path = "/"
	//	session.Values["user"] = "ada"
	hashKey := []byte("the old store's 32-byte hash key")
	blockKey := []byte("the old store's 32 B block key!!")
	//	store.Get(r, "session")
	old := cookiesession.GorillaStore{KeyPairs: [][]byte{hashKey, blockKey}, Path: "/"}

	sessions, err := cookiesession.New[Cart](exampleKeys,
		// The gorilla session's name, and a lifetime at least its store's
		// MaxAge (30 days by default), or New refuses: either would sign
		// users out.
		cookiesession.WithName("session"),
		cookiesession.WithMaxAge(30*24*time.Hour),
		cookiesession.WithSubject(func(c Cart) string { return c.User }),
		cookiesession.WithGorillaMigration(old, func(values map[any]any) (Cart, error) {
			user, _ := values["user"].(string)
			return Cart{User: user}, nil
		}))
	if err != nil {
		log.Fatal(err)
	}
	h := sessions.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "signed in as %q", sessions.Get(r).Data.User)
	}))

	// A cookie as gorilla/sessions wrote it (gob, through securecookie).
	value, err := securecookie.EncodeMulti("session", map[any]any{"user": "ada"},
		securecookie.CodecsFromPairs(hashKey, blockKey)...)
	if err != nil {
		log.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "session", Value: value})
	resp := httptest.NewRecorder()
	h.ServeHTTP(resp, r)
	fmt.Println(resp.Body.String())
	c := resp.Result().Cookies()[0]
	// The session's lifetime counts from the old cookie's last save.
	fmt.Println("re-sealed:", c.Value != value, "Max-Age days:", c.MaxAge/86400)
	// Output:
	// signed in as "ada"
	// re-sealed: true Max-Age days: 30
}

// Device binding (DBSC): a signed-in session is bound to a key the
// browser keeps, and a copy of its cookies works elsewhere for ten minutes
// at most. The sign-in response invites the browser to register; the
// middleware answers at the path given.
func ExampleWithDeviceBinding() {
	keys, err := cookiesession.NewKeyring(cookiesession.GenerateSecret())
	if err != nil {
		log.Fatal(err)
	}
	type User struct{ Name string }
	sessions, err := cookiesession.New[User](keys,
		cookiesession.WithSubject(func(u User) string { return u.Name }),
		cookiesession.WithDeviceBinding("/.well-known/dbsc", 10*time.Minute),
	)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.Get(r)
		s.Renew()
		s.Data.Name = "ada"
	})
	rec := httptest.NewRecorder()
	sessions.Handler(mux).ServeHTTP(rec, httptest.NewRequest("POST", "https://example.com/login", nil))
	invite := rec.Header().Get("Secure-Session-Registration")
	fmt.Println(invite[:strings.Index(invite, ";challenge=")])
	// Output: (ES256 RS256);path="/.well-known/dbsc"
}
