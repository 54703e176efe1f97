package cluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRememberedPeers: the peers file round-trips, and a damaged or
// oversized one is no peers rather than an error at start.
func TestRememberedPeers(t *testing.T) {
	dir := t.TempDir()
	assert.Nil(t, rememberedPeers(dir), "no file")
	require.NoError(t, writePeers(dir, []string{"10.0.0.2:7946", "10.0.0.3:7946"}))
	assert.Equal(t, []string{"10.0.0.2:7946", "10.0.0.3:7946"}, rememberedPeers(dir))
	require.NoError(t, os.WriteFile(filepath.Join(dir, peersFile), []byte("{not json"), 0o600))
	assert.Nil(t, rememberedPeers(dir), "damaged")
	many := make([]string, maxRememberedPeers+1)
	for i := range many {
		many[i] = "10.0.0.1:7946"
	}
	require.NoError(t, writePeers(dir, many))
	assert.Nil(t, rememberedPeers(dir), "oversized")
	left, err := filepath.Glob(filepath.Join(dir, ".peers-*"))
	require.NoError(t, err)
	assert.Empty(t, left, "no temporary file left behind")
}
