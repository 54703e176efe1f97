package harness

import "errors"

var (
	// ErrFatal is what Do returns when the function it ran called Fatal,
	// Fatalf or FailNow (or Error before returning); the message follows.
	ErrFatal = errors.New("harness: fatal")
	// ErrSkipped is what Do returns when the function it ran called Skip.
	ErrSkipped = errors.New("harness: skipped")
)
