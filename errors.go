package cookiesession

import (
	"errors"

	"github.com/ce967478/cookiesession/revocation"
)

// Why a request's cookie was not used, for errors.Is: Session.Err wraps one
// of these, and the request gets a fresh session. They are expected, since
// a cookie is untrusted input (an old bookmark, a retired key, someone
// editing their cookies), and logged at debug level (two that an
// instance's configuration may cause, a clock ahead and a key missing, as
// a warning once a minute). No error of the
// package includes key material, a cookie's value or the session data it
// carries in its details (a serializer's error about the data it decodes
// is wrapped for errors.As, its message left out; for encoding/json's type
// errors, the field and its type are named instead). A save that fails
// keeps the serializer's message, which for encoding/json names a type, or
// a float JSON cannot hold (NaN, ±Inf), and for a MarshalJSON method of the
// application's, gives that method's error as it is.
var (
	// ErrMalformed is returned when a cookie is not something this library
	// wrote: bad base64, too short, an unknown format version, a broken set
	// of chunk cookies, or data that does not decode into the session type.
	ErrMalformed = errors.New("malformed session cookie")

	// ErrUnknownKey is returned when a cookie names a key that is not in
	// the Keyring, typically one that was retired, or one that another
	// instance seals with and this one lacks, which is logged as a
	// warning, with the key's id, at most once a minute.
	ErrUnknownKey = errors.New("session sealed by an unknown key")

	// ErrAuthentication is returned when a cookie names a known key but
	// does not authenticate: it was altered, or sealed for another cookie name.
	ErrAuthentication = errors.New("session cookie failed authentication")

	// ErrTooLarge is returned when a cookie is longer than WithMaxSize
	// allows, refused before it is decoded, and (wrapped in ErrSaveFailed)
	// when a session would seal to more than that.
	ErrTooLarge = errors.New("session too large")

	// ErrExpired is returned when a cookie opened but is past its absolute
	// lifetime (WithMaxAge) or idle timeout (WithIdleTimeout), or was
	// issued further in the future than ClockSkew allows.
	ErrExpired = errors.New("session expired")

	// ErrRevoked is returned when a cookie opened but its signed-in
	// session was revoked: destroyed, replaced by Renew (once RenewGrace
	// has passed), or signed out by SignOutEverywhere (see WithSubject).
	// It is revocation.ErrRevoked, which a RevocationStore's Check wraps.
	ErrRevoked = revocation.ErrRevoked

	// ErrRejected is returned when a cookie opened but the validator
	// (WithValidator) refused it; the validator's own error is wrapped too.
	ErrRejected = errors.New("session rejected by the validator")

	// ErrRevocationsUnavailable is returned when a RevocationStore cannot
	// tell whether a session is revoked and refuses it, as a Redis store
	// set to fail closed does while its copy of the revocations is stale.
	// The cookie is kept, so the user is signed in again once the store
	// is back.
	ErrRevocationsUnavailable = errors.New("session revocations unavailable")

	// ErrUnproven is returned when a cookie opened but its session is
	// bound to a device (WithDeviceBinding) and the request brought no
	// fresh bound cookie: a copy of the cookies past the bound lifetime,
	// or a browser whose refresh has not arrived yet. The cookie is kept.
	ErrUnproven = errors.New("session bound to a device, without a fresh proof from it")

	// ErrMigration is returned when a cookie written by gorilla/sessions
	// opened but the conversion function of WithGorillaMigration refused
	// its values; the conversion's own error is wrapped too.
	ErrMigration = errors.New("gorilla session not converted")
)

// Failures that lose data: each is logged with its cause and passed to the
// error handler (WithErrorHandler); none reaches Session.Err.
var (
	// ErrSaveFailed is returned, and passed to the error handler, when a
	// session could not be written: too large for WithMaxSize, or for the
	// next request's Cookie header together with the other cookies (with
	// ErrTooLarge), or the serializer failed, or the response that carried
	// it was dropped by http.TimeoutHandler (with http.ErrHandlerTimeout,
	// once the handler has returned). The cause is wrapped too. The
	// browser keeps its previous cookie.
	ErrSaveFailed = errors.New("session not saved")

	// ErrRevocationFailed is passed to the error handler when a
	// revocation by Destroy or Renew could not be stored where the other
	// instances see it, and returned by SignOutEverywhere when its own
	// could not; the cause is wrapped too. The response still ends the
	// session in the browser: Destroy's clears the cookie, Renew's writes
	// the new one.
	ErrRevocationFailed = errors.New("session revocation not stored")

	// ErrReplaced is passed to the error handler when a request's session
	// was revoked or renewed by another request of the same browser, or
	// before this one began (its cookie opened within RenewGrace, which is
	// read-only). This request's change, Renew included, is not written,
	// so that the browser keeps what the other response set and a copy of
	// a replaced cookie never becomes a new session. It is
	// revocation.ErrReplaced, which RevocationStore.Check wraps for an id
	// within RenewGrace.
	ErrReplaced = revocation.ErrReplaced

	// ErrChangeAfterCommit is returned, and passed to the error handler,
	// when a session changed after the response headers had been sent, so
	// that the change could not reach the browser; and for any change in a
	// request whose connection the handler hijacked.
	ErrChangeAfterCommit = errors.New("session changed after the response was committed")
)

var (
	// ErrInvalidKeys is returned by NewKeyring, ParseKeyring and
	// KeyringFromEnv when a key is missing, shorter than MinSecretSize, not
	// base64 or repeated; the position of the key and the problem are
	// wrapped with it.
	ErrInvalidKeys = errors.New("invalid session keys")
)
