package clock

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOffset(t *testing.T) {
	const off = -time.Hour
	before := time.Now()
	got := Offset(off).Now()
	after := time.Now()
	require.False(t, got.Before(before.Add(off)), "%v before %v", got, before.Add(off))
	require.False(t, got.After(after.Add(off)), "%v after %v", got, after.Add(off))
	// The monotonic reading stays: durations on the shifted clock are real.
	require.GreaterOrEqual(t, Offset(off).Now().Sub(got), time.Duration(0))
	select {
	case <-Offset(off).After(time.Millisecond):
	case <-time.After(10 * time.Second):
		require.FailNow(t, "Offset.After never fired")
	}
}

// TestFileOffset: the clock follows the file's duration as it changes; a
// missing or bad file is no shift, or the last good one.
func TestFileOffset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offset")
	f := &FileOffset{Path: path, Every: -1}
	near := func(want time.Duration) {
		t.Helper()
		got := time.Until(f.Now())
		assert.InDelta(t, float64(want), float64(got), float64(time.Second), "offset %s, want %s", got, want)
	}
	near(0)
	require.NoError(t, os.WriteFile(path, []byte("48h\n"), 0o600))
	near(48 * time.Hour)
	require.NoError(t, os.WriteFile(path, []byte("soon"), 0o600))
	near(48 * time.Hour)
	require.NoError(t, os.WriteFile(path, []byte("-2h"), 0o600))
	near(-2 * time.Hour)
}
