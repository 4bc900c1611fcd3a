package cookiesession

import (
	"net/http"
	"time"

	"github.com/ce967478/cookiesession/revocation"
)

// state is one request's session as the engine sees it: everything but
// Data, which only the typed Session holds, so that the engine's code is
// the same for every T.
type state struct {
	id              SessionID
	created, issued time.Time     // whole seconds, as sealed
	lifetime        time.Duration // as sealed (Contents.Lifetime), zero for none
	err             error         // why the request's cookie was not used
	isNew           bool          // no cookie of the request opened
	held            held          // what the browser holds of this session
	end             end           // Destroy or Renew, pending until written
	stale           bool          // to be sealed again: an older key, the other format, the old name
	// subject is whom the cookie's data names (WithSubject), "" for none,
	// and generation the subject's generation it was signed in under:
	// what revoking the session, or checking it, goes by.
	subject    string
	generation uint64
	binding    SessionID // the device binding, zero if none (WithDeviceBinding)
	flashes    []string
	// cookieFlashes is how many flashes the cookie held, and
	// flashesChanged whether the list differs from the cookie's: reading
	// them all changes the cookie only if it held some.
	cookieFlashes  int
	flashesChanged bool
	// orig is Data serialised as the cookie brought it (for a new session,
	// the zero value's): at commit, a change is a difference from it.
	orig []byte
	// present has bit i set when cookie i (0: the main cookie, i > 0:
	// chunk i) came with the request, so that it can be deleted; moved,
	// the same under the name earlier releases used by default.
	present, moved uint32
	// otherCookies is the length of the request's Cookie header less the
	// session's cookies, a separator counted with each: what the next
	// request carries besides ours; sentCookies, the header's whole length.
	otherCookies, sentCookies int
	// pending are failures for the error handler, which needs the
	// response writer and so hears of them after the commit.
	pending []error
	// req is the request the session was loaded for; mw the middleware's
	// state for it, nil without the middleware.
	req *http.Request
	mw  committer
}

// held says what a browser holds of a session: whether ending it must
// revoke its id, and what else the response owes that cookie.
type held uint8

const (
	heldNothing   held = iota // no cookie: the session is new, or its cookie did not open
	heldCookie                // the cookie opened, or is kept while the store cannot tell
	heldReadOnly              // within a Renew's grace: it may end, not be written
	heldConverted             // a gorilla cookie, which the response deletes
)

// end is what Destroy or Renew asked for (Destroy wins), or a device
// binding's registration: each gives the session a new id.
type end uint8

const (
	endNone end = iota
	endRenew
	endDestroy
	endBind // registered (WithDeviceBinding): a new id, bound
)

// unbinds reports whether the session's device binding ends with its id:
// a Renew or Destroy writes an unbound session, which the browser
// registers again, so that the DBSC session always carries the id, time
// and generation the session is written with.
func (st *state) unbinds() bool { return st.end == endRenew || st.end == endDestroy }

// holder is the typed side of a session, as the engine uses it. Session is
// the one implementation.
type holder interface {
	st() *state
	decode(data []byte) error       // Data from the serialised form
	encode() ([]byte, error)        // Data serialised, as it would be sealed
	reset()                         // Data back to a new session's
	subject() string                // whom Data names (WithSubject), "" for none
	validate(r *http.Request) error // WithValidator's verdict
}

// front, the Manager whatever its T, makes a request's session when a
// handler first asks for it.
type front interface {
	newHolder() holder
}

// committer tells whether the middleware already sent the response's
// headers, after which a session can no longer be written.
type committer interface {
	isCommitted() bool
}

// fresh makes st a new session, started at now, whose cookies (present)
// did not open, for reason err.
func (st *state) fresh(now time.Time, zero []byte, present uint32, err error) {
	*st = state{
		id:      revocation.NewSessionID(),
		created: sealedTime(now),
		issued:  sealedTime(now),
		isNew:   true,
		err:     err,
		orig:    zero,
		present: present,
		req:     st.req,
		mw:      st.mw,
	}
}
