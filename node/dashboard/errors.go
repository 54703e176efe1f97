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

	// errBadSession marks a session cookie that is malformed, forged or
	// expired; the visitor is sent to the sign-in form.
	errBadSession = errors.New("dashboard: invalid session")
)
