package confload

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	s := sample{Name: "default", Count: 3}
	require.NoError(t, File(write("count: 5\nttl: 2s\npeers: [a, b]\n"), &s))
	require.Equal(t, "default", s.Name, "got %+v", s)
	require.Equal(t, 5, s.Count, "got %+v", s)
	require.Equal(t, 2*time.Second, s.TTL, "got %+v", s)
	require.Len(t, s.Peers, 2, "got %+v", s)
	for body, want := range map[string]string{
		"nmae: x\n":         `unknown field "nmae"`,
		"count: many\n":     "wrong type",
		"a: 1\n---\nb: 2\n": `unknown field "a"`,
		"count: 1\n---\n{}": "more than one YAML document",
	} {
		err := File(write(body), &sample{})
		assert.ErrorContains(t, err, want, "%q", body)
	}
	assert.Error(t, File(filepath.Join(dir, "missing.yaml"), &s), "missing file accepted")
}

func TestEnv(t *testing.T) {
	env := map[string]string{"X_NAME": "n", "X_COUNT": "7", "X_ON": "true", "X_TTL": "1m", "X_PEERS": "a, b,,c"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var s sample
	require.NoError(t, Env("X_", &s, lookup))
	require.Equal(t, "n", s.Name, "got %+v", s)
	require.Equal(t, 7, s.Count, "got %+v", s)
	require.True(t, s.On, "got %+v", s)
	require.Equal(t, time.Minute, s.TTL, "got %+v", s)
	require.Equal(t, "a|b|c", strings.Join(s.Peers, "|"), "got %+v", s)
	env = map[string]string{"X_COUNT": "seven", "X_TTL": "soon"}
	err := Env("X_", &sample{}, lookup)
	require.ErrorContains(t, err, "X_COUNT")
	require.ErrorContains(t, err, "X_TTL")
}
