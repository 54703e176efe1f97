package leasebook

import "errors"

// Errors returned by this package.
var (
	// ErrFull means the book already holds max_leases leases (valid,
	// expired, lost or releasing) and none can be dropped.
	ErrFull = errors.New("leasebook: lease book is full (max_leases reached)")
	// ErrUnknown means the book holds no lease with that ID.
	ErrUnknown = errors.New("leasebook: no such lease")
	// ErrCollision means a master granted an ID the book already holds for
	// another pool or holder.
	ErrCollision = errors.New("leasebook: lease ID already held for another pool or holder")
	// ErrBadGrant means a grant is missing a field or has a TTL out of
	// range; the agent validates first, so this is a second line.
	ErrBadGrant = errors.New("leasebook: invalid grant")
)
