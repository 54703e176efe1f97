package license

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

func TestPublicKeyConfigForm(t *testing.T) {
	t.Parallel()
	pub := vendorKey.Public().(ed25519.PublicKey)
	line := FormatPublicKey(testKeyID, pub)
	if !strings.HasPrefix(line, "vendor-2026:") {
		t.Fatalf("config form %q", line)
	}
	id, got, err := ParsePublicKey("  " + line + " \n")
	if err != nil || id != testKeyID || !got.Equal(pub) {
		t.Fatalf("ParsePublicKey: %q %v %v", id, got, err)
	}
	keyText := strings.TrimPrefix(line, "vendor-2026:")
	for _, bad := range []struct{ in, detail string }{
		{"vendor-2026", "want KEY-ID:BASE64"},
		{":" + keyText, "key id is empty"},
		{"vendor 2026:" + keyText, "key id \"vendor 2026\""},
		{"vendor-2026:" + keyText[:21], "not standard base64"},
		{"vendor-2026:" + strings.NewReplacer("+", "-", "/", "_").Replace(keyText) + "-_", "not standard base64"},
		{"vendor-2026:" + b64.EncodeToString(make([]byte, 31)), "public key has 31 bytes, want 32"},
	} {
		if _, _, err := ParsePublicKey(bad.in); !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), bad.detail) {
			t.Errorf("%q: %v, want ErrBadKey with %q", bad.in, err, bad.detail)
		}
	}
}

func TestKeyrings(t *testing.T) {
	t.Parallel()
	a := FormatPublicKey(testKeyID, vendorKey.Public().(ed25519.PublicKey))
	b := FormatPublicKey(oldKeyID, oldKey.Public().(ed25519.PublicKey))
	k, err := ParseKeyring(a, b)
	if err != nil || len(k) != 2 {
		t.Fatalf("ParseKeyring: %v %v", k, err)
	}
	if ids := k.IDs(); len(ids) != 2 || ids[0] != oldKeyID || ids[1] != testKeyID {
		t.Errorf("IDs %v", ids)
	}
	if _, err := ParseKeyring(a, a); !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), "vendor key 2:") || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("duplicate: %v", err)
	}
	file := "# vendor keys\n\n" + a + "\r\n   # rotated in 2026\n" + b + "\n"
	k, err = ReadKeyring(strings.NewReader(file))
	if err != nil || len(k) != 2 {
		t.Fatalf("ReadKeyring: %v %v", k, err)
	}
	if _, err := ReadKeyring(strings.NewReader(a + "\nnot a key\n")); !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), "line 2:") {
		t.Errorf("bad line: %v", err)
	}
	if _, err := ReadKeyring(strings.NewReader(strings.Repeat("#\n", MaxTextSize))); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge file: %v", err)
	}
	if err := (Keyring{}).Add(testKeyID, make([]byte, 5)); !errors.Is(err, ErrBadKey) {
		t.Errorf("short key: %v", err)
	}
}

func TestPrivateKeyFile(t *testing.T) {
	t.Parallel()
	pemBytes, err := MarshalPrivateKey(testKeyID, vendorKey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(pemBytes, []byte("-----BEGIN PRIVATE KEY-----\nKey-Id: vendor-2026\n")) {
		t.Errorf("PEM:\n%s", pemBytes)
	}
	id, key, err := ParsePrivateKey(pemBytes)
	if err != nil || id != testKeyID || !key.Equal(vendorKey) {
		t.Fatalf("ParsePrivateKey: %q %v", id, err)
	}
	for name, in := range map[string][]byte{
		"empty":       nil,
		"public key":  []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
		"garbage DER": []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
		"bad key id":  bytes.Replace(pemBytes, []byte("Key-Id: vendor-2026"), []byte("Key-Id: vendor 2026"), 1),
	} {
		_, _, err := ParsePrivateKey(in)
		if !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := MarshalPrivateKey("", vendorKey); !errors.Is(err, ErrBadKey) {
		t.Errorf("no key id: %v", err)
	}
}
