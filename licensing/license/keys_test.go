package license

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPublicKeyConfigForm(t *testing.T) {
	t.Parallel()
	pub := vendorKey.Public().(ed25519.PublicKey)
	line := FormatPublicKey(testKeyID, pub)
	require.True(t, strings.HasPrefix(line, "vendor-2026:"), "config form %q", line)
	id, got, err := ParsePublicKey("  " + line + " \n")
	require.NoError(t, err, "ParsePublicKey")
	require.Equal(t, testKeyID, id, "ParsePublicKey")
	require.True(t, got.Equal(pub), "ParsePublicKey: %v, want %v", got, pub)
	keyText := strings.TrimPrefix(line, "vendor-2026:")
	for _, bad := range []struct{ in, detail string }{
		{"vendor-2026", "want KEY-ID:BASE64"},
		{":" + keyText, "key id is empty"},
		{"vendor 2026:" + keyText, "key id \"vendor 2026\""},
		{"vendor-2026:" + keyText[:21], "not standard base64"},
		{"vendor-2026:" + strings.NewReplacer("+", "-", "/", "_").Replace(keyText) + "-_", "not standard base64"},
		{"vendor-2026:" + b64.EncodeToString(make([]byte, 31)), "public key has 31 bytes, want 32"},
	} {
		_, _, err := ParsePublicKey(bad.in)
		if assert.ErrorIs(t, err, ErrBadKey, "%q", bad.in) {
			assert.ErrorContains(t, err, bad.detail, "%q", bad.in)
		}
	}
}

func TestKeyrings(t *testing.T) {
	t.Parallel()
	a := FormatPublicKey(testKeyID, vendorKey.Public().(ed25519.PublicKey))
	b := FormatPublicKey(oldKeyID, oldKey.Public().(ed25519.PublicKey))
	k, err := ParseKeyring(a, b)
	require.NoError(t, err, "ParseKeyring")
	require.Len(t, k, 2, "ParseKeyring")
	assert.Equal(t, []KeyID{oldKeyID, testKeyID}, k.IDs(), "IDs")
	_, err = ParseKeyring(a, a)
	if assert.ErrorIs(t, err, ErrBadKey, "duplicate") {
		assert.ErrorContains(t, err, "vendor key 2:", "duplicate")
		assert.ErrorContains(t, err, "given twice", "duplicate")
	}
	file := "# vendor keys\n\n" + a + "\r\n   # rotated in 2026\n" + b + "\n"
	k, err = ReadKeyring(strings.NewReader(file))
	require.NoError(t, err, "ReadKeyring")
	require.Len(t, k, 2, "ReadKeyring")
	_, err = ReadKeyring(strings.NewReader(a + "\nnot a key\n"))
	if assert.ErrorIs(t, err, ErrBadKey, "bad line") {
		assert.ErrorContains(t, err, "line 2:", "bad line")
	}
	_, err = ReadKeyring(strings.NewReader(strings.Repeat("#\n", MaxTextSize)))
	assert.ErrorIs(t, err, ErrTooLarge, "huge file")
	assert.ErrorIs(t, (Keyring{}).Add(testKeyID, make([]byte, 5)), ErrBadKey, "short key")
}

func TestPrivateKeyFile(t *testing.T) {
	t.Parallel()
	pemBytes, err := MarshalPrivateKey(testKeyID, vendorKey)
	require.NoError(t, err)
	assert.Contains(t, string(pemBytes), "-----BEGIN PRIVATE KEY-----\nKey-Id: vendor-2026\n", "PEM")
	id, key, err := ParsePrivateKey(pemBytes)
	require.NoError(t, err, "ParsePrivateKey")
	require.Equal(t, testKeyID, id, "ParsePrivateKey")
	// Not require.Equal: a failure must not print the private key.
	require.True(t, key.Equal(vendorKey), "ParsePrivateKey returned another key")
	for name, in := range map[string][]byte{
		"empty":       nil,
		"public key":  []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
		"garbage DER": []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
		"bad key id":  bytes.Replace(pemBytes, []byte("Key-Id: vendor-2026"), []byte("Key-Id: vendor 2026"), 1),
	} {
		_, _, err := ParsePrivateKey(in)
		assert.ErrorIs(t, err, ErrBadKey, name)
	}
	_, err = MarshalPrivateKey("", vendorKey)
	assert.ErrorIs(t, err, ErrBadKey, "no key id")
}
