package transport

import "errors"

var (
	// ErrNoTLS is returned when a config has no usable TLS configuration.
	ErrNoTLS = errors.New("transport: TLS config with a certificate is required")
	// ErrNoHandler is returned when a ServerConfig has no Handler.
	ErrNoHandler = errors.New("transport: handler is required")
	// ErrBadAddr is returned for a listen address that is not host:port.
	ErrBadAddr = errors.New("transport: invalid listen address")
	// ErrBadLimit is returned for a negative size, count or duration in a config.
	ErrBadLimit = errors.New("transport: invalid limit")
	// ErrBadMode is returned for an unknown client Mode.
	ErrBadMode = errors.New("transport: unknown mode")
	// ErrListen is returned when the TCP or UDP socket cannot be bound.
	ErrListen = errors.New("transport: listen failed")
	// ErrServerClosed is returned by Run when the server was already run or closed.
	ErrServerClosed = errors.New("transport: server closed")
	// ErrQUICDial marks a failure to set up a QUIC connection (dial or
	// handshake): nothing of the request was sent, so it may go over TCP.
	ErrQUICDial = errors.New("transport: quic dial failed")
	// ErrBodyNotReplayable is returned when a request must fall back to TCP but
	// its body was already consumed and it has no GetBody.
	ErrBodyNotReplayable = errors.New("transport: request body cannot be replayed")
	// ErrNoURL is returned by Client.RoundTrip for a request without a URL.
	ErrNoURL = errors.New("transport: request has no URL")
	// ErrRequestTooLarge is the reason given when a request body exceeds the
	// server's MaxRequestBytes.
	ErrRequestTooLarge = errors.New("transport: request body too large")
)
