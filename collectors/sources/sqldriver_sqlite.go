//go:build !nosqlite

package sources

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
)

func sqliteDriver() sqlDriver {
	return sqlDriver{name: DriverSQLite, offTag: "nosqlite", open: openSQLite, classify: classifySQLite}
}

// openSQLite opens a database file read-only (mode=ro: a missing file is an
// error, not a new database; every write fails) with query_only on as a
// second guard. busy_timeout bounds waiting for a writer's lock.
//
// The engine runs inside the collector, so its memory is the collector's.
// SQLite's default page cache is 2 MiB per connection, and usage queries
// (COUNT(*) over the cases table, a scan of the login log) read more pages
// than that once per interval, so the cache only ever churned: every page
// was read again from the OS's file cache at the next sample anyway, and
// the collector kept 2 MiB more resident for nothing (measured on the U2
// database: the engine's memory went from 4.6 MiB to 1.3 MiB with
// sqliteCacheKiB, and a collection took 8 ms of CPU either way). Closing
// the connection after each sample would not give memory back: the
// driver's allocator keeps what SQLite frees for reuse (measured: no drop
// in RSS after Close), and each reopening would parse the schema again.
// mmap_size(0) is the driver's default today; it is set so that a new
// driver version cannot start mapping the product's whole database file
// into the collector. Temporary tables and sorts stay in files (SQLite's
// default temp_store): in memory they would be bounded by the query, not
// by us.
func openSQLite(path string, timeout time.Duration, _ *scrubber) (*sql.DB, error) {
	switch {
	case strings.HasPrefix(path, "file:") || strings.ContainsAny(path, "?#"):
		return nil, errors.New("for sqlite give the database file's plain path (no file: URI or parameters); the source opens it read-only itself")
	case !filepath.IsAbs(path):
		return nil, errors.New("for sqlite give an absolute path to the database file")
	}
	busy := min(timeout, 5*time.Second).Milliseconds()
	u := url.URL{Scheme: "file", Path: filepath.Clean(path)}
	dsn := fmt.Sprintf("%s?mode=ro&_pragma=query_only(1)&_pragma=busy_timeout(%d)&_pragma=cache_size(-%d)&_pragma=mmap_size(0)",
		u.String(), busy, sqliteCacheKiB)
	return sql.Open("sqlite", dsn)
}

// sqliteCacheKiB bounds SQLite's page cache (PRAGMA cache_size in KiB):
// enough for the b-tree interior pages a query walks again and again, not
// for the table pages a scan reads once.
const sqliteCacheKiB = 256

// SQLite result codes the sources tell apart.
const (
	sqliteBusy      = 5 // SQLITE_BUSY
	sqliteReadOnly  = 8 // SQLITE_READONLY
	sqliteInterrupt = 9 // SQLITE_INTERRUPT
)

func classifySQLite(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // the primary code; extended codes add bits above
		case sqliteReadOnly:
			return ErrWriteRefused
		case sqliteBusy, sqliteInterrupt:
			return ErrTimeout
		}
	}
	return ErrQuery
}
