package lease

import "errors"

// Errors returned by this package. Errors about malformed input wrap one of
// these with a detail naming the problem; test them with errors.Is.
var (
	// ErrInvalidEnforcement means an enforcement mode is neither "hard" nor
	// "soft".
	ErrInvalidEnforcement = errors.New("lease: invalid enforcement (want hard or soft)")
	// ErrInvalidPool means a pool's name, seat count or enforcement is out of
	// range.
	ErrInvalidPool = errors.New("lease: invalid pool")
	// ErrInvalidTTL means a lease time-to-live is not positive.
	ErrInvalidTTL = errors.New("lease: ttl must be positive")
	// ErrUnknownLease means the deadline table holds no lease with that ID.
	ErrUnknownLease = errors.New("lease: unknown lease")
	// ErrExpired means a lease's deadline has passed; renewal cannot revive
	// it.
	ErrExpired = errors.New("lease: lease expired")
	// ErrInvalidDocument means a lease document cannot be signed because a
	// field is empty, too long or out of range.
	ErrInvalidDocument = errors.New("lease: invalid lease document")
	// ErrBadKey means a signing or verification key has the wrong length.
	ErrBadKey = errors.New("lease: bad ed25519 key")
	// ErrMalformed means a lease token is not a well-formed lml1 token.
	ErrMalformed = errors.New("lease: malformed lease token")
	// ErrBadSignature means a lease token's signature does not verify with
	// the cluster key.
	ErrBadSignature = errors.New("lease: bad lease signature")
	// ErrDocExpired means a lease token verified but its lease has ended.
	ErrDocExpired = errors.New("lease: lease document expired")
)
