package dashboard

import "errors"

var (
	// ErrNoSource is returned by Config.Validate when Config.Source is nil.
	ErrNoSource = errors.New("dashboard: config has no Source")
	// ErrNoAuth is returned by Config.Validate when Config.Auth is nil.
	ErrNoAuth = errors.New("dashboard: config has no Auth function")
	// ErrSessionKey is returned by Config.Validate when Config.SessionKey is
	// shorter than MinSessionKeyLen.
	ErrSessionKey = errors.New("dashboard: session key too short")
	// ErrPrefix is returned by Config.Validate for a Prefix that is not an
	// absolute path without a trailing slash.
	ErrPrefix = errors.New("dashboard: bad path prefix")
	// ErrSessionTTL is returned by Config.Validate for a SessionTTL that is
	// not positive.
	ErrSessionTTL = errors.New("dashboard: session TTL must be positive")
	// ErrNoClock is returned by Config.Validate when Config.Clock is nil.
	ErrNoClock = errors.New("dashboard: config has no clock")

	// ErrLeaseLimit is returned by Config.Validate for a LeaseLimit that is
	// not positive.
	ErrLeaseLimit = errors.New("dashboard: lease limit must be positive")

	// ErrSignInThrottled, wrapped by an AuthFunc's error, says the name
	// failed to sign in too often; the sign-in form shows the error's text.
	ErrSignInThrottled = errors.New("too many failed sign-ins")

	// ErrSignInUnavailable, wrapped by an AuthFunc's error, says this
	// master cannot judge a sign-in now (it cannot tell that its state is
	// current): the form says so, answered 503, and names no cause.
	ErrSignInUnavailable = errors.New("this master cannot check sign-ins now")

	// ErrSessionUnavailable, wrapped by a CheckFunc's error, says the
	// session cannot be judged here yet (a master still catching up with
	// the cluster): the request is answered 503 and the session kept.
	ErrSessionUnavailable = errors.New("this master cannot check the session yet")

	// errBadSession marks a session cookie that is malformed, forged or
	// expired; the visitor is sent to the sign-in form.
	errBadSession = errors.New("dashboard: invalid session")
)
