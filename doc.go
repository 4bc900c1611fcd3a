// Package cookiesession keeps web sessions in encrypted cookies: any number
// of instances sharing the keys serve the same users, and the server keeps
// only what was signed out.
//
// A session is a value of the application's own type T. The middleware
// opens the cookie when a handler first asks for the session, notices by
// content whether the handler changed it, and writes the cookie back just
// before the response headers leave, only when it must:
//
//	keys, err := cookiesession.KeyringFromEnv("") // SESSION_KEYS
//	if err != nil {
//		log.Fatal(err)
//	}
//	sessions, err := cookiesession.New[User](keys,
//		// Whom a session is signed in as, "" for none: signing out then
//		// ends the session for every copy of its cookie.
//		cookiesession.WithSubject(func(u User) string { return u.Name }))
//	if err != nil {
//		log.Fatal(err)
//	}
//	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
//		s := sessions.Get(r)
//		s.Renew() // a new id and lifetime on every change of privilege
//		s.Data.Name = r.FormValue("name")
//		http.Redirect(w, r, "/", http.StatusSeeOther)
//	})
//	csrf := http.NewCrossOriginProtection() // the cookie rides along cross-site requests
//	http.ListenAndServe(addr, csrf.Handler(sessions.Handler(mux)))
//
// # Sealing
//
// The serialised session (JSON by default) is encrypted and authenticated
// with XChaCha20-Poly1305 under a key derived with HKDF-SHA256 from the
// newest secret of a Keyring, together with the format version, the key's
// id and the cookie's name, so a value moved to another cookie does not
// open. The creation and issue times sealed inside, with the lifetime the
// value was sealed under, bound the session's lifetime (WithMaxAge, default
// 24 hours) and idle time (WithIdleTimeout); the cookie's own Max-Age is
// only a hint to the browser.
//
// # Keys and rotation
//
// SESSION_KEYS holds base64 secrets of at least 32 bytes, newest first,
// separated by commas. The newest seals; all open; a cookie opened by an
// older key is sealed again by the newest on the same response. A fleet
// rotates in three deploys: "old,new" (new is accepted everywhere), then
// "new,old" (new seals), then, after the longest session lifetime, "new".
//
// # Bad cookies
//
// A cookie is untrusted input, and a request never fails because of one.
// A cookie that does not open (altered, expired, revoked, sealed by a
// retired key or for another cookie name, or refused by the validator)
// gives the handler a new, empty session, and Session.Err says why.
//
// # Sign-out
//
// Every session carries a random id, sealed inside. With WithSubject, which
// names the user a session is signed in as, Destroy revokes a signed-in
// session's id and Renew the one it replaces, so that a copy of the cookie
// stops working; SignOutEverywhere revokes every session of a user. No
// refusal depends on two machines agreeing on the time. Anonymous sessions
// are never revoked (a copy grants nothing), so the server keeps only the
// revocations of signed-in sessions, until they would have expired anyway:
// in process by default (on the instance that revoked, until it restarts),
// in a file with package filestore, or shared by a fleet through a
// RevocationStore such as this repository's redisstore. WithDeviceBinding
// goes further, and ties a session to the browser's device.
//
// # Failures that lose data
//
// A session that cannot be saved (too large for WithMaxSize or for the
// next request's Cookie header, or not serialisable) is logged and passed to the error handler, which by
// default answers 500; the browser keeps its previous cookie. A change
// made after the response was committed is logged and reported too.
//
// # Limits
//
// Two concurrent requests from one browser both start from the same cookie,
// and the later response wins: keep data that must not be lost that way in
// a database.
package cookiesession
