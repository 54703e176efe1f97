package sources

import (
	"errors"
	"fmt"
)

// Errors returned by this package. Every error about one source is an *Error
// that wraps one of these; test with errors.Is.
var (
	// ErrConfig means a source's configuration is unusable: a field is
	// missing, malformed or out of range, or a file it names cannot be read.
	ErrConfig = errors.New("sources: invalid config")
	// ErrConnect means the source's database or endpoint could not be
	// reached.
	ErrConnect = errors.New("sources: cannot connect")
	// ErrQuery means a query, request or command failed.
	ErrQuery = errors.New("sources: query failed")
	// ErrWriteRefused means a query tried to change the database; sources
	// only ever read.
	ErrWriteRefused = errors.New("sources: write refused: sources are read-only")
	// ErrTimeout means the source did not answer within its timeout.
	ErrTimeout = errors.New("sources: timed out")
	// ErrTooManyRows means a query returned more rows than max_rows.
	ErrTooManyRows = errors.New("sources: too many rows")
	// ErrTooLarge means an HTTP body or a command's output exceeded its
	// byte limit.
	ErrTooLarge = errors.New("sources: output too large")
	// ErrBadResult means a result does not have the expected shape: wrong
	// columns, a NULL or non-integer scalar, JSON that does not parse.
	ErrBadResult = errors.New("sources: unexpected result")
	// ErrMissingField means a JSON path names a field or index that is not
	// in the document.
	ErrMissingField = errors.New("sources: field not found")
	// ErrExit means a command exited with a non-zero status.
	ErrExit = errors.New("sources: command failed")
	// ErrClosed means the source was closed.
	ErrClosed = errors.New("sources: source closed")
)

// Error is a problem with one source. Its message names the source and
// where the problem is (a config field such as "sql.dsn_file", or a query
// such as "sql.scalars.users"), and never holds a password or token: text
// that comes from a driver or a server is scrubbed of the source's secrets
// before it is stored here.
type Error struct {
	// Source is the source's name.
	Source string
	// Field is where the problem is, spelled as in the config file.
	Field string
	// Kind is the sentinel this error wraps.
	Kind error
	// Detail says what is wrong, in words.
	Detail string
	// cause is a context error (Canceled or DeadlineExceeded) when the
	// problem came from one; other causes are not kept, because their text
	// may hold secrets.
	cause error
}

// Error renders `sources: "name": field: detail`.
func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("sources: %q: %s", e.Source, e.Detail)
	}
	return fmt.Sprintf("sources: %q: %s: %s", e.Source, e.Field, e.Detail)
}

// Unwrap returns the sentinel and, when there is one, the context error.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Kind, e.cause}
	}
	return []error{e.Kind}
}
