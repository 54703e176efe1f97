//go:build linux && !nosqlite

package sources

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSQLiteSessionSettings: the settings openSQLite puts in the DSN reach
// the connection; a misspelt _pragma would be ignored without an error.
func TestSQLiteSessionSettings(t *testing.T) {
	c := newDBCase(t, DriverSQLite)
	c.seed(t)
	src := mustNew(t, c.config(), testOptions())
	defer src.Close()
	db := src.(*source).m.(*sqlSource).db
	for pragma, want := range map[string]int64{
		"query_only": 1,
		"cache_size": -sqliteCacheKiB,
		"mmap_size":  0,
	} {
		var got int64
		require.NoError(t, db.QueryRow("PRAGMA "+pragma).Scan(&got), "PRAGMA %s", pragma)
		assert.Equal(t, want, got, "PRAGMA %s", pragma)
	}
}
