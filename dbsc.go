package cookiesession

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ce967478/cookiesession/internal/dbsc"
	"github.com/ce967478/cookiesession/revocation"
)

// The DBSC endpoint that Handler serves at WithDeviceBinding's path. See
// binding.go for the design.

// serveBinding answers a POST to the binding's path: a registration, or,
// with the identifier of a DBSC session, a refresh.
func (e *engine) serveBinding(w http.ResponseWriter, r *http.Request, f front) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var err error
	if len(r.Header.Values(dbsc.HeaderSessionID)) > 0 {
		err = e.refresh(w, r)
	} else {
		err = e.register(w, r, f)
	}
	if err != nil {
		// Like a cookie, a proof is untrusted input: not a warning.
		e.logger.LogAttrs(r.Context(), slog.LevelDebug, "cookiesession: device binding refused",
			slog.String("cookie", e.cookies.name), slog.Any("error", err))
	}
}

// register binds the request's signed-in session to the key of the proof
// the browser sent, over a challenge issued for the session's id.
func (e *engine) register(w http.ResponseWriter, r *http.Request, f front) error {
	now := e.now()
	s := f.newHolder()
	e.load(r, now, s)
	st := s.st()
	token, err := dbsc.ReadProof(r.Header)
	var p *dbsc.Proof
	if err == nil {
		p, err = dbsc.VerifyRegistration(token)
	}
	if err == nil {
		_, err = e.binding.challenges.Verify(now, dbsc.PurposeRegistration, st.id.String(), p.JTI)
	}
	switch {
	case err != nil:
	case st.isNew || st.subject == "":
		err = errors.New("no signed-in session to bind")
	case st.binding != (SessionID{}):
		err = errors.New("the session is bound already")
	case st.held == heldReadOnly:
		err = errors.New("the session's cookie is within a Renew's grace, read-only: it cannot be written with a binding")
	}
	if err != nil {
		http.Error(w, "cannot bind this session", http.StatusBadRequest)
		return err
	}
	// Bound under a new id: the unbound cookie, and any copy of it, is
	// revoked like a renewed one (but for the zero id: see ended).
	unbound := st.id
	st.binding, st.end, st.stale = revocation.NewSessionID(), endBind, true
	err = e.commit(w.Header(), s)
	defer e.reportPending(w, st) // as after a handler: once the answer is written
	switch {
	case err != nil:
		e.report(w, r, err)
		return err
	case st.id == unbound, st.binding == (SessionID{}):
		// Not written (another request revoked or renewed the session
		// since it was loaded), or written without it: nothing carries
		// the binding.
		http.Error(w, "cannot bind this session", http.StatusBadRequest)
		return errors.New("the session was replaced meanwhile")
	}
	if err := e.binding.setBound(w.Header(), e.cookies, st.binding, now); err != nil {
		return err
	}
	return e.answer(w, r, e.identifier(st, p.Key, now))
}

// identifier seals what a refresh needs: the binding's id, the subject
// and generation, and the device's key. It lives as long as the session.
func (e *engine) identifier(st *state, key *dbsc.PublicKey, now time.Time) string {
	data := binary.AppendUvarint(nil, uint64(len(st.subject)))
	data = append(append(data, st.subject...), key.Bytes()...)
	v, _ := e.keys.seal(e.binding.idName, &Contents{Created: st.created, Issued: now, Lifetime: e.maxAge, ID: st.binding, Generation: st.generation, Data: data})
	return v
}

// bound is a DBSC session, as its identifier carries it.
type bound struct {
	binding    SessionID
	subject    string
	generation uint64
	key        *dbsc.PublicKey
}

func (e *engine) openIdentifier(v string, now time.Time) (bound, error) {
	c, _, err := e.keys.open(e.binding.idName, v, openOptions{now: now, maxAge: e.maxAge, maxLength: dbsc.MaxFieldSize})
	if err != nil {
		return bound{}, err
	}
	n, k := binary.Uvarint(c.Data)
	if k <= 0 || n > uint64(len(c.Data)-k) {
		return bound{}, fmt.Errorf("%w: bad DBSC session identifier", ErrMalformed)
	}
	key, err := dbsc.ParsePublicKey(c.Data[k+int(n):])
	return bound{binding: c.ID, subject: string(c.Data[k : k+int(n)]), generation: c.Generation, key: key}, err
}

// refresh renews the bound cookie of the DBSC session whose identifier
// the request carries: first with a 403 and a challenge, then, given a
// proof over it signed by the device, with a fresh cookie. A revoked
// session, or an identifier that does not open, gets a bare 403.
func (e *engine) refresh(w http.ResponseWriter, r *http.Request) error {
	now := e.now()
	id, err := dbsc.ReadSessionID(r.Header)
	var b bound
	if err == nil {
		b, err = e.openIdentifier(id, now)
	}
	if err == nil {
		err = e.revocations.Check(b.subject, b.binding, b.generation, now)
	}
	switch {
	case errors.Is(err, ErrRevocationsUnavailable):
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return err
	case err != nil:
		http.Error(w, "session ended", http.StatusForbidden)
		return err
	}
	token, err := dbsc.ReadProof(r.Header)
	if errors.Is(err, dbsc.ErrHeaderMissing) {
		return e.challenge(w, id, b)
	}
	var p *dbsc.Proof
	if err == nil {
		p, err = dbsc.VerifyRefresh(token, b.key)
	}
	if err != nil {
		http.Error(w, "session ended", http.StatusForbidden)
		return err
	}
	used, err := e.binding.challenges.Verify(now, dbsc.PurposeRefresh, b.binding.String(), p.JTI)
	if err == nil {
		err = e.answerOnce(r.Context(), b.subject, used, now)
	}
	switch {
	case err == nil:
	case errors.Is(err, dbsc.ErrInvalidChallenge), errors.Is(err, ErrRevoked):
		// A stale, foreign or replayed challenge: a fresh one. A bare
		// 403 would end the browser's session.
		return errors.Join(err, e.challenge(w, id, b))
	default:
		// The store cannot record the answer, or the subject's devices
		// answered too often: the browser tries again later, and its
		// session lives on.
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return err
	}
	if err := e.binding.setBound(w.Header(), e.cookies, b.binding, now); err != nil {
		return err
	}
	return e.answer(w, r, id)
}

// challenge answers 403 with a challenge over the binding's id.
func (e *engine) challenge(w http.ResponseWriter, id string, b bound) error {
	v, err := dbsc.ChallengeHeaderValue(e.binding.challenges.Issue(e.now(), dbsc.PurposeRefresh, b.binding.String()), id)
	if err != nil {
		http.Error(w, "session ended", http.StatusForbidden)
		return err
	}
	w.Header().Set(dbsc.HeaderChallenge, v)
	w.WriteHeader(http.StatusForbidden)
	return nil
}

// maxAnswers bounds the refresh answers of one subject's devices that are
// recorded at a time. Each is held for the challenge window and twice the
// skew, six minutes, and Chromium refreshes once the bound cookie has less
// than two minutes left: at a lifetime of three minutes a device answers
// about seven times in six minutes, so that the cap serves 36 devices, and
// more at the ten minutes WithDeviceBinding suggests. Under two minutes a
// device refreshes on every request, and a busy user may reach the cap. A
// user who holds a key of their own (a script needs no TPM) can answer as
// fast as the server challenges, and every answer merges the subject's
// whole entry, in the replica and in a shared store: uncapped, a flood
// grows the state without bound and costs time quadratic in its length.
const maxAnswers = 8 * MaxRevokedSessions

// errTooManyAnswers refuses a refresh past maxAnswers. It is not a
// refusal of the session: the browser retries, and is answered once the
// oldest records have expired.
var errTooManyAnswers = errors.New("too many refreshes of the subject's devices answered within the challenge window")

// answerOnce records the challenge a refresh answered, under a subject of
// its own (so that the subject's cap on revoked sessions is not spent on
// it), and refuses one answered before with an error wrapping ErrRevoked,
// and one past maxAnswers with errTooManyAnswers.
func (e *engine) answerOnce(ctx context.Context, subject string, used dbsc.Used, now time.Time) error {
	key := "\x00dbsc\x00" + subject
	id := SessionID(used.ID)
	// Check and record are two calls to the store: an answer being
	// recorded on this instance is refused meanwhile, so that one proof
	// sent twice at once is accepted once. Across instances the window is
	// a store's round trip.
	if _, busy := e.binding.answering.LoadOrStore(id, struct{}{}); busy {
		return fmt.Errorf("challenge being answered: %w", ErrRevoked)
	}
	defer e.binding.answering.Delete(id)
	// No generation is in question, only the id: where users name
	// themselves, one may be called key, and its sign-outs everywhere
	// must not refuse every answer of another user's devices.
	if err := e.revocations.Check(key, id, math.MaxUint64, now); err != nil {
		return fmt.Errorf("challenge answered before: %w", err)
	}
	if _, n := e.revocations.Generation(key); n >= maxAnswers {
		return fmt.Errorf("%w: %d, at most %d", errTooManyAnswers, n, maxAnswers)
	}
	r := revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: id, Until: used.Until}}}
	return e.revocations.Revoke(context.WithoutCancel(ctx), key, r)
}

// answer writes the DBSC session's instructions.
func (e *engine) answer(w http.ResponseWriter, r *http.Request, id string) error {
	// The bound cookie's attributes, as its Set-Cookie line writes them
	// (without Max-Age).
	attrs := strings.TrimPrefix(e.cookies.before+e.cookies.after, "; ")
	body, err := json.Marshal(dbsc.Instructions{
		SessionIdentifier: id,
		RefreshURL:        e.binding.path,
		Scope:             dbsc.Scope{Origin: "https://" + r.Host},
		Credentials:       []dbsc.Credential{{Name: e.binding.cookie, Attributes: attrs}},
	})
	if err != nil {
		http.Error(w, "cannot bind this session", http.StatusInternalServerError)
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, err = w.Write(body)
	return err
}
