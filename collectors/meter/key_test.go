package meter

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadKeyCreatesOnceAndKeeps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pseudonym.key")
	key, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != KeyBytes || fi.Size() != KeyBytes || fi.Mode().Perm() != 0o600 {
		t.Fatalf("created key: %d bytes, file %d bytes mode %v", len(key), fi.Size(), fi.Mode())
	}
	again, err := LoadKey(path)
	if err != nil || !bytes.Equal(again, key) {
		t.Fatalf("second LoadKey gave another key (%v)", err)
	}
	if other, _ := LoadKey(filepath.Join(t.TempDir(), "k")); bytes.Equal(other, key) {
		t.Fatal("two new keys are equal")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("LoadKey left %d files behind", len(entries))
	}
}

func TestLoadKeyRefuses(t *testing.T) {
	dir := t.TempDir()
	secret := "a-secret-key-that-others-can-read"
	for name, tc := range map[string]struct {
		content string
		mode    os.FileMode
		want    string
	}{
		"world readable": {secret, 0o644, "chmod 600"},
		"group writable": {secret, 0o620, "chmod 600"},
		"too short":      {"short", 0o600, "at least 16"},
		"empty":          {"", 0o600, "holds 0 bytes"},
	} {
		path := filepath.Join(dir, fmt.Sprintf("key-%o-%d", tc.mode, len(tc.content)))
		if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tc.mode); err != nil { // past the umask
			t.Fatal(err)
		}
		_, err := LoadKey(path)
		if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: LoadKey = %v, want ErrKey saying %q", name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), tc.content) && tc.content != "" {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
		if raw, _ := os.ReadFile(path); string(raw) != tc.content {
			t.Errorf("%s: a refused key file was changed", name)
		}
	}
	if _, err := LoadKey(dir); !errors.Is(err, ErrKey) {
		t.Errorf("LoadKey(a directory) = %v", err)
	}
	if _, err := LoadKey(filepath.Join(dir, "missing-dir", "k")); !errors.Is(err, ErrKey) {
		t.Errorf("LoadKey in a missing directory = %v", err)
	}
}
