package license

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	payload := examplePayload(t)
	text := mustSeal(t, payload, vendorKey, testKeyID)
	if !bytes.HasPrefix(text, []byte(beginMarker+"\nKey-Id: vendor-2026\n")) || !bytes.HasSuffix(text, []byte("\n"+endMarker+"\n")) {
		t.Fatalf("unexpected armour:\n%s", text)
	}
	for _, line := range strings.Split(string(text), "\n") {
		if len(line) > lineWidth+1+len("==") && !strings.HasPrefix(line, "=") {
			t.Errorf("line wider than %d: %q", lineWidth, line)
		}
	}
	e, err := Open(text)
	if err != nil {
		t.Fatal(err)
	}
	if e.KeyID != testKeyID || !bytes.Equal(e.Payload, payload) || len(e.Signature) != 64 {
		t.Fatalf("Open gave %q, %d payload bytes, %d signature bytes", e.KeyID, len(e.Payload), len(e.Signature))
	}
	if !bytes.Equal(e.Marshal(), text) {
		t.Fatal("Marshal of the opened envelope differs from the sealed text")
	}
	// Ed25519 is deterministic: sealing again gives the same text.
	if again := mustSeal(t, payload, vendorKey, testKeyID); !bytes.Equal(again, text) {
		t.Fatal("sealing twice gave different texts")
	}
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
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(e.Marshal(), good) {
			t.Errorf("%s: opened envelope differs from the original", name)
		}
		if _, err := e.Verify(testKeyring(t), VerifyOptions{ClusterID: testCluster, Now: tAfter}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
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
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.detail) {
			t.Errorf("%s: %q lacks %q", tt.name, err, tt.detail)
		}
	}
}

func TestSealRefuses(t *testing.T) {
	t.Parallel()
	payload := examplePayload(t)
	if _, err := Seal(payload, vendorKey[:10], testKeyID); !errors.Is(err, ErrBadKey) {
		t.Errorf("short key: %v", err)
	}
	if _, err := Seal(payload, vendorKey, "bad id"); !errors.Is(err, ErrBadKey) {
		t.Errorf("bad key id: %v", err)
	}
	bad := mutate(t, func(m map[string]any) { m["quantity"] = 0 })
	var fe *FieldError
	if _, err := Seal(bad, vendorKey, testKeyID); !errors.As(err, &fe) || fe.Field != "quantity" {
		t.Errorf("invalid payload: %v", err)
	}
	if _, err := Seal(bytes.Repeat([]byte(" "), MaxPayloadSize+1), vendorKey, testKeyID); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge payload: %v", err)
	}
}

func TestSealPayload(t *testing.T) {
	t.Parallel()
	p, err := ParsePayload(examplePayload(t))
	if err != nil {
		t.Fatal(err)
	}
	text, err := SealPayload(p, vendorKey, testKeyID)
	if err != nil {
		t.Fatal(err)
	}
	l := mustVerify(t, text, tAfter)
	if l.ID != p.ID || l.Grace != p.Grace || len(l.LicenseTemplate) != 2 || !l.ExpiresAt.Equal(p.ExpiresAt) {
		t.Errorf("round trip through SealPayload changed the license: %+v", l.Payload)
	}
	p.Quantity = -1
	if _, err := SealPayload(p, vendorKey, testKeyID); !errors.Is(err, ErrInvalidField) {
		t.Errorf("invalid payload: %v", err)
	}
}
