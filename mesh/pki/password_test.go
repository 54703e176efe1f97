package pki

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPasswordHashVerifies(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"), "hash %q", h)
	assert.NotContains(t, h, "correct horse")
	require.NoError(t, CheckPasswordHash(h))
	assert.True(t, VerifyPassword(h, "correct horse battery"))
	assert.False(t, VerifyPassword(h, "correct horse batterY"))
	assert.False(t, VerifyPassword(h, ""))

	// A fresh salt each time: the same password hashes differently.
	h2, err := HashPassword("correct horse battery")
	require.NoError(t, err)
	assert.NotEqual(t, h, h2)
	assert.True(t, VerifyPassword(h2, "correct horse battery"))
}

func TestPasswordPolicy(t *testing.T) {
	for name, pw := range map[string]string{
		"short":          "eleven char",
		"long":           strings.Repeat("x", MaxPasswordLen+1),
		"not utf-8":      "abcdefghijkl\xff",
		"trailing space": "a long enough password ",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := HashPassword(pw)
			require.ErrorIs(t, err, ErrPasswordPolicy)
			if name != "not utf-8" {
				assert.NotContains(t, err.Error(), pw, "the error carries the password")
			}
		})
	}
	// Twelve characters, counted as characters, not bytes.
	require.NoError(t, CheckPasswordPolicy("ééééééééééé1"))
}

func TestPasswordHashRefusesWhatItDidNotWrite(t *testing.T) {
	good, err := HashPassword("a good long password")
	require.NoError(t, err)
	parts := strings.Split(good, "$")
	for name, h := range map[string]string{
		"empty":          "",
		"bcrypt":         "$2a$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
		"argon2i":        strings.Replace(good, "argon2id", "argon2i", 1),
		"old version":    strings.Replace(good, "v=19", "v=16", 1),
		"huge memory":    strings.Join([]string{"", parts[1], parts[2], "m=4194304,t=2,p=1", parts[4], parts[5]}, "$"),
		"zero time":      strings.Join([]string{"", parts[1], parts[2], "m=19456,t=0,p=1", parts[4], parts[5]}, "$"),
		"bad salt":       strings.Join([]string{"", parts[1], parts[2], parts[3], "!!", parts[5]}, "$"),
		"short key":      strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "AAAA"}, "$"),
		"extra field":    good + "$x",
		"oversized hash": good + strings.Repeat("A", 300),
	} {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, CheckPasswordHash(h), ErrPasswordHash)
			assert.False(t, VerifyPassword(h, "a good long password"))
		})
	}
}
