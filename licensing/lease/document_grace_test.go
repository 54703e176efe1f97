package lease

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGraceDocument: a document with an offline grace verifies past its
// end until the grace is over, and one borrowed says so; both round-trip,
// and a document with neither keeps version 1's bytes.
func TestGraceDocument(t *testing.T) {
	pub, priv := testKey(t)
	plain := testDoc()
	v1 := mustSign(t, plain, priv)
	body, _, _ := strings.Cut(strings.TrimPrefix(string(v1), "lml1."), ".")
	p, err := b64.DecodeString(body)
	require.NoError(t, err)
	assert.Equal(t, byte(1), p[0], "no grace, not borrowed: version 1")

	d := plain
	d.Grace = 2 * time.Minute
	tok := mustSign(t, d, priv)
	got, err := Verify(tok, pub, d.ExpiresAt.Add(time.Minute))
	require.NoError(t, err, "in grace the document verifies")
	assert.Equal(t, d, got)
	_, err = Verify(tok, pub, d.ExpiresAt.Add(2*time.Minute))
	require.ErrorIs(t, err, ErrDocExpired, "at the end of the grace it ends")
	assert.Equal(t, d.ExpiresAt.Add(2*time.Minute), d.ValidThrough())
	_, err = Verify(v1, pub, plain.ExpiresAt)
	require.ErrorIs(t, err, ErrDocExpired, "without grace it ends at ExpiresAt")

	b := plain
	b.Borrowed = true
	b.ExpiresAt = b.IssuedAt.Add(72 * time.Hour)
	got, err = Verify(mustSign(t, b, priv), pub, b.IssuedAt.Add(71*time.Hour))
	require.NoError(t, err)
	assert.True(t, got.Borrowed)
	assert.Zero(t, got.Grace)
}

func TestGraceDocumentRefused(t *testing.T) {
	_, priv := testKey(t)
	d := testDoc()
	d.Grace = MaxGrace + time.Millisecond
	_, err := Sign(d, priv)
	require.ErrorIs(t, err, ErrInvalidDocument)
	d.Grace = time.Microsecond
	_, err = Sign(d, priv)
	require.ErrorIs(t, err, ErrInvalidDocument, "grace in whole milliseconds")

	// Version 2 bytes that version 1 would have written, or with flags
	// this version does not know, are refused: one encoding per document.
	d.Grace = time.Second
	tok := mustSign(t, d, priv)
	body, sig, _ := strings.Cut(strings.TrimPrefix(string(tok), "lml1."), ".")
	p, err := b64.DecodeString(body)
	require.NoError(t, err)
	enc := func(p []byte) Token { return Token("lml1." + b64.EncodeToString(p) + "." + sig) }
	noGrace := append([]byte(nil), p...)
	for i := len(noGrace) - 9; i < len(noGrace); i++ {
		noGrace[i] = 0
	}
	_, err = Decode(enc(noGrace))
	require.ErrorIs(t, err, ErrMalformed)
	badFlags := append([]byte(nil), p...)
	badFlags[len(badFlags)-1] = 0x80
	_, err = Decode(enc(badFlags))
	require.ErrorIs(t, err, ErrMalformed)
	tooLong := append([]byte(nil), p...)
	copy(tooLong[len(tooLong)-9:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	_, err = Decode(enc(tooLong))
	require.ErrorIs(t, err, ErrMalformed)
}
