package lease

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Document is what a signed lease says: which seat of which pool, held by
// whom, through which collector, with which fencing token, until when. The
// collector and the product behind it check it offline with the cluster's
// public key.
type Document struct {
	ClusterID   string
	LeaseID     ID
	Fence       uint64
	Pool        string
	Holder      string
	CollectorID string
	// IssuedAt and ExpiresAt are kept at millisecond precision in UTC; Sign
	// truncates finer values.
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Grace is how long past ExpiresAt the seat stays the holder's while
	// its collector reaches no master (the pool's offline grace): the
	// masters count it held until then. Whole milliseconds, 0..MaxGrace.
	Grace time.Duration
	// Borrowed says the masters lent the seat until ExpiresAt: no renewal
	// is due before then.
	Borrowed bool
}

// ValidThrough is the last moment the document lets its holder work
// with no master: ExpiresAt plus the grace.
func (d Document) ValidThrough() time.Time { return d.ExpiresAt.Add(d.Grace) }

// Token is a signed lease document in its text form,
// "lml1.<base64url(payload)>.<base64url(signature)>" (unpadded base64url).
type Token string

// Limits on document fields. They bound the payload (and so the token) and
// let the encoding use one-byte length prefixes.
const (
	MaxClusterIDLen   = 128
	MaxHolderLen      = 255
	MaxCollectorIDLen = 128
	// MaxTokenLen is the longest well-formed token; longer input is refused
	// before any decoding.
	MaxTokenLen = 1024
)

const (
	tokenPrefix = "lml1."
	// A document with no grace and not borrowed is written as version 1,
	// byte for byte what collectors and products that predate grace read;
	// version 2 adds both.
	payloadVersion  = 1
	payloadVersion2 = 2
	// signContext separates lease signatures from anything else the cluster
	// key signs (entitlements, for one): a signature over a lease payload can
	// never be replayed as another kind of object, and vice versa.
	signContext = "licmesh/lease/v1\x00"
)

// The payload, version 1, is this fixed sequence (integers big-endian,
// strings as a one-byte length followed by that many bytes of UTF-8):
//
//	version     1 byte, 1
//	ClusterID   u8 len (1..128) + bytes
//	LeaseID     8 bytes, non-zero
//	Fence       8 bytes
//	Pool        u8 len (1..64) + bytes, a valid pool name
//	Holder      u8 len (1..255) + bytes
//	CollectorID u8 len (1..128) + bytes
//	IssuedAt    8 bytes, signed Unix milliseconds
//	ExpiresAt   8 bytes, signed Unix milliseconds, > IssuedAt
//
// Version 2 (only when the document has a grace or is borrowed; version 1
// otherwise) continues with:
//
//	Grace       8 bytes, milliseconds, 0..MaxGrace
//	Flags       1 byte: 1 borrowed; no other bit
//
// Nothing may follow. Every field has exactly one encoding, so a document
// has exactly one payload and decoding then re-encoding gives the same
// bytes. The signature is ed25519 over signContext followed by the payload.
const maxPayloadLen = 1 + 1 + MaxClusterIDLen + 8 + 8 + 1 + MaxPoolNameLen + 1 + MaxHolderLen + 1 + MaxCollectorIDLen + 8 + 8 + 8 + 1

const flagBorrowedDoc = 1

var b64 = base64.RawURLEncoding.Strict()

// Validate checks that every field of d is present and within bounds, and
// that the lease ends after it was issued (at millisecond precision).
func (d Document) Validate() error {
	if err := ValidateField("cluster id", d.ClusterID, MaxClusterIDLen); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidDocument, err)
	}
	if d.LeaseID == 0 {
		return fmt.Errorf("%w: lease id is 0", ErrInvalidDocument)
	}
	if err := ValidatePoolName(d.Pool); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidDocument, err)
	}
	if err := ValidateField("holder", d.Holder, MaxHolderLen); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidDocument, err)
	}
	if err := ValidateField("collector id", d.CollectorID, MaxCollectorIDLen); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidDocument, err)
	}
	if d.ExpiresAt.UnixMilli() <= d.IssuedAt.UnixMilli() {
		return fmt.Errorf("%w: expires_at is not after issued_at", ErrInvalidDocument)
	}
	if d.Grace < 0 || d.Grace > MaxGrace || d.Grace%time.Millisecond != 0 {
		return fmt.Errorf("%w: grace %s out of range 0..%s in whole milliseconds", ErrInvalidDocument, d.Grace, MaxGrace)
	}
	return nil
}

// Sign encodes doc and signs it with the cluster's private key.
func Sign(doc Document, key ed25519.PrivateKey) (Token, error) {
	if len(key) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("%w: private key has %d bytes, want %d", ErrBadKey, len(key), ed25519.PrivateKeySize)
	}
	if err := doc.Validate(); err != nil {
		return "", err
	}
	payload := encodePayload(doc)
	sig := ed25519.Sign(key, signedBytes(payload))
	var sb strings.Builder
	sb.Grow(len(tokenPrefix) + b64.EncodedLen(len(payload)) + 1 + b64.EncodedLen(len(sig)))
	sb.WriteString(tokenPrefix)
	sb.WriteString(b64.EncodeToString(payload))
	sb.WriteByte('.')
	sb.WriteString(b64.EncodeToString(sig))
	return Token(sb.String()), nil
}

// Verify checks a token's format, then its signature against the cluster's
// public key, then that the lease has not ended at now (ErrDocExpired when
// now >= ExpiresAt + Grace; the verified document is returned with that
// error, for display). Past ExpiresAt but within the grace the document
// verifies: the masters hold the seat that long, and only a holder cut off
// from them has a document that old. now should be trusted time, not just
// the local clock.
func Verify(tok Token, pub ed25519.PublicKey, now time.Time) (Document, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Document{}, fmt.Errorf("%w: public key has %d bytes, want %d", ErrBadKey, len(pub), ed25519.PublicKeySize)
	}
	payload, sig, err := split(tok)
	if err != nil {
		return Document{}, err
	}
	doc, err := decodePayload(payload)
	if err != nil {
		return Document{}, err
	}
	if !ed25519.Verify(pub, signedBytes(payload), sig) {
		return Document{}, ErrBadSignature
	}
	if end := doc.ValidThrough(); !now.Before(end) {
		return doc, fmt.Errorf("%w: ended at %s", ErrDocExpired, end.Format(time.RFC3339Nano))
	}
	return doc, nil
}

// Decode parses a token without checking its signature or times, for
// display. Never trust what it returns.
func Decode(tok Token) (Document, error) {
	payload, _, err := split(tok)
	if err != nil {
		return Document{}, err
	}
	return decodePayload(payload)
}

func signedBytes(payload []byte) []byte {
	b := make([]byte, 0, len(signContext)+len(payload))
	b = append(b, signContext...)
	return append(b, payload...)
}

// split checks the token's outer form and returns the decoded payload and
// signature bytes.
func split(tok Token) (payload, sig []byte, err error) {
	s := string(tok)
	if len(s) > MaxTokenLen {
		return nil, nil, fmt.Errorf("%w: %d bytes, at most %d allowed", ErrMalformed, len(s), MaxTokenLen)
	}
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok {
		return nil, nil, fmt.Errorf("%w: missing %q prefix", ErrMalformed, tokenPrefix)
	}
	p, sg, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, nil, fmt.Errorf("%w: want three dot-separated parts", ErrMalformed)
	}
	// The base64 decoder skips CR and LF; refusing everything outside the
	// alphabet keeps one token per document.
	for _, part := range [2]string{p, sg} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return nil, nil, fmt.Errorf("%w: character %q is not base64url", ErrMalformed, c)
			}
		}
	}
	payload, err = b64.DecodeString(p)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: payload: bad base64url", ErrMalformed)
	}
	sig, err = b64.DecodeString(sg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: signature: bad base64url", ErrMalformed)
	}
	if len(sig) != ed25519.SignatureSize {
		return nil, nil, fmt.Errorf("%w: signature has %d bytes, want %d", ErrMalformed, len(sig), ed25519.SignatureSize)
	}
	return payload, sig, nil
}

func encodePayload(d Document) []byte {
	b := make([]byte, 0, 1+1+len(d.ClusterID)+16+3+len(d.Pool)+len(d.Holder)+len(d.CollectorID)+16)
	b = append(b, payloadVersion)
	b = appendStr(b, d.ClusterID)
	b = binary.BigEndian.AppendUint64(b, uint64(d.LeaseID))
	b = binary.BigEndian.AppendUint64(b, d.Fence)
	b = appendStr(b, d.Pool)
	b = appendStr(b, d.Holder)
	b = appendStr(b, d.CollectorID)
	b = binary.BigEndian.AppendUint64(b, uint64(d.IssuedAt.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, uint64(d.ExpiresAt.UnixMilli()))
	if d.Grace != 0 || d.Borrowed {
		b[0] = payloadVersion2
		b = binary.BigEndian.AppendUint64(b, uint64(d.Grace.Milliseconds()))
		var flags byte
		if d.Borrowed {
			flags |= flagBorrowedDoc
		}
		b = append(b, flags)
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
}

func decodePayload(b []byte) (Document, error) {
	if len(b) > maxPayloadLen {
		return Document{}, fmt.Errorf("%w: payload has %d bytes, at most %d allowed", ErrMalformed, len(b), maxPayloadLen)
	}
	r := reader{b: b}
	v := r.byte("version")
	if r.err == nil && v != payloadVersion && v != payloadVersion2 {
		return Document{}, fmt.Errorf("%w: payload version %d, want %d or %d", ErrMalformed, v, payloadVersion, payloadVersion2)
	}
	var d Document
	d.ClusterID = r.str("cluster id")
	d.LeaseID = ID(r.u64("lease id"))
	d.Fence = r.u64("fence")
	d.Pool = r.str("pool")
	d.Holder = r.str("holder")
	d.CollectorID = r.str("collector id")
	issued := int64(r.u64("issued_at"))
	expires := int64(r.u64("expires_at"))
	if v == payloadVersion2 {
		grace := r.u64("grace")
		flags := r.byte("flags")
		switch {
		case r.err != nil:
		case grace > uint64(MaxGrace.Milliseconds()):
			r.fail("grace", fmt.Sprintf("%d ms, at most %d", grace, MaxGrace.Milliseconds()))
		case flags&^flagBorrowedDoc != 0:
			r.fail("flags", fmt.Sprintf("unknown bits %#x", flags))
		case grace == 0 && flags == 0:
			// One encoding per document: this one is version 1's.
			r.fail("version", "version 2 with no grace and not borrowed")
		}
		d.Grace = time.Duration(grace) * time.Millisecond
		d.Borrowed = flags&flagBorrowedDoc != 0
	}
	if r.err != nil {
		return Document{}, r.err
	}
	if len(r.b) != 0 {
		return Document{}, fmt.Errorf("%w: %d trailing bytes after payload", ErrMalformed, len(r.b))
	}
	d.IssuedAt = time.UnixMilli(issued).UTC()
	d.ExpiresAt = time.UnixMilli(expires).UTC()
	if err := d.Validate(); err != nil {
		return Document{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return d, nil
}

// reader consumes a payload, remembering the first error so that decoding
// reads as a straight sequence of fields.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(field string, what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s: %s", ErrMalformed, field, what)
	}
}

func (r *reader) byte(field string) byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.fail(field, "truncated")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u64(field string) uint64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.fail(field, "truncated")
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) str(field string) string {
	if r.err != nil {
		return ""
	}
	if len(r.b) < 1 {
		r.fail(field, "truncated")
		return ""
	}
	n := int(r.b[0])
	if len(r.b) < 1+n {
		r.fail(field, "truncated")
		return ""
	}
	s := string(r.b[1 : 1+n])
	r.b = r.b[1+n:]
	return s
}

// ValidateField checks a string bound for a lease document: non-empty, at
// most max bytes of valid UTF-8, no control characters, so that it always
// prints sanely. The error names field and is not wrapped in a sentinel;
// callers wrap it in their own.
func ValidateField(field, s string, max int) error {
	switch {
	case s == "":
		return fmt.Errorf("%s is empty", field)
	case len(s) > max:
		return fmt.Errorf("%s has %d bytes, at most %d allowed", field, len(s), max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s contains a control character", field)
		}
	}
	return nil
}
