package usage

import "errors"

// Errors returned by this package. Errors about malformed input wrap one of
// these with a detail naming the problem; test them with errors.Is.
var (
	// ErrInvalidID means an installation or user ID is empty, too long, not
	// UTF-8 or holds control characters.
	ErrInvalidID = errors.New("usage: invalid id")
	// ErrInvalidRole means a role is not super, staff, manager or rep.
	ErrInvalidRole = errors.New("usage: invalid role")
	// ErrInvalidObservation means a user snapshot, logon or facts sample has
	// a missing or out-of-range field.
	ErrInvalidObservation = errors.New("usage: invalid observation")
	// ErrInvalidMonth means a month key is out of range or malformed.
	ErrInvalidMonth = errors.New("usage: invalid month")
	// ErrInvalidDay means a day key is out of range or malformed.
	ErrInvalidDay = errors.New("usage: invalid day")
	// ErrInvalidConfig means a ledger Config fails validation.
	ErrInvalidConfig = errors.New("usage: invalid config")
	// ErrOutsideMonth means an observation does not fall inside the month it
	// was given to.
	ErrOutsideMonth = errors.New("usage: observation outside the month")
	// ErrMonthClosed means the month is closed; its metrics never change
	// again, so the observation must be kept as a late arrival instead.
	ErrMonthClosed = errors.New("usage: month closed")
	// ErrMonthNotEnded means a month was asked to close before its end.
	ErrMonthNotEnded = errors.New("usage: month has not ended")
	// ErrPruneOpen means a prune would drop a month that is not closed yet.
	ErrPruneOpen = errors.New("usage: cannot prune a month that is not closed")
	// ErrBadSnapshot means a ledger snapshot is malformed or breaks an
	// invariant.
	ErrBadSnapshot = errors.New("usage: bad snapshot")
	// ErrZoneMismatch means a snapshot was taken with a different time zone
	// than the one configured.
	ErrZoneMismatch = errors.New("usage: snapshot time zone differs from configured zone")
)
