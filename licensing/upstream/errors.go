package upstream

import "errors"

// Errors returned by this package. Each failure wraps one of these with a
// detail naming what is wrong; test them with errors.Is.
var (
	// ErrMalformed means a document is not the JSON this package reads, or
	// a field is missing or out of range.
	ErrMalformed = errors.New("upstream: malformed")
	// ErrTooLarge means a document exceeds its size bound.
	ErrTooLarge = errors.New("upstream: too large")
	// ErrBadSignature means a signature does not verify with the key it
	// must be checked with: the document was changed after signing, or it
	// was signed by someone else.
	ErrBadSignature = errors.New("upstream: bad signature")
	// ErrWrongCluster means a document names another cluster than the one
	// it was checked for.
	ErrWrongCluster = errors.New("upstream: wrong cluster")
	// ErrBrokenChain means batches do not follow each other: a gap in the
	// sequence, or a batch whose previous hash is not its predecessor's.
	ErrBrokenChain = errors.New("upstream: broken chain")
	// ErrConflict means a batch takes a place in the chain that another
	// batch already holds.
	ErrConflict = errors.New("upstream: conflicting batch")
	// ErrStale means a proof is too old or too far in the future.
	ErrStale = errors.New("upstream: stale proof")
)
