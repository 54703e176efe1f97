package identity

import "errors"

// Errors returned by this package.
var (
	// ErrNotEnrolled means the data directory holds no identity yet.
	ErrNotEnrolled = errors.New("identity: not enrolled (no identity in data_dir)")
	// ErrCorrupt means an identity file is missing, malformed or does not
	// agree with the others; the error names the file.
	ErrCorrupt = errors.New("identity: identity files are corrupt")
	// ErrInvalid means an identity handed to Save is incomplete or
	// inconsistent.
	ErrInvalid = errors.New("identity: invalid identity")
	// ErrInsecureDir means others than the owner can write to the data
	// directory.
	ErrInsecureDir = errors.New("identity: data_dir is not private")
	// ErrLocked means another process holds the data directory.
	ErrLocked = errors.New("identity: data_dir is in use by another collectord")
)
