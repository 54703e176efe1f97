package selfupdate

import "errors"

// Errors returned by this package; each is wrapped with what failed.
var (
	// ErrSize means the new build does not have the announced size.
	ErrSize = errors.New("selfupdate: wrong size")
	// ErrChecksum means the new build's SHA-256 is not the announced one.
	ErrChecksum = errors.New("selfupdate: wrong sha256")
	// ErrVersion means the new build did not run, or did not say the
	// expected version.
	ErrVersion = errors.New("selfupdate: version check failed")
	// ErrNoNext means there is no staged build to swap in.
	ErrNoNext = errors.New("selfupdate: nothing staged")
	// ErrNoPrev means there is no previous build to go back to.
	ErrNoPrev = errors.New("selfupdate: no previous build")
	// ErrMode means a restart mode other than exec or exit.
	ErrMode = errors.New("selfupdate: unknown restart mode")
	// ErrBadMarker means the pending marker is unreadable or incomplete.
	ErrBadMarker = errors.New("selfupdate: damaged pending marker")
)
