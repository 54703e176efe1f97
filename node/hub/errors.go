package hub

import "errors"

var (
	// ErrInvalidArgument is returned for a request the hub refuses as
	// malformed; the message names the field.
	ErrInvalidArgument = errors.New("hub: invalid argument")
	// ErrPermission is returned when the caller's role does not allow the
	// call, or the thing it names is not the caller's to see.
	ErrPermission = errors.New("hub: permission denied")
	// ErrUnauthenticated is returned for a missing, unknown, expired or
	// revoked credential.
	ErrUnauthenticated = errors.New("hub: unauthenticated")
)
