package pki

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
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
	if err != nil {
		t.Fatalf("NewJoinToken: %v", err)
	}
	text := tok.String()
	if !regexp.MustCompile(`^lmj1\.[a-z2-7]{10}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$`).MatchString(text) {
		t.Fatalf("token text %q has the wrong shape", text)
	}
	if !strings.HasSuffix(text, "."+pin.String()) {
		t.Fatalf("token does not end with its pin")
	}
	back, err := ParseJoinToken(text)
	if err != nil {
		t.Fatalf("ParseJoinToken: %v", err)
	}
	if back.String() != text || back.ID != tok.ID || back.Pin != pin {
		t.Fatalf("round trip changed the token")
	}
	if !VerifySecret(HashSecret(tok.Secret), back.Secret) {
		t.Fatalf("parsed secret does not verify against the original's hash")
	}
}

func TestAdminTokenRoundTrip(t *testing.T) {
	tok, err := NewAdminToken()
	if err != nil {
		t.Fatalf("NewAdminToken: %v", err)
	}
	text := tok.String()
	if !regexp.MustCompile(`^lma1\.[a-z2-7]{10}\.[A-Za-z0-9_-]{43}$`).MatchString(text) {
		t.Fatalf("token text %q has the wrong shape", text)
	}
	back, err := ParseAdminToken(text)
	if err != nil {
		t.Fatalf("ParseAdminToken: %v", err)
	}
	if back.String() != text || back.ID != tok.ID {
		t.Fatalf("round trip changed the token")
	}
}

func TestTokensAreFresh(t *testing.T) {
	ids := make(map[TokenID]bool)
	secrets := make(map[[32]byte]bool)
	for range 200 {
		tok, err := NewAdminToken()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseTokenID(string(tok.ID)); err != nil {
			t.Fatalf("generated id is invalid: %v", err)
		}
		if ids[tok.ID] || secrets[HashSecret(tok.Secret)] {
			t.Fatalf("repeated id or secret after %d tokens", len(ids))
		}
		ids[tok.ID] = true
		secrets[HashSecret(tok.Secret)] = true
	}
}

func TestVerifySecret(t *testing.T) {
	a, b := fixedSecret(1), fixedSecret(2)
	h := HashSecret(a)
	if !VerifySecret(h, a) {
		t.Error("secret does not verify against its own hash")
	}
	if VerifySecret(h, b) {
		t.Error("another secret verifies")
	}
	if VerifySecret(HashSecret(Secret{}), Secret{}) {
		t.Error("the zero secret verifies")
	}
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
			if !errors.Is(err, ErrMalformedToken) || !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want ErrMalformedToken and %v", err, tt.want)
			}
			if tok.ID != "" || !tok.Secret.IsZero() || !tok.Pin.IsZero() {
				t.Fatalf("a failed parse returned a partial token")
			}
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
			if !errors.Is(err, ErrMalformedToken) || !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want ErrMalformedToken and %v", err, tt.want)
			}
			assertNoSecret(t, err.Error(), secret)
			t.Log(err)
		})
	}
}

func TestParseTokenID(t *testing.T) {
	if id, err := ParseTokenID("abcdefgh27"); err != nil || id != "abcdefgh27" {
		t.Fatalf("ParseTokenID = %q, %v", id, err)
	}
	for _, s := range []string{"", "abc", "abcdefgh2!", "abcdefgh270"} {
		if _, err := ParseTokenID(s); !errors.Is(err, ErrTokenID) {
			t.Errorf("ParseTokenID(%q) error = %v, want ErrTokenID", s, err)
		}
	}
}

// assertNoSecret fails if out contains the secret's text or any 8-character
// piece of it.
func assertNoSecret(t *testing.T, out, secret string) {
	t.Helper()
	for i := 0; i+8 <= len(secret); i++ {
		if strings.Contains(out, secret[i:i+8]) {
			t.Fatalf("output leaks the secret: %q", out)
		}
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
	if got := fmt.Sprint(join); !strings.Contains(got, "[REDACTED]") || !strings.Contains(got, string(join.ID)) {
		t.Errorf("fmt of a join token = %q, want its id and [REDACTED]", got)
	}
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
			if strings.Contains(out, enc) {
				t.Errorf("%s leaks a secret: %q", what, out)
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
			if !errors.Is(err, ErrMalformedToken) {
				t.Fatalf("error %v does not wrap ErrMalformedToken", err)
			}
			return
		}
		if got := tok.String(); got != s {
			t.Fatalf("accepted %q but String() gives %q", s, got)
		}
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
			if !errors.Is(err, ErrMalformedToken) {
				t.Fatalf("error %v does not wrap ErrMalformedToken", err)
			}
			return
		}
		if got := tok.String(); got != s {
			t.Fatalf("accepted %q but String() gives %q", s, got)
		}
	})
}
