package pki

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedSecret returns a known secret so tests can look for its text.
func fixedSecret(seed byte) Secret {
	b := new([32]byte)
	for i := range b {
		b[i] = seed + byte(i)*7
	}
	return Secret{box: &secretBox{b: b}}
}

func fixedJoinToken() JoinToken {
	var pin Pin
	for i := range pin {
		pin[i] = byte(200 - i)
	}
	return JoinToken{ID: "abcdefgh27", Secret: fixedSecret(1), Pin: pin}
}

func fixedAdminToken() AdminToken {
	return AdminToken{ID: "zyxwvuts76", Secret: fixedSecret(9)}
}

func TestJoinTokenRoundTrip(t *testing.T) {
	pin := newTestCA(t, "c1", fixedNow()).Pin()
	tok, err := NewJoinToken(pin)
	require.NoError(t, err, "NewJoinToken")
	text := tok.String()
	require.Regexp(t, `^lmj1\.[a-z2-7]{10}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$`, text, "token text has the wrong shape")
	require.True(t, strings.HasSuffix(text, "."+pin.String()), "token does not end with its pin")
	back, err := ParseJoinToken(text)
	require.NoError(t, err, "ParseJoinToken")
	// Not require.Equal on the text: a failure would print the secret.
	require.True(t, back.String() == text, "round trip changed the token")
	require.Equal(t, tok.ID, back.ID, "round trip changed the token's id")
	require.Equal(t, pin, back.Pin, "round trip changed the token's pin")
	require.True(t, VerifySecret(HashSecret(tok.Secret), back.Secret), "parsed secret does not verify against the original's hash")
}

func TestAdminTokenRoundTrip(t *testing.T) {
	tok, err := NewAdminToken()
	require.NoError(t, err, "NewAdminToken")
	text := tok.String()
	require.Regexp(t, `^lma1\.[a-z2-7]{10}\.[A-Za-z0-9_-]{43}$`, text, "token text has the wrong shape")
	back, err := ParseAdminToken(text)
	require.NoError(t, err, "ParseAdminToken")
	// Not require.Equal on the text: a failure would print the secret.
	require.True(t, back.String() == text, "round trip changed the token")
	require.Equal(t, tok.ID, back.ID, "round trip changed the token's id")
}

func TestTokensAreFresh(t *testing.T) {
	ids := make(map[TokenID]bool)
	secrets := make(map[[32]byte]bool)
	for range 200 {
		tok, err := NewAdminToken()
		require.NoError(t, err)
		_, err = ParseTokenID(string(tok.ID))
		require.NoError(t, err, "generated id is invalid")
		require.False(t, ids[tok.ID], "repeated id after %d tokens", len(ids))
		require.False(t, secrets[HashSecret(tok.Secret)], "repeated secret after %d tokens", len(ids))
		ids[tok.ID] = true
		secrets[HashSecret(tok.Secret)] = true
	}
}

func TestVerifySecret(t *testing.T) {
	a, b := fixedSecret(1), fixedSecret(2)
	h := HashSecret(a)
	assert.True(t, VerifySecret(h, a), "secret does not verify against its own hash")
	assert.False(t, VerifySecret(h, b), "another secret verifies")
	assert.False(t, VerifySecret(HashSecret(Secret{}), Secret{}), "the zero secret verifies")
}

func TestParseJoinTokenErrors(t *testing.T) {
	good := fixedJoinToken()
	secret := good.Secret.encode()
	pin := good.Pin.String()
	id := string(good.ID)
	join := func(parts ...string) string { return strings.Join(parts, ".") }
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrTokenPrefix},
		{"leading space", " " + good.String(), ErrMalformedToken},
		{"trailing newline", good.String() + "\n", ErrMalformedToken},
		{"bare secret", secret, ErrTokenPrefix},
		{"admin token", join("lma1", id, secret), ErrTokenPrefix},
		{"future version", join("lmj2", id, secret, pin), ErrTokenPrefix},
		{"upper-case prefix", join("LMJ1", id, secret, pin), ErrTokenPrefix},
		{"secret as prefix", join(secret, id, secret, pin), ErrTokenPrefix},
		{"no pin", join("lmj1", id, secret), ErrTokenParts},
		{"extra part", join("lmj1", id, secret, pin, "x"), ErrTokenParts},
		{"trailing dot", join("lmj1", id, secret, pin) + ".", ErrTokenParts},
		{"prefix only", "lmj1", ErrTokenParts},
		{"empty id", join("lmj1", "", secret, pin), ErrTokenID},
		{"short id", join("lmj1", id[:9], secret, pin), ErrTokenID},
		{"long id", join("lmj1", id+"a", secret, pin), ErrTokenID},
		{"upper-case id", join("lmj1", "ABCDEFGH27", secret, pin), ErrTokenID},
		{"id with 1", join("lmj1", "abcdefgh21", secret, pin), ErrTokenID},
		{"id with 8", join("lmj1", "abcdefgh28", secret, pin), ErrTokenID},
		{"secret in id place", join("lmj1", secret, id, pin), ErrTokenID},
		{"empty secret", join("lmj1", id, "", pin), ErrTokenSecret},
		{"short secret", join("lmj1", id, secret[:42], pin), ErrTokenSecret},
		{"long secret", join("lmj1", id, secret+"A", pin), ErrTokenSecret},
		{"padded secret", join("lmj1", id, secret[:42]+"=", pin), ErrTokenSecret},
		{"std base64 secret", join("lmj1", id, "+"+secret[1:], pin), ErrTokenSecret},
		{"secret stray bits", join("lmj1", id, secret[:42]+"B", pin), ErrTokenSecret},
		{"secret with newline", join("lmj1", id, secret[:10]+"\n"+secret[11:], pin), ErrTokenSecret},
		{"empty pin", join("lmj1", id, secret, ""), ErrTokenPin},
		{"short pin", join("lmj1", id, secret, pin[:40]), ErrTokenPin},
		{"pin with bad char", join("lmj1", id, secret, "*"+pin[1:]), ErrTokenPin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := ParseJoinToken(tt.in)
			require.ErrorIs(t, err, ErrMalformedToken)
			require.ErrorIs(t, err, tt.want)
			// A failed parse must not return a partial token.
			require.Empty(t, tok.ID, "a failed parse returned a partial token")
			require.True(t, tok.Secret.IsZero(), "a failed parse returned a partial token")
			require.True(t, tok.Pin.IsZero(), "a failed parse returned a partial token")
			assertNoSecret(t, err.Error(), secret)
			assertNoSecret(t, fmt.Sprintf("%+v %#v", err, err), secret)
			t.Log(err)
		})
	}
}

func TestParseAdminTokenErrors(t *testing.T) {
	good := fixedAdminToken()
	secret := good.Secret.encode()
	id := string(good.ID)
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"join token", fixedJoinToken().String(), ErrTokenPrefix},
		{"future version", "lma9." + id + "." + secret, ErrTokenPrefix},
		{"with pin", good.String() + "." + fixedJoinToken().Pin.String(), ErrTokenParts},
		{"bad id", "lma1.0000000000." + secret, ErrTokenID},
		{"bad secret", "lma1." + id + "." + secret[:30], ErrTokenSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAdminToken(tt.in)
			require.ErrorIs(t, err, ErrMalformedToken)
			require.ErrorIs(t, err, tt.want)
			assertNoSecret(t, err.Error(), secret)
			t.Log(err)
		})
	}
}

func TestParseTokenID(t *testing.T) {
	id, err := ParseTokenID("abcdefgh27")
	require.NoError(t, err, "ParseTokenID")
	require.Equal(t, TokenID("abcdefgh27"), id, "ParseTokenID")
	for _, s := range []string{"", "abc", "abcdefgh2!", "abcdefgh270"} {
		_, err := ParseTokenID(s)
		assert.ErrorIs(t, err, ErrTokenID, "ParseTokenID(%q)", s)
	}
}

// assertNoSecret fails if out contains the secret's text or any 8-character
// piece of it.
func assertNoSecret(t *testing.T, out, secret string) {
	t.Helper()
	for i := 0; i+8 <= len(secret); i++ {
		require.NotContains(t, out, secret[i:i+8], "output leaks the secret")
	}
}

func TestTokensRedactedInOutput(t *testing.T) {
	join, admin := fixedJoinToken(), fixedAdminToken()
	type exported struct{ Tok JoinToken }
	type unexported struct {
		tok   JoinToken
		admin AdminToken
	}
	values := map[string]any{
		"join":             join,
		"*join":            &join,
		"admin":            admin,
		"*admin":           &admin,
		"secret":           join.Secret,
		"exported field":   exported{join},
		"unexported field": unexported{join, admin},
		"slice":            []JoinToken{join},
		"map":              map[string]AdminToken{"a": admin},
	}
	secrets := []Secret{join.Secret, admin.Secret}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
			checkRedacted(t, name+" "+verb, fmt.Sprintf(verb, v), secrets)
		}
		checkRedacted(t, name+" Sprint", fmt.Sprint(v), secrets)
		if b, err := json.Marshal(v); err == nil {
			checkRedacted(t, name+" json", string(b), secrets)
		}
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("m", "v", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "v", v)
		checkRedacted(t, name+" slog text", text.String(), secrets)
		checkRedacted(t, name+" slog json", js.String(), secrets)
	}
	got := fmt.Sprint(join)
	assert.Contains(t, got, "[REDACTED]", "fmt of a join token")
	assert.Contains(t, got, string(join.ID), "fmt of a join token")
}

// checkRedacted fails if out shows any secret as base64url, hex or raw bytes.
func checkRedacted(t *testing.T, what, out string, secrets []Secret) {
	t.Helper()
	for _, s := range secrets {
		b := s.bytes()
		for _, enc := range []string{
			base64.RawURLEncoding.EncodeToString(b)[:12],
			fmt.Sprintf("%x", b[:6]),
			fmt.Sprintf("%X", b[:6]),
			fmt.Sprint(b[:6])[1:15], // "[1 8 15 ..." as fmt prints a byte slice
			string(b[:6]),
		} {
			if !assert.NotContains(t, out, enc, "%s leaks a secret", what) {
				return
			}
		}
	}
}

func FuzzParseJoinToken(f *testing.F) {
	good := fixedJoinToken().String()
	f.Add(good)
	f.Add(fixedAdminToken().String())
	f.Add("")
	f.Add("lmj1")
	f.Add("lmj1...")
	f.Add(good + ".")
	f.Add(good[:len(good)-1] + "B")
	f.Add(strings.Replace(good, "lmj1", "lmj2", 1))
	f.Add(strings.ToUpper(good))
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseJoinToken(s)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformedToken)
			return
		}
		require.Equal(t, s, tok.String(), "accepted %q but String() differs", s)
	})
}

func FuzzParseAdminToken(f *testing.F) {
	good := fixedAdminToken().String()
	f.Add(good)
	f.Add(fixedJoinToken().String())
	f.Add("")
	f.Add("lma1..")
	f.Add(good + "=")
	f.Add(good[:len(good)-1] + "B")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseAdminToken(s)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformedToken)
			return
		}
		require.Equal(t, s, tok.String(), "accepted %q but String() differs", s)
	})
}
