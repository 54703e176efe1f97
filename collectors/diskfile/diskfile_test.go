package diskfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplaceAndCreate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := Replace(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Replace(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Fatalf("content %q", b)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	k := filepath.Join(dir, "key")
	if ok, err := Create(k, []byte("first"), 0o600); !ok || err != nil {
		t.Fatalf("Create = %v, %v", ok, err)
	}
	if ok, err := Create(k, []byte("second"), 0o600); ok || err != nil {
		t.Fatalf("second Create = %v, %v; want the first to win", ok, err)
	}
	if b, _ := os.ReadFile(k); string(b) != "first" {
		t.Fatalf("key %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
	if err := Replace(filepath.Join(dir, "missing", "x"), nil, 0o600); err == nil {
		t.Fatal("Replace into a missing directory succeeded")
	}
}
