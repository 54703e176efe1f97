package fsm

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestZonesComeFromTheBuiltInDatabase: zones resolve from the embedded
// database, with their real rules, and unknown or host-dependent names are
// refused.
func TestZonesComeFromTheBuiltInDatabase(t *testing.T) {
	paris, err := LoadZone("Europe/Paris")
	require.NoError(t, err)
	// Summer time: 2026-03-29 01:00 UTC is 03:00 in Paris.
	require.Equal(t, 3, time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC).In(paris).Hour(), "Paris at 01:00 UTC on the day summer time starts")
	again, _ := LoadZone("Europe/Paris")
	assert.Same(t, paris, again, "a zone is parsed again instead of cached")
	utc, err := LoadZone("UTC")
	require.NoError(t, err, "UTC")
	require.Same(t, time.UTC, utc, "UTC")
	for _, bad := range []string{"", "Local", "Mars/Olympus", "../../etc/passwd", "Europe/"} {
		_, err := LoadZone(bad)
		assert.Error(t, err, "LoadZone(%q) accepted", bad)
	}
}
