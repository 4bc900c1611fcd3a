package revocation

import (
	"errors"
	"fmt"
)

// The errors a store's Check returns, wrapped. Package cookiesession
// re-exports them as the same values (cookiesession.ErrRevoked and
// cookiesession.ErrReplaced), so errors.Is matches either name: the
// Manager decides on them, and applications read them in Session.Err.
var (
	// ErrRevoked is wrapped by Check's error when a session is refused:
	// its id was destroyed, or renewed and RenewGrace has passed, or its
	// subject was signed out everywhere since it was signed in.
	ErrRevoked = errors.New("session revoked")

	// ErrReplaced is wrapped by Check's error when a session's id was
	// renewed and is within RenewGrace: its cookie may be read, for the
	// requests of the same browser already in flight, but not written.
	// The Manager also reports it when a request's change is not written
	// because the session was revoked or renewed by another request.
	ErrReplaced = errors.New("session replaced by a concurrent request")
)

// The errors of Replica.Check, made once: Check runs on every request and
// must not allocate.
var (
	errSignedOutEverywhere = fmt.Errorf("%w: every session of its subject was signed out", ErrRevoked)
	errSessionRevoked      = fmt.Errorf("%w: the session was destroyed or renewed", ErrRevoked)
	errRenewed             = fmt.Errorf("%w: the session was renewed; its cookie opens for RenewGrace, read-only", ErrReplaced)
)
