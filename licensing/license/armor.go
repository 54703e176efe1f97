package license

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// The armoured form of a license:
//
//	-----BEGIN LICMESH LICENSE-----
//	Key-Id: vendor-2026
//	eyJmb3JtYXQiOjEsImxpY2Vuc2VfaWQiOiJsaWMtMjAyNi0wMDAxIiwiY3VzdG9t
//	...                   (standard base64 of the payload, 64 columns)
//	=<standard base64 of the 64-byte Ed25519 signature>
//	-----END LICMESH LICENSE-----
//
// Open tolerates what copy and paste does to text: CRLF or CR line ends,
// indentation and trailing spaces, text before BEGIN and after END (an
// e-mail, a ticket). Inside the markers it refuses anything else: a blank
// line, an unknown header, a line that is not base64, a line of the wrong
// width, a second license.
const (
	beginMarker = "-----BEGIN LICMESH LICENSE-----"
	endMarker   = "-----END LICMESH LICENSE-----"
	keyIDHeader = "Key-Id"
	lineWidth   = 64
	// signContext separates license signatures from everything else a
	// vendor key signs (releases, for one): a signature over a license
	// can never be passed off as one over something else.
	signContext = "licmesh/license/v1\x00"
)

// MaxTextSize bounds the text Open reads, license and pasted surroundings
// together.
const MaxTextSize = 256 << 10

var b64 = base64.StdEncoding.Strict()

// Envelope is a parsed but unverified license: the vendor key ID, the
// payload's exact bytes and the signature. Nothing in it is trustworthy
// before Verify.
type Envelope struct {
	KeyID     KeyID
	Payload   []byte
	Signature []byte
}

// Open parses armoured license text. It checks form only: the signature
// and the payload are for Verify. Errors wrap ErrTooLarge or ErrMalformed
// and say which line (1-based, in the text given) is at fault.
func Open(text []byte) (*Envelope, error) {
	if len(text) > MaxTextSize {
		return nil, fmt.Errorf("%w: text has %d bytes, at most %d allowed", ErrTooLarge, len(text), MaxTextSize)
	}
	lines := splitLines(text)
	begin, end := -1, -1
	for i, l := range lines {
		switch l {
		case beginMarker:
			if begin >= 0 {
				return nil, fmt.Errorf("%w: line %d: a second %s; give one license at a time", ErrMalformed, i+1, beginMarker)
			}
			begin = i
		case endMarker:
			if begin < 0 {
				return nil, fmt.Errorf("%w: line %d: %s before any %s", ErrMalformed, i+1, endMarker, beginMarker)
			}
			if end < 0 {
				end = i
			}
		}
	}
	switch {
	case begin < 0:
		return nil, fmt.Errorf("%w: no %s line", ErrMalformed, beginMarker)
	case end < 0:
		return nil, fmt.Errorf("%w: no %s line after line %d (is the license cut short?)", ErrMalformed, endMarker, begin+1)
	}
	return parseInner(lines[begin+1:end], begin+2)
}

// splitLines splits text at LF, CRLF or CR and trims each line's
// surrounding white space.
func splitLines(text []byte) []string {
	s := strings.ReplaceAll(string(text), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return lines
}

// parseInner parses the lines between the markers; first is the line
// number of inner[0] in the text.
func parseInner(inner []string, first int) (*Envelope, error) {
	if len(inner) < 3 {
		return nil, fmt.Errorf("%w: line %d: want a %s header, the payload and a signature line between the markers, found %d lines",
			ErrMalformed, first, keyIDHeader, len(inner))
	}
	for i, l := range inner {
		if l == "" {
			return nil, fmt.Errorf("%w: line %d: blank line inside the license", ErrMalformed, first+i)
		}
	}
	name, value, ok := strings.Cut(inner[0], ":")
	if !ok || name != keyIDHeader {
		return nil, fmt.Errorf("%w: line %d: want the header %q, found %s", ErrMalformed, first, keyIDHeader+": ...", quote(inner[0]))
	}
	keyID := KeyID(strings.TrimSpace(value))
	if pr := checkID(string(keyID), MaxKeyIDLen); pr != "" {
		return nil, fmt.Errorf("%w: line %d: key id %s", ErrMalformed, first, pr)
	}

	body := inner[1 : len(inner)-1]
	var enc strings.Builder
	for i, l := range body {
		n := first + 1 + i
		if l[0] == '=' {
			return nil, fmt.Errorf("%w: line %d: signature line before the end of the payload", ErrMalformed, n)
		}
		if j := strings.IndexFunc(l, notBase64); j >= 0 {
			return nil, fmt.Errorf("%w: line %d: %s at column %d is not base64", ErrMalformed, n, quoteByte(l[j]), j+1)
		}
		last := i == len(body)-1
		if len(l) > lineWidth || !last && len(l) != lineWidth {
			return nil, fmt.Errorf("%w: line %d: %d characters; payload lines have %d (the last one at most %d)",
				ErrMalformed, n, len(l), lineWidth, lineWidth)
		}
		enc.WriteString(l)
	}
	if enc.Len() > b64.EncodedLen(MaxPayloadSize) {
		return nil, fmt.Errorf("%w: payload has more than %d bytes", ErrTooLarge, MaxPayloadSize)
	}
	payload, err := b64.DecodeString(enc.String())
	if err != nil {
		return nil, fmt.Errorf("%w: lines %d-%d: payload is not valid base64 (%v)", ErrMalformed, first+1, first+len(body), err)
	}

	sigLine, n := inner[len(inner)-1], first+len(inner)-1
	sigText, ok := strings.CutPrefix(sigLine, "=")
	if !ok {
		return nil, fmt.Errorf("%w: line %d: want the signature line (=...) just before %s", ErrMalformed, n, endMarker)
	}
	sig, err := b64.DecodeString(sigText)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: line %d: signature is not %d bytes of base64", ErrMalformed, n, ed25519.SignatureSize)
	}
	return &Envelope{KeyID: keyID, Payload: payload, Signature: sig}, nil
}

func notBase64(r rune) bool {
	return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '+' || r == '/' || r == '=')
}

// Marshal returns e's canonical armoured text, ending in a newline. For
// an envelope from Open, it is the license as its vendor issued it, minus
// whatever pasting added around it.
func (e *Envelope) Marshal() []byte {
	enc := b64.EncodeToString(e.Payload)
	var b bytes.Buffer
	b.Grow(len(enc) + len(enc)/lineWidth + 200)
	b.WriteString(beginMarker + "\n")
	b.WriteString(keyIDHeader + ": " + string(e.KeyID) + "\n")
	for len(enc) > lineWidth {
		b.WriteString(enc[:lineWidth] + "\n")
		enc = enc[lineWidth:]
	}
	b.WriteString(enc + "\n")
	b.WriteString("=" + b64.EncodeToString(e.Signature) + "\n")
	b.WriteString(endMarker + "\n")
	return b.Bytes()
}

// signedMessage is what the vendor key signs: the context, the key ID
// (so a license cannot be relabelled to another key of the same keyring)
// and the payload's exact bytes. Key IDs have no NUL, so the message
// splits one way only.
func signedMessage(keyID KeyID, payload []byte) []byte {
	m := make([]byte, 0, len(signContext)+len(keyID)+1+len(payload))
	m = append(m, signContext...)
	m = append(m, keyID...)
	m = append(m, 0)
	return append(m, payload...)
}

// Seal signs payload, the exact JSON bytes to be licensed, with a vendor
// key and returns the armoured license. It refuses a payload that
// ParsePayload refuses, with the same error: a vendor cannot issue a
// license that no master would accept.
func Seal(payload []byte, key ed25519.PrivateKey, keyID KeyID) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: private key has %d bytes, want %d", ErrBadKey, len(key), ed25519.PrivateKeySize)
	}
	if err := keyID.Validate(); err != nil {
		return nil, err
	}
	if _, err := ParsePayload(payload); err != nil {
		return nil, err
	}
	return seal(payload, key, keyID), nil
}

func seal(payload []byte, key ed25519.PrivateKey, keyID KeyID) []byte {
	e := Envelope{
		KeyID:     keyID,
		Payload:   bytes.Clone(payload),
		Signature: ed25519.Sign(key, signedMessage(keyID, payload)),
	}
	return e.Marshal()
}

// SealPayload encodes p as JSON and seals it (see Seal).
func SealPayload(p *Payload, key ed25519.PrivateKey, keyID KeyID) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding: %v", ErrInvalidPayload, err)
	}
	return Seal(b, key, keyID)
}
