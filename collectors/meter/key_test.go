package meter

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadKeyCreatesOnceAndKeeps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pseudonym.key")
	key, err := LoadKey(path)
	require.NoError(t, err)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Len(t, key, KeyBytes, "created key")
	require.Equal(t, int64(KeyBytes), fi.Size(), "created key file size")
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "created key file mode")
	again, err := LoadKey(path)
	require.NoError(t, err, "second LoadKey")
	require.Equal(t, key, again, "second LoadKey gave another key")
	other, _ := LoadKey(filepath.Join(t.TempDir(), "k"))
	require.NotEqual(t, key, other, "two new keys are equal")
	entries, _ := os.ReadDir(filepath.Dir(path))
	assert.Len(t, entries, 1, "LoadKey left files behind")
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
		require.NoError(t, os.WriteFile(path, []byte(tc.content), tc.mode))
		require.NoError(t, os.Chmod(path, tc.mode)) // past the umask
		_, err := LoadKey(path)
		if !assert.ErrorIs(t, err, ErrKey, "%s: LoadKey", name) || !assert.ErrorContains(t, err, tc.want, "%s: LoadKey", name) {
			continue
		}
		if tc.content != "" {
			assert.NotContains(t, err.Error(), tc.content, "%s: the error shows the key", name)
		}
		raw, _ := os.ReadFile(path)
		assert.Equal(t, tc.content, string(raw), "%s: a refused key file was changed", name)
	}
	_, err := LoadKey(dir)
	assert.ErrorIs(t, err, ErrKey, "LoadKey(a directory)")
	_, err = LoadKey(filepath.Join(dir, "missing-dir", "k"))
	assert.ErrorIs(t, err, ErrKey, "LoadKey in a missing directory")
}
