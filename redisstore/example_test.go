package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/redisstore"
	"github.com/redis/go-redis/v9"
)

// User is the application's session data.
type User struct{ ID string }

// An application whose instances share revocations through Redis. It needs
// a running Redis, so it is compiled but not run.
func Example() {
	ctx := context.Background()
	opt, err := redis.ParseURL(os.Getenv("REDIS_URL")) // redis://127.0.0.1:6379/0
	if err != nil {
		log.Fatal(err)
	}
	// Let the context's deadline reach the socket, so that a Revoke that
	// gives up also stops using its connection.
	opt.ContextTimeoutEnabled = true
	store, err := redisstore.New(ctx, redis.NewClient(opt))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	// Optional: wait for the first load rather than start Down. The
	// readiness check below says the same to the load balancer.
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := store.WaitReady(wait); err != nil {
		log.Printf("serving with revocations not loaded yet: %v", err)
	}

	keys, err := cookiesession.KeyringFromEnv("SESSION_KEYS")
	if err != nil {
		log.Fatal(err)
	}
	// Only signed-in sessions are revoked: WithSubject names their user.
	sessions, err := cookiesession.New[User](keys,
		cookiesession.WithSubject(func(u User) string { return u.ID }),
		cookiesession.WithRevocation(store))
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		// Not ready only while Down; Degraded (Redis trouble that the
		// whole fleet shares) keeps the instance in service.
		if err := store.Ready(); err != nil {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		h, _ := store.Health()
		fmt.Fprintln(w, h) // "healthy" or "degraded"
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		sessions.Get(r).Destroy() // refused on every instance from now on
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout-everywhere", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.Get(r)
		if err := sessions.SignOutEverywhere(r.Context(), s.Data.ID); err != nil {
			log.Printf("sign out everywhere: %v", err)
		}
		s.Destroy()
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	log.Fatal(http.ListenAndServe(":8080", sessions.Handler(mux)))
}
