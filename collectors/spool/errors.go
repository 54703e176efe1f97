package spool

import "errors"

// Errors returned by this package.
var (
	// ErrClosed means the spool was closed.
	ErrClosed = errors.New("spool: closed")
	// ErrLocked means another process (or another Spool in this one) has the
	// directory open.
	ErrLocked = errors.New("spool: directory is in use by another spool")
	// ErrInvalidConfig means a Config field is out of range; the error names
	// it.
	ErrInvalidConfig = errors.New("spool: invalid config")
	// ErrInvalidArgument means a call got an argument it cannot use (an empty
	// payload, a non-positive batch limit); the error names it.
	ErrInvalidArgument = errors.New("spool: invalid argument")
	// ErrTooLarge means a payload is longer than Config.MaxRecordBytes.
	ErrTooLarge = errors.New("spool: record larger than max_record_bytes")
	// ErrAckAhead means Ack named a seq that was never appended.
	ErrAckAhead = errors.New("spool: ack beyond the last appended record")
	// ErrCorruptState means the state file cannot be read; the error names
	// the file. Open refuses rather than guess the ack mark and the next seq,
	// because a guessed seq could repeat one a master has already counted.
	ErrCorruptState = errors.New("spool: state file is corrupt")
	// ErrSync means the operating system failed to make appended records
	// durable; they may or may not survive a crash.
	ErrSync = errors.New("spool: sync to disk failed")
)

// Record decoding errors. errShort is a record cut off by the end of the
// data; errCorrupt is one whose bytes are wrong.
var (
	errShort   = errors.New("spool: record cut short")
	errCorrupt = errors.New("spool: corrupt record")
)
