package release

import (
	"errors"
	"fmt"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Errors returned by this package. Each failure wraps one of these (test
// with errors.Is) and, where go-tuf judged it, go-tuf's own error too.
var (
	// ErrRollback means metadata is older than what the site already
	// trusts: a lower timestamp version, or a timestamp or snapshot that
	// lists a lower snapshot or targets version.
	ErrRollback = errors.New("release: rollback")
	// ErrExpired means metadata is expired at the time given (a freeze
	// attack, or a hub that stopped refreshing).
	ErrExpired = errors.New("release: expired metadata")
	// ErrSignature means metadata is not signed by the threshold of keys
	// the trusted root names for its role, or a key does not match.
	ErrSignature = errors.New("release: signature threshold not met")
	// ErrMismatch means metadata or an artifact does not match what the
	// metadata above it recorded: a snapshot or targets file from another
	// repository version (mix-and-match), a wrong hash or length, a gap in
	// the root chain.
	ErrMismatch = errors.New("release: mismatch")
	// ErrMalformed means metadata or trust that does not parse, lacks a
	// file the verification needs, or describes artifacts inconsistently.
	ErrMalformed = errors.New("release: malformed metadata")
	// ErrBadRelease means bad input to the vendor side: a bad version,
	// channel, component or platform, a version published twice or not
	// published, unusable keys or expiries.
	ErrBadRelease = errors.New("release: bad release")
	// ErrBadBundle means a bundle that is not a well-formed tar stream of
	// the expected entries: path traversal, duplicate or unknown entries,
	// entries over the size bounds.
	ErrBadBundle = errors.New("release: bad bundle")
)

// tufError words a refusal as "release: <detail>" while still matching both
// the package sentinel and go-tuf's error under errors.Is and errors.As.
type tufError struct {
	kind   error
	detail string
	cause  error
	// quiet leaves the cause out of the text when the detail already says
	// all it says.
	quiet bool
}

func (e *tufError) Error() string {
	if e.cause == nil || e.quiet {
		return "release: " + e.detail
	}
	return "release: " + e.detail + ": " + e.cause.Error()
}

func (e *tufError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

func fail(kind error, cause error, format string, args ...any) error {
	return &tufError{kind: kind, detail: fmt.Sprintf(format, args...), cause: cause}
}

// tufKind maps a go-tuf error to the sentinel a caller acts on. Version
// errors are rollbacks unless the caller knows better (see Verify), and
// anything that is not one of go-tuf's repository errors is malformed input.
func tufKind(err error) error {
	switch {
	case errors.Is(err, &metadata.ErrExpiredMetadata{}):
		return ErrExpired
	case errors.Is(err, &metadata.ErrUnsignedMetadata{}):
		return ErrSignature
	case errors.Is(err, &metadata.ErrLengthOrHashMismatch{}):
		return ErrMismatch
	case errors.Is(err, &metadata.ErrBadVersionNumber{}):
		return ErrRollback
	case errors.Is(err, &metadata.ErrRepository{}):
		return ErrMismatch
	default:
		return ErrMalformed
	}
}

// phrase says in words what kind of refusal a sentinel is, for details.
func phrase(kind error) string {
	switch kind {
	case ErrRollback:
		return "is a rollback"
	case ErrSignature:
		return "is not signed by the threshold of trusted keys"
	case ErrMismatch:
		return "does not match the trusted metadata"
	case ErrExpired:
		return "is expired"
	default:
		return "is malformed"
	}
}

func expiredError(file string, at, expires time.Time, cause error) error {
	return &tufError{kind: ErrExpired, cause: cause, quiet: true, detail: fmt.Sprintf("%s is expired at %s (expired %s)",
		file, at.UTC().Format(time.RFC3339), expires.UTC().Format(time.RFC3339))}
}
