package upstream

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
)

// Signed is a payload and a signature over it: the wire and file form of
// every document in this package. Payload is the document's exact JSON
// bytes; in JSON both fields are standard base64, so a document survives
// being carried inside another one byte for byte.
type Signed struct {
	// KeyID names the vendor key of a document the hub signs; empty for a
	// document a cluster signs, which its cluster ID names the key of.
	KeyID   string `json:"key_id,omitempty"`
	Payload []byte `json:"payload"`
	Sig     []byte `json:"sig"`
}

// Signing contexts: a signature over one kind of document can never be
// passed off as one over another, nor over a license or lease the same
// key signs.
const (
	batchContext    = "licmesh/usage-batch/v1"
	receiptContext  = "licmesh/usage-receipt/v1"
	requestContext  = "licmesh/activation-request/v1"
	proofContext    = "licmesh/cluster-proof/v1"
	quotesContext   = "licmesh/quote-requests/v1"
	maxKeyIDLen     = 64
	signatureLength = ed25519.SignatureSize
)

// signedMessage is what is signed: context, key ID and payload, NUL
// separated (neither context nor key ID holds a NUL).
func signedMessage(context, keyID string, payload []byte) []byte {
	m := make([]byte, 0, len(context)+len(keyID)+2+len(payload))
	m = append(m, context...)
	m = append(m, 0)
	m = append(m, keyID...)
	m = append(m, 0)
	return append(m, payload...)
}

func sign(context string, key ed25519.PrivateKey, keyID string, payload []byte) Signed {
	return Signed{KeyID: keyID, Payload: payload, Sig: ed25519.Sign(key, signedMessage(context, keyID, payload))}
}

// verify checks s's signature under context with pub.
func (s Signed) verify(context string, pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key has %d bytes, want %d", ErrBadSignature, len(pub), ed25519.PublicKeySize)
	}
	if len(s.Sig) != signatureLength {
		return fmt.Errorf("%w: signature has %d bytes, want %d", ErrBadSignature, len(s.Sig), signatureLength)
	}
	if !ed25519.Verify(pub, signedMessage(context, s.KeyID, s.Payload), s.Sig) {
		return fmt.Errorf("%w: the document was changed after it was signed, or signed with another key", ErrBadSignature)
	}
	return nil
}

// Hash is the hex SHA-256 of s's payload: a batch's place in its chain.
func (s Signed) Hash() string {
	h := sha256.Sum256(s.Payload)
	return hex.EncodeToString(h[:])
}

// Marshal returns s as one line of JSON.
func (s Signed) Marshal() []byte {
	b, _ := json.Marshal(s) // two byte slices and a string cannot fail
	return b
}

// ParseSigned reads one signed document's JSON form, at most limit bytes.
func ParseSigned(b []byte, limit int) (Signed, error) {
	var s Signed
	if err := decodeStrict(b, limit, &s, "signed document"); err != nil {
		return Signed{}, err
	}
	if len(s.Payload) == 0 {
		return Signed{}, fmt.Errorf("%w: signed document has no payload", ErrMalformed)
	}
	if len(s.KeyID) > maxKeyIDLen {
		return Signed{}, fmt.Errorf("%w: key id has %d bytes, at most %d", ErrMalformed, len(s.KeyID), maxKeyIDLen)
	}
	return s, nil
}

// decodeStrict decodes one JSON value of at most limit bytes into v,
// refusing unknown fields and trailing data. what names the document in
// errors.
func decodeStrict(b []byte, limit int, v any, what string) error {
	if len(b) > limit {
		return fmt.Errorf("%w: %s has %d bytes, at most %d allowed", ErrTooLarge, what, len(b), limit)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("%w: %s: data after the document", ErrMalformed, what)
	}
	return nil
}
