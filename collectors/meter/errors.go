package meter

import "errors"

// Errors returned by this package.
var (
	// ErrInvalidConfig means a Config field is out of range or a required
	// dependency is missing; the error names it.
	ErrInvalidConfig = errors.New("meter: invalid config")
	// ErrEpochMismatch means the masters answered for another epoch than
	// the one sent: nothing was acknowledged. An answer for a newer epoch
	// makes the meter move above it (see the package comment); this error
	// is returned when it could not, or must wait first.
	ErrEpochMismatch = errors.New("meter: masters answered for another spool epoch")
	// ErrNoProgress means the masters answered but acknowledged nothing of
	// the batch.
	ErrNoProgress = errors.New("meter: masters acknowledged nothing new")
	// ErrKey means the pseudonym key file cannot be used; the error says
	// why, never what the key is.
	ErrKey = errors.New("meter: pseudonym key file unusable")
)
