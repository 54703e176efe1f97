package store

import "errors"

var (
	// ErrNotFound is returned when the row asked for does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned when a change would break a uniqueness rule
	// (an email already taken, a product version already published).
	ErrConflict = errors.New("store: conflict")
	// ErrInvalid is returned for a value the store refuses before any
	// change: an empty name, an unknown role, a malformed DSN.
	ErrInvalid = errors.New("store: invalid")
)
