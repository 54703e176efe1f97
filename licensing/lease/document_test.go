package lease

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
)

func testKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

func testDoc() Document {
	issued := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return Document{
		ClusterID:   "acme-prod",
		LeaseID:     ID(42<<16 | 3),
		Fence:       42,
		Pool:        "pm.users",
		Holder:      "alice@example.com",
		CollectorID: "col-17",
		IssuedAt:    issued,
		ExpiresAt:   issued.Add(90 * time.Second),
	}
}

func mustSign(t testing.TB, d Document, k ed25519.PrivateKey) Token {
	t.Helper()
	tok, err := Sign(d, k)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return tok
}

func TestSignVerifyRoundTrip(t *testing.T) {
	pub, priv := testKey(t)
	d := testDoc()
	tok := mustSign(t, d, priv)
	if !strings.HasPrefix(string(tok), "lml1.") || strings.Count(string(tok), ".") != 2 {
		t.Fatalf("token form: %s", tok)
	}
	got, err := Verify(tok, pub, d.IssuedAt.Add(time.Second))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got != d {
		t.Fatalf("Verify = %+v, want %+v", got, d)
	}
	dec, err := Decode(tok)
	if err != nil || dec != d {
		t.Fatalf("Decode = %+v, %v", dec, err)
	}
}

func TestSignNormalizesTimes(t *testing.T) {
	pub, priv := testKey(t)
	d := testDoc()
	loc := time.FixedZone("X", 3600)
	d.IssuedAt = d.IssuedAt.In(loc).Add(1234567 * time.Nanosecond)
	d.ExpiresAt = d.ExpiresAt.In(loc).Add(999999 * time.Nanosecond)
	got, err := Verify(mustSign(t, d, priv), pub, d.IssuedAt)
	if err != nil {
		t.Fatal(err)
	}
	want := testDoc()
	want.IssuedAt = want.IssuedAt.Add(time.Millisecond)
	if !got.IssuedAt.Equal(want.IssuedAt) || got.IssuedAt.Location() != time.UTC || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("times = %v / %v", got.IssuedAt, got.ExpiresAt)
	}
}

func TestVerifyExpiry(t *testing.T) {
	pub, priv := testKey(t)
	d := testDoc()
	tok := mustSign(t, d, priv)
	if _, err := Verify(tok, pub, d.ExpiresAt.Add(-time.Millisecond)); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	if _, err := Verify(tok, pub, d.ExpiresAt); !errors.Is(err, ErrDocExpired) {
		t.Fatalf("at expiry = %v, want ErrDocExpired", err)
	}
}

func TestVerifyBadSignature(t *testing.T) {
	pub, priv := testKey(t)
	d := testDoc()
	tok := mustSign(t, d, priv)

	otherPriv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	if _, err := Verify(tok, otherPriv.Public().(ed25519.PublicKey), d.IssuedAt); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("wrong key = %v", err)
	}
	// A valid payload for another document under the original signature.
	d2 := d
	d2.Holder = "mallory"
	forged := mustSign(t, d2, otherPriv)
	p2, _, _ := strings.Cut(strings.TrimPrefix(string(forged), "lml1."), ".")
	_, s1, _ := strings.Cut(strings.TrimPrefix(string(tok), "lml1."), ".")
	if _, err := Verify(Token("lml1."+p2+"."+s1), pub, d.IssuedAt); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("spliced token = %v", err)
	}
	if _, err := Verify(tok, pub[:10], d.IssuedAt); !errors.Is(err, ErrBadKey) {
		t.Fatalf("short key = %v", err)
	}
	if _, err := Sign(d, priv[:10]); !errors.Is(err, ErrBadKey) {
		t.Fatalf("Sign short key = %v", err)
	}
}

func TestSignRejectsInvalidDocuments(t *testing.T) {
	_, priv := testKey(t)
	mut := map[string]func(*Document){
		"no cluster":      func(d *Document) { d.ClusterID = "" },
		"long cluster":    func(d *Document) { d.ClusterID = strings.Repeat("c", MaxClusterIDLen+1) },
		"zero lease id":   func(d *Document) { d.LeaseID = 0 },
		"bad pool":        func(d *Document) { d.Pool = "Bad Pool" },
		"no holder":       func(d *Document) { d.Holder = "" },
		"long holder":     func(d *Document) { d.Holder = strings.Repeat("h", MaxHolderLen+1) },
		"control holder":  func(d *Document) { d.Holder = "a\nb" },
		"invalid utf8":    func(d *Document) { d.Holder = "\xff" },
		"no collector":    func(d *Document) { d.CollectorID = "" },
		"expires = issue": func(d *Document) { d.ExpiresAt = d.IssuedAt },
		"sub-ms lifetime": func(d *Document) { d.ExpiresAt = d.IssuedAt.Add(time.Microsecond) },
	}
	for name, m := range mut {
		d := testDoc()
		m(&d)
		if _, err := Sign(d, priv); !errors.Is(err, ErrInvalidDocument) {
			t.Errorf("%s: Sign error = %v, want ErrInvalidDocument", name, err)
		}
	}
	d := testDoc()
	d.Holder = strings.Repeat("h", MaxHolderLen)
	d.ClusterID = strings.Repeat("c", MaxClusterIDLen)
	d.CollectorID = strings.Repeat("k", MaxCollectorIDLen)
	d.Pool = strings.Repeat("p", MaxPoolNameLen)
	tok := mustSign(t, d, priv)
	if len(tok) > MaxTokenLen {
		t.Fatalf("longest token has %d bytes, above MaxTokenLen", len(tok))
	}
	if got, err := Decode(tok); err != nil || got != d {
		t.Fatalf("longest document: %v", err)
	}
}

func TestDecodeMalformed(t *testing.T) {
	_, priv := testKey(t)
	good := string(mustSign(t, testDoc(), priv))
	body, sig, _ := strings.Cut(strings.TrimPrefix(good, "lml1."), ".")
	payload, _ := b64.DecodeString(body)
	enc := func(p []byte) string { return "lml1." + b64.EncodeToString(p) + "." + sig }
	withVersion := bytes.Clone(payload)
	withVersion[0] = 2
	zeroLen := bytes.Clone(payload)
	zeroLen[1] = 0
	cases := map[string]string{
		"empty":            "",
		"no prefix":        strings.TrimPrefix(good, "lml1."),
		"other prefix":     "lml2." + body + "." + sig,
		"two parts":        "lml1." + body,
		"four parts":       good + ".x",
		"padding":          "lml1." + body + "=." + sig,
		"newline":          "lml1." + body[:4] + "\n" + body[4:] + "." + sig,
		"std base64 chars": "lml1." + body + "+." + sig,
		"short signature":  "lml1." + body + "." + sig[:20],
		"empty payload":    "lml1.." + sig,
		"truncated":        enc(payload[:len(payload)-1]),
		"trailing":         enc(append(bytes.Clone(payload), 0)),
		"version":          enc(withVersion),
		"empty cluster":    enc(zeroLen),
		"too long":         "lml1." + strings.Repeat("A", MaxTokenLen) + "." + sig,
	}
	for name, tok := range cases {
		if _, err := Decode(Token(tok)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Decode error = %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	pub, priv := testKey(f)
	d := testDoc()
	f.Add(string(mustSign(f, d, priv)))
	d.Grace, d.Borrowed = time.Minute, true
	f.Add(string(mustSign(f, d, priv)))
	d.Grace, d.Borrowed = 0, false
	d.Holder = "ü-ñ"
	d.IssuedAt = time.UnixMilli(-5)
	d.ExpiresAt = time.UnixMilli(1)
	f.Add(string(mustSign(f, d, priv)))
	for _, s := range []string{"", "lml1.", "lml1..", "lml1.AAAA.AAAA", "lml1.AQ." + strings.Repeat("A", 86), "garbage\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		doc, err := Decode(Token(s))
		_, verr := Verify(Token(s), pub, time.UnixMilli(0))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode error %v does not wrap ErrMalformed", err)
			}
			if !errors.Is(verr, ErrMalformed) {
				t.Fatalf("Verify accepted what Decode refused: %v", verr)
			}
			return
		}
		body, _, _ := strings.Cut(strings.TrimPrefix(s, "lml1."), ".")
		if got := b64.EncodeToString(encodePayload(doc)); got != body {
			t.Fatalf("re-encoding differs:\n got %s\nwant %s", got, body)
		}
		if err := doc.Validate(); err != nil {
			t.Fatalf("decoded document invalid: %v", err)
		}
	})
}
