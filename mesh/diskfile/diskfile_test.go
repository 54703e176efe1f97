package diskfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReplaceAndCreate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	require.NoError(t, Replace(p, []byte("one"), 0o600))
	require.NoError(t, Replace(p, []byte("two"), 0o644))
	b, _ := os.ReadFile(p)
	require.Equal(t, "two", string(b), "content")
	fi, _ := os.Stat(p)
	require.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "mode")
	k := filepath.Join(dir, "key")
	ok, err := Create(k, []byte("first"), 0o600)
	require.NoError(t, err, "Create")
	require.True(t, ok, "Create")
	ok, err = Create(k, []byte("second"), 0o600)
	require.NoError(t, err, "second Create")
	require.False(t, ok, "second Create; want the first to win")
	b, _ = os.ReadFile(k)
	require.Equal(t, "first", string(b), "key")
	ents, _ := os.ReadDir(dir)
	require.Len(t, ents, 2, "temporary files left behind")
	require.Error(t, Replace(filepath.Join(dir, "missing", "x"), nil, 0o600), "Replace into a missing directory succeeded")
}
