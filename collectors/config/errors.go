package config

import (
	"errors"
	"fmt"
)

// Errors returned by this package.
var (
	// ErrInvalid is wrapped by every validation problem (a FieldError).
	ErrInvalid = errors.New("config: invalid")
	// ErrParse means the file is not YAML of the expected shape: a syntax
	// error, an unknown field or a value of the wrong type.
	ErrParse = errors.New("config: cannot parse")
	// ErrTokenRequired means the collector is not enrolled yet and neither
	// token nor token_file is set.
	ErrTokenRequired = errors.New("config: a join token (token or token_file) is required until the collector is enrolled")
)

// FieldError is one bad field: where it is, the offending value (empty for
// secrets) and what is wrong with it.
type FieldError struct {
	// Field names the field as it is spelled in the file, with an index for
	// list entries ("masters[1]").
	Field string
	// Value is the offending value, quoted in the message; it is never set
	// for secrets.
	Value string
	// Problem says what is wrong.
	Problem string
	// secret marks fields whose value must not be printed.
	secret bool
}

// Error renders the problem as `config: masters[1] "x:y": invalid port`.
func (e *FieldError) Error() string {
	if e.secret || e.Value == "" {
		return fmt.Sprintf("config: %s: %s", e.Field, e.Problem)
	}
	return fmt.Sprintf("config: %s %q: %s", e.Field, e.Value, e.Problem)
}

// Unwrap makes every FieldError match ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }
