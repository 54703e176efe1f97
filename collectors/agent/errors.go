package agent

import (
	"errors"
	"fmt"

	"connectrpc.com/connect"
)

// Errors returned by this package.
var (
	// ErrInvalidInput means a pool, holder, lease ID or token from the
	// product is malformed; the error says which.
	ErrInvalidInput = errors.New("agent: invalid input")
	// ErrNotReady means the collector has not enrolled yet.
	ErrNotReady = errors.New("agent: not enrolled yet")
	// ErrUnavailable means no master answered in time; the error lists what
	// each one said.
	ErrUnavailable = errors.New("agent: no master gave a usable answer")
	// ErrRejected means a master refused the request; see RejectedError for
	// its code and message.
	ErrRejected = errors.New("agent: master refused the request")
	// ErrBadAnswer means a master's answer failed validation (a missing
	// lease, a TTL out of range, a token that does not verify or does not
	// match the request, an oversized list...). It is treated like a master
	// that did not answer: the next one is tried and nothing changes.
	ErrBadAnswer = errors.New("agent: invalid answer from master")
	// ErrProtocolVersion means a master speaks a protocol version this
	// collector does not.
	ErrProtocolVersion = errors.New("agent: unsupported protocol version")
	// ErrUnknownLease means this collector holds no lease with that ID.
	ErrUnknownLease = errors.New("agent: no such lease")
	// ErrFull means max_leases leases are already held.
	ErrFull = errors.New("agent: max_leases reached")
	// ErrCertificateExpired means the client certificate expired and there
	// is no join token to enroll again.
	ErrCertificateExpired = errors.New("agent: client certificate expired; restart with a join token to enroll again")
	// ErrRestart is Run's answer when an update swapped the binary (or put
	// the previous one back): the caller closes what it holds and restarts
	// the process (selfupdate.Restart). Leases were not released.
	ErrRestart = errors.New("agent: restart into the binary now in place")
	// ErrEnroll means enrollment failed in a way retrying will not fix: a
	// refused or malformed token, or a CA that does not match the pin.
	ErrEnroll = errors.New("agent: enrollment failed")
)

// RejectedError is a master's refusal: its Connect code and message. It wraps
// ErrRejected.
type RejectedError struct {
	// Master is the address of the master that refused.
	Master string
	// Code is the Connect code the master sent (ResourceExhausted when a
	// hard pool has no free seat, NotFound for an unknown pool, ...).
	Code connect.Code
	// Message is the master's explanation.
	Message string
}

// Error renders the refusal.
func (e *RejectedError) Error() string {
	return fmt.Sprintf("agent: master %s refused: %s: %s", e.Master, e.Code, e.Message)
}

// Unwrap makes a RejectedError match ErrRejected.
func (e *RejectedError) Unwrap() error { return ErrRejected }

// badAnswer marks an answer that failed validation.
func badAnswer(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadAnswer}, args...)...)
}
