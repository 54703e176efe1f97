package license

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	payload := examplePayload(t)
	text := mustSeal(t, payload, vendorKey, testKeyID)
	require.True(t, bytes.HasPrefix(text, []byte(beginMarker+"\nKey-Id: vendor-2026\n")), "unexpected armour:\n%s", text)
	require.True(t, bytes.HasSuffix(text, []byte("\n"+endMarker+"\n")), "unexpected armour:\n%s", text)
	for _, line := range strings.Split(string(text), "\n") {
		if !strings.HasPrefix(line, "=") {
			assert.LessOrEqual(t, len(line), lineWidth+1+len("=="), "line wider than %d: %q", lineWidth, line)
		}
	}
	e, err := Open(text)
	require.NoError(t, err)
	require.Equal(t, testKeyID, e.KeyID, "Open: key id")
	require.Equal(t, string(payload), string(e.Payload), "Open: payload")
	require.Len(t, e.Signature, 64, "Open: signature")
	require.Equal(t, string(text), string(e.Marshal()), "Marshal of the opened envelope differs from the sealed text")
	// Ed25519 is deterministic: sealing again gives the same text.
	require.Equal(t, string(text), string(mustSeal(t, payload, vendorKey, testKeyID)), "sealing twice gave different texts")
}

// TestOpenToleratesPasting: what copy and paste does to the text changes
// nothing.
func TestOpenToleratesPasting(t *testing.T) {
	t.Parallel()
	good := mustSeal(t, examplePayload(t), vendorKey, testKeyID)
	s := string(good)
	indent := func(prefix string) string {
		lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		for i := range lines {
			lines[i] = prefix + lines[i] + " \t"
		}
		return strings.Join(lines, "\n")
	}
	cases := map[string]string{
		"CRLF":                 strings.ReplaceAll(s, "\n", "\r\n"),
		"CR":                   strings.ReplaceAll(s, "\n", "\r"),
		"no final newline":     strings.TrimSuffix(s, "\n"),
		"spaces":               indent("    "),
		"tabs":                 indent("\t\t"),
		"no-break spaces":      indent("\u00a0\u00a0"),
		"YAML block":           "license: |\n" + indent("  ") + "\nother: 1\n",
		"e-mail around":        "Hello,\r\n\r\nhere is your license:\r\n\r\n" + strings.ReplaceAll(s, "\n", "\r\n") + "\r\nRegards,\r\nSales\r\n",
		"blank lines around":   "\n\n\n" + s + "\n\n\n",
		"text on other lines":  "-----BEGIN SOMETHING ELSE-----\n" + s + "-----END LICMESH LICENSE----- (again)\n",
		"trailing white space": s + " \t\v\f\n",
	}
	for name, text := range cases {
		e, err := Open([]byte(text))
		if !assert.NoError(t, err, name) {
			continue
		}
		assert.Equal(t, string(good), string(e.Marshal()), "%s: opened envelope differs from the original", name)
		_, err = e.Verify(testKeyring(t), VerifyOptions{ClusterID: testCluster, Now: tAfter})
		assert.NoError(t, err, name)
	}
}

// TestOpenRefusesMalformed: anything inside the markers that is not the
// format is refused, with the line at fault.
func TestOpenRefusesMalformed(t *testing.T) {
	t.Parallel()
	good := string(mustSeal(t, examplePayload(t), vendorKey, testKeyID))
	lines := strings.Split(strings.TrimSuffix(good, "\n"), "\n")
	// lines: 0 BEGIN, 1 Key-Id, 2..n-3 payload, n-2 signature, n-1 END.
	n := len(lines)
	edit := func(i int, repl ...string) string {
		out := append([]string{}, lines[:i]...)
		out = append(out, repl...)
		out = append(out, lines[i+1:]...)
		return strings.Join(out, "\n") + "\n"
	}
	tests := []struct {
		name, text string
		want       error
		detail     string
	}{
		{"empty", "", ErrMalformed, "no -----BEGIN LICMESH LICENSE----- line"},
		{"only junk", "hello\nworld\n", ErrMalformed, "no -----BEGIN"},
		{"no END", edit(n - 1), ErrMalformed, "no -----END LICMESH LICENSE----- line after line 1"},
		{"END first", endMarker + "\n" + good, ErrMalformed, "line 1: -----END LICMESH LICENSE----- before any"},
		{"two licenses", good + "\n" + good, ErrMalformed, "a second -----BEGIN"},
		{"nested BEGIN", edit(2, beginMarker, lines[2]), ErrMalformed, "line 3: a second"},
		{"blank line inside", edit(2, "", lines[2]), ErrMalformed, "line 3: blank line inside"},
		{"comment header", edit(1, "Comment: hi", lines[1]), ErrMalformed, `line 2: want the header "Key-Id: ...", found "Comment: hi"`},
		{"no header", edit(1), ErrMalformed, `line 2: want the header "Key-Id: ..."`},
		{"lower-case header", edit(1, "key-id: vendor-2026"), ErrMalformed, "line 2: want the header"},
		{"empty key id", edit(1, "Key-Id:"), ErrMalformed, "line 2: key id is empty"},
		{"bad key id", edit(1, "Key-Id: vendor 2026"), ErrMalformed, `line 2: key id "vendor 2026" has ' ' at byte 6`},
		{"not base64", edit(3, lines[3][:10]+"*"+lines[3][11:]), ErrMalformed, "line 4: '*' at column 11 is not base64"},
		{"url-safe base64", edit(3, lines[3][:10]+"-"+lines[3][11:]), ErrMalformed, "line 4: '-' at column 11 is not base64"},
		{"short line", edit(2, lines[2][:60], lines[2][60:]), ErrMalformed, "line 3: 60 characters; payload lines have 64"},
		{"long line", edit(2, lines[2]+lines[3][:4]), ErrMalformed, "line 3: 68 characters"},
		{"unwrapped payload", edit(2, strings.Join(lines[2:n-2], "")), ErrMalformed, "payload lines have 64"},
		{"no payload", strings.Join([]string{lines[0], lines[1], lines[n-2], lines[n-1]}, "\n"), ErrMalformed, "found 2 lines"},
		{"no signature", edit(n - 2), ErrMalformed, "want the signature line (=...) just before"},
		{"signature early", edit(2, lines[n-2], lines[2]), ErrMalformed, "line 3: signature line before the end of the payload"},
		{"short signature", edit(n-2, lines[n-2][:40]), ErrMalformed, "signature is not 64 bytes"},
		{"signature not base64", edit(n-2, "=not base64!"), ErrMalformed, "signature is not 64 bytes"},
		{"bad padding", edit(n-3, lines[n-3][:len(lines[n-3])-1]), ErrMalformed, "payload is not valid base64"},
		{"too large", strings.Repeat("x", MaxTextSize+1), ErrTooLarge, "at most 262144"},
	}
	for _, tt := range tests {
		_, err := Open([]byte(tt.text))
		if assert.ErrorIs(t, err, tt.want, tt.name) {
			assert.ErrorContains(t, err, tt.detail, tt.name)
		}
	}
}

func TestSealRefuses(t *testing.T) {
	t.Parallel()
	payload := examplePayload(t)
	_, err := Seal(payload, vendorKey[:10], testKeyID)
	assert.ErrorIs(t, err, ErrBadKey, "short key")
	_, err = Seal(payload, vendorKey, "bad id")
	assert.ErrorIs(t, err, ErrBadKey, "bad key id")
	bad := mutate(t, func(m map[string]any) { m["quantity"] = 0 })
	var fe *FieldError
	_, err = Seal(bad, vendorKey, testKeyID)
	if assert.ErrorAs(t, err, &fe, "invalid payload") {
		assert.Equal(t, "quantity", fe.Field, "invalid payload: %v", err)
	}
	_, err = Seal(bytes.Repeat([]byte(" "), MaxPayloadSize+1), vendorKey, testKeyID)
	assert.ErrorIs(t, err, ErrTooLarge, "huge payload")
}

func TestSealPayload(t *testing.T) {
	t.Parallel()
	p, err := ParsePayload(examplePayload(t))
	require.NoError(t, err)
	text, err := SealPayload(p, vendorKey, testKeyID)
	require.NoError(t, err)
	l := mustVerify(t, text, tAfter)
	// The round trip through SealPayload must not change the license.
	assert.Equal(t, p.ID, l.ID, "ID")
	assert.Equal(t, p.Grace, l.Grace, "Grace")
	assert.Len(t, l.LicenseTemplate, 2, "LicenseTemplate")
	assert.True(t, l.ExpiresAt.Equal(p.ExpiresAt), "ExpiresAt %v, want %v", l.ExpiresAt, p.ExpiresAt)
	p.Quantity = -1
	_, err = SealPayload(p, vendorKey, testKeyID)
	assert.ErrorIs(t, err, ErrInvalidField, "invalid payload")
}
