package pki

import "errors"

// Errors returned by this package. Token parse errors wrap both
// ErrMalformedToken and the sentinel naming the part that is wrong, so callers
// can test for either with errors.Is.
var (
	// ErrBadID means a cluster, node or collector ID is empty or has
	// characters outside [A-Za-z0-9._-].
	ErrBadID = errors.New("pki: invalid id")
	// ErrBadHost means a host given for a node certificate is neither an IP
	// address nor a valid DNS name.
	ErrBadHost = errors.New("pki: invalid host")
	// ErrBadTTL means a certificate lifetime is not positive.
	ErrBadTTL = errors.New("pki: certificate ttl must be positive")
	// ErrCANotValid means the CA certificate is expired or not yet valid at
	// the time a certificate is issued.
	ErrCANotValid = errors.New("pki: CA certificate is not valid at this time")
	// ErrBadPEM means PEM input is missing, of the wrong type or has
	// trailing data.
	ErrBadPEM = errors.New("pki: invalid PEM")
	// ErrBadCA means a certificate loaded as the cluster CA is not a
	// self-signed CA certificate.
	ErrBadCA = errors.New("pki: not a cluster CA certificate")
	// ErrKeyMismatch means a private key does not belong to the certificate
	// it was loaded with.
	ErrKeyMismatch = errors.New("pki: private key does not match certificate")
	// ErrBadCSR means a certificate signing request cannot be parsed or its
	// signature does not verify.
	ErrBadCSR = errors.New("pki: invalid certificate request")
	// ErrWeakKey means a public key is of a supported kind but too small.
	ErrWeakKey = errors.New("pki: key is too weak")
	// ErrUnsupportedKey means a public key is of a kind this package does
	// not accept.
	ErrUnsupportedKey = errors.New("pki: unsupported key type")
	// ErrNoIdentity means a certificate carries no usable licmesh identity
	// URI.
	ErrNoIdentity = errors.New("pki: certificate has no licmesh identity")
	// ErrNotVerified means a TLS connection's peer certificate was not
	// verified, so its identity cannot be trusted.
	ErrNotVerified = errors.New("pki: peer certificate not verified")
	// ErrPinMismatch means the CA a server presented is not the one the
	// join token's pin names.
	ErrPinMismatch = errors.New("pki: server's cluster CA does not match the token's pin")
	// ErrUntrustedServer means a server's certificate chain does not verify
	// against the cluster CA it presented, or is not a master's.
	ErrUntrustedServer = errors.New("pki: server certificate does not verify against its cluster CA")
	// ErrBadPin means a CA pin is not 43 characters of unpadded base64url.
	ErrBadPin = errors.New("pki: malformed pin")

	// ErrMalformedToken is wrapped by every token parse error.
	ErrMalformedToken = errors.New("pki: malformed token")
	// ErrTokenPrefix means a token does not start with the expected kind
	// and version ("lmj1" or "lma1").
	ErrTokenPrefix = errors.New("pki: malformed token: wrong prefix or version")
	// ErrTokenParts means a token does not have the expected number of
	// dot-separated parts.
	ErrTokenParts = errors.New("pki: malformed token: wrong number of parts")
	// ErrTokenID means a token's ID is not 10 characters of a-z2-7.
	ErrTokenID = errors.New("pki: malformed token: bad id")
	// ErrTokenSecret means a token's secret is not 43 characters of
	// unpadded base64url encoding 32 bytes.
	ErrTokenSecret = errors.New("pki: malformed token: bad secret")
	// ErrTokenPin means a join token's CA pin is malformed.
	ErrTokenPin = errors.New("pki: malformed token: bad pin")
)

// tokenError carries a token parse failure: the sentinel for the part that is
// wrong plus a detail that never contains the input, so it cannot echo a
// secret.
type tokenError struct {
	kind   error
	detail string
}

func (e *tokenError) Error() string { return e.kind.Error() + ": " + e.detail }

func (e *tokenError) Unwrap() []error {
	if e.kind == ErrMalformedToken {
		return []error{ErrMalformedToken}
	}
	return []error{ErrMalformedToken, e.kind}
}
