//go:build linux

package sources

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSQLSinceFormats passes the since time as Unix seconds (SQLite with
// integer times) and as a time.Time (PostgreSQL timestamptz).
func TestSQLSinceFormats(t *testing.T) {
	t.Run("unix", func(t *testing.T) {
		c := newDBCase(t, DriverSQLite)
		c.exec(t, "CREATE TABLE s (uid INTEGER, started INTEGER, ended INTEGER)",
			fmt.Sprintf("INSERT INTO s VALUES (1, %d, NULL), (2, %d, %d), (3, %d, %d)",
				testNow.Add(-time.Hour).Unix(),
				testNow.Add(-5*time.Hour).Unix(), testNow.Add(-4*time.Hour).Unix(),
				testNow.Add(-50*time.Hour).Unix(), testNow.Add(-49*time.Hour).Unix()))
		cfg := c.config()
		cfg.SQL.Scalars, cfg.SQL.Users = nil, ""
		cfg.SQL.SinceFormat = SinceUnix
		cfg.SQL.Logons = "SELECT uid AS user_id, 'staff' AS role, 0 AS locked, started AS started_at, ended AS ended_at FROM s WHERE ended IS NULL OR ended > ?"
		s, err := mustNew(t, cfg, testOptions()).Collect(context.Background())
		require.NoError(t, err)
		if assert.Len(t, s.Logons, 2, "logons %+v", s.Logons) {
			assert.True(t, logonByRaw(t, s.Logons, "2").End.Equal(testNow.Add(-4*time.Hour)), "logons %+v", s.Logons)
		}
	})
	t.Run("time", func(t *testing.T) {
		c := newDBCase(t, DriverPostgres)
		c.exec(t, "CREATE TABLE s (uid INT, started TIMESTAMPTZ, ended TIMESTAMPTZ)",
			fmt.Sprintf("INSERT INTO s VALUES (1, %s, NULL), (2, %s, %s)",
				sqlTime(testNow.Add(-time.Hour))+"::timestamp AT TIME ZONE 'UTC'",
				sqlTime(testNow.Add(-30*time.Hour))+"::timestamp AT TIME ZONE 'UTC'", sqlTime(testNow.Add(-29*time.Hour))+"::timestamp AT TIME ZONE 'UTC'"))
		cfg := c.config()
		cfg.SQL.Scalars, cfg.SQL.Users = nil, ""
		cfg.SQL.SinceFormat = SinceTime
		cfg.SQL.Logons = "SELECT uid AS user_id, 'staff' AS role, false AS locked, started AS started_at, ended AS ended_at FROM s WHERE ended IS NULL OR ended > $1"
		s, err := mustNew(t, cfg, testOptions()).Collect(context.Background())
		require.NoError(t, err)
		if assert.Len(t, s.Logons, 1, "logons %+v", s.Logons) {
			assert.True(t, logonByRaw(t, s.Logons, "1").Start.Equal(testNow.Add(-time.Hour)), "logons %+v", s.Logons)
		}
	})
}
