package localapi

import "errors"

// Errors returned by this package.
var (
	// ErrSocketInUse means another process serves the socket path.
	ErrSocketInUse = errors.New("localapi: socket is in use by another process")
	// ErrNotSocket means the socket path exists and is not a socket.
	ErrNotSocket = errors.New("localapi: socket path exists and is not a socket")
	// ErrNoListener means neither a TCP address nor a socket was configured.
	ErrNoListener = errors.New("localapi: neither listen nor socket is set")
)
