package selfupdate

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPendingRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "update.pending")
	_, ok, err := ReadPending(path)
	require.NoError(t, err, "no marker")
	require.False(t, ok, "no marker")

	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := Pending{RolloutID: "r-1", Action: "install", From: "1.0.0", To: "2.0.0", StartedAt: at, Deadline: at.Add(2 * time.Minute)}
	require.NoError(t, WritePending(path, p))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "marker mode")
	got, ok, err := ReadPending(path)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, p, got)

	p.Detail = "update_health_command failed: exit status 1"
	require.NoError(t, WritePending(path, p))
	got, _, err = ReadPending(path)
	require.NoError(t, err)
	assert.Equal(t, p.Detail, got.Detail, "rewritten marker")
	assert.NoFileExists(t, path+".tmp")

	require.NoError(t, ClearPending(path))
	_, ok, err = ReadPending(path)
	require.NoError(t, err)
	require.False(t, ok, "marker after ClearPending")
	require.NoError(t, ClearPending(path), "clearing twice")
}

func TestPendingRefusesDamage(t *testing.T) {
	for name, text := range map[string]string{
		"not json":   "rollout r-1 to 2.0.0",
		"truncated":  `{"rollout_id": "r-1", "action": "inst`,
		"trailing":   `{"rollout_id": "r-1", "action": "install", "to": "2.0.0"} ]`,
		"no rollout": `{"action": "install", "to": "2.0.0"}`,
		"no action":  `{"rollout_id": "r-1", "to": "2.0.0"}`,
		"no target":  `{"rollout_id": "r-1", "action": "install"}`,
		"empty":      ``,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "update.pending")
			require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
			_, ok, err := ReadPending(path)
			require.ErrorIs(t, err, ErrBadMarker)
			require.False(t, ok)
		})
	}
}
