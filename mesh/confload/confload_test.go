package confload

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type sample struct {
	Name    string        `yaml:"name"`
	Count   int           `yaml:"count"`
	On      bool          `yaml:"on"`
	TTL     time.Duration `yaml:"ttl"`
	Peers   []string      `yaml:"peers"`
	Skipped string        `yaml:"-"`
}

func TestFileStrict(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s := sample{Name: "default", Count: 3}
	if err := File(write("count: 5\nttl: 2s\npeers: [a, b]\n"), &s); err != nil {
		t.Fatal(err)
	}
	if s.Name != "default" || s.Count != 5 || s.TTL != 2*time.Second || len(s.Peers) != 2 {
		t.Fatalf("got %+v", s)
	}
	for body, want := range map[string]string{
		"nmae: x\n":         `unknown field "nmae"`,
		"count: many\n":     "wrong type",
		"a: 1\n---\nb: 2\n": `unknown field "a"`,
		"count: 1\n---\n{}": "more than one YAML document",
	} {
		err := File(write(body), &sample{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", body, err, want)
		}
	}
	if err := File(filepath.Join(dir, "missing.yaml"), &s); err == nil {
		t.Error("missing file accepted")
	}
}

func TestEnv(t *testing.T) {
	env := map[string]string{"X_NAME": "n", "X_COUNT": "7", "X_ON": "true", "X_TTL": "1m", "X_PEERS": "a, b,,c"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var s sample
	if err := Env("X_", &s, lookup); err != nil {
		t.Fatal(err)
	}
	if s.Name != "n" || s.Count != 7 || !s.On || s.TTL != time.Minute || strings.Join(s.Peers, "|") != "a|b|c" {
		t.Fatalf("got %+v", s)
	}
	env = map[string]string{"X_COUNT": "seven", "X_TTL": "soon"}
	err := Env("X_", &sample{}, lookup)
	if err == nil || !strings.Contains(err.Error(), "X_COUNT") || !strings.Contains(err.Error(), "X_TTL") {
		t.Fatalf("got %v", err)
	}
}
