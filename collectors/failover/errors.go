package failover

import "errors"

// Errors returned by this package.
var (
	// ErrBadList means a masters list from a master or from disk is empty,
	// too long or has an entry that is not a valid host:port; it is ignored
	// as a whole.
	ErrBadList = errors.New("failover: invalid masters list")
)
