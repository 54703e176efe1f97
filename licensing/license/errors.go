package license

import "errors"

// Errors returned by this package. Each failure wraps exactly one of these
// with a detail naming the problem; test them with errors.Is. Details never
// contain private keys.
var (
	// ErrMalformed means the license text is not a well-formed armoured
	// license: a missing or repeated marker, a bad header, a line that is
	// not base64, wrong wrapping, a bad signature line.
	ErrMalformed = errors.New("license: malformed license text")
	// ErrTooLarge means the license text or its payload exceeds the size
	// bound; nothing past the bound is read.
	ErrTooLarge = errors.New("license: too large")
	// ErrUnknownKey means the license names a vendor key ID that the
	// keyring does not hold.
	ErrUnknownKey = errors.New("license: unknown vendor key")
	// ErrBadSignature means the signature does not verify with the vendor
	// key the license names: the text was changed after signing, or it was
	// signed by another key.
	ErrBadSignature = errors.New("license: bad signature")
	// ErrBadKey means a vendor key (public or private) or key ID is not
	// usable: wrong length, bad encoding, bad ID, duplicate ID.
	ErrBadKey = errors.New("license: bad vendor key")
	// ErrInvalidPayload means the payload is not the JSON this package
	// reads: a syntax error, an unknown or duplicate field, a value of the
	// wrong JSON type.
	ErrInvalidPayload = errors.New("license: invalid payload")
	// ErrUnsupportedFormat means the payload's format version is not one
	// this build reads.
	ErrUnsupportedFormat = errors.New("license: unsupported payload format")
	// ErrInvalidField means a payload field is missing, out of range or
	// inconsistent with another. The error is a *FieldError naming the
	// field.
	ErrInvalidField = errors.New("license: invalid field")
	// ErrWrongCluster means the license is bound to another cluster.
	ErrWrongCluster = errors.New("license: bound to another cluster")
	// ErrExpired means the license's end, grace included, has passed at
	// trusted time.
	ErrExpired = errors.New("license: expired")
	// ErrNotYetValid means trusted time is before the license's not_before.
	ErrNotYetValid = errors.New("license: not yet valid")
	// ErrInvalidOptions means VerifyOptions cannot be used (no time given).
	ErrInvalidOptions = errors.New("license: invalid verify options")
	// ErrCreditsExhausted means a consumption needs more usage credits than
	// are left; nothing was consumed.
	ErrCreditsExhausted = errors.New("license: usage credits exhausted")
	// ErrInvalidUsage means a consumption amount is negative.
	ErrInvalidUsage = errors.New("license: invalid usage amount")
)

// FieldError names the payload field that failed validation and what is
// wrong with it. It wraps ErrInvalidField.
type FieldError struct {
	// Field is the field's path in the payload JSON, like "product.sku" or
	// "license_template[1].users_calculation".
	Field string
	// Problem says what is wrong, quoting the offending value where that
	// helps.
	Problem string
}

// Error returns "license: invalid field FIELD: PROBLEM".
func (e *FieldError) Error() string {
	return ErrInvalidField.Error() + " " + e.Field + ": " + e.Problem
}

// Unwrap returns ErrInvalidField.
func (e *FieldError) Unwrap() error { return ErrInvalidField }

func fieldErr(field, problem string) error { return &FieldError{Field: field, Problem: problem} }
