package sources

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
)

// applicationName is how the collector shows up in the database's session
// lists, so a DBA can tell its sessions apart.
const applicationName = "licmesh-collector"

// openPostgres parses a pgx DSN (URL or key=value) and sets the session up
// read-only with a statement timeout from the first byte: the startup
// parameters hold even for a query that somehow ran outside our
// transaction.
func openPostgres(dsn string, timeout time.Duration, scrub *scrubber) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("does not parse as a postgres DSN: %w", err)
	}
	scrub.add(cfg.Password)
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > timeout {
		cfg.ConnectTimeout = timeout
	}
	ms := fmt.Sprint(timeout.Milliseconds())
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = applicationName
	}
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	cfg.RuntimeParams["statement_timeout"] = ms
	cfg.RuntimeParams["idle_in_transaction_session_timeout"] = ms
	return stdlib.OpenDB(*cfg), nil
}

// openMySQL parses a go-sql-driver DSN (user:pass@tcp(host:port)/db?...)
// and turns off what a read-only collector never needs: several statements
// per query and LOAD DATA LOCAL.
func openMySQL(dsn string, timeout time.Duration, scrub *scrubber) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("does not parse as a mysql DSN (user:password@tcp(host:port)/dbname): %w", err)
	}
	scrub.add(cfg.Passwd)
	cfg.MultiStatements = false
	cfg.AllowAllFiles = false
	if cfg.Timeout == 0 || cfg.Timeout > timeout {
		cfg.Timeout = timeout
	}
	// I/O deadlines back up the statement timeout against a server that
	// stops answering; they must not cut a query the server is still
	// allowed to run.
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = timeout + 5*time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = timeout + 5*time.Second
	}
	cfg.Logger = &mysql.NopLogger{} // errors come back to us; no stderr lines
	if cfg.ConnectionAttributes == "" {
		cfg.ConnectionAttributes = "program_name:" + applicationName
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql DSN: %w", err)
	}
	return sql.OpenDB(conn), nil
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
func openSQLite(path string, timeout time.Duration) (*sql.DB, error) {
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

// SQL error codes the sources tell apart.
const (
	pgReadOnlyTransaction = "25006" // read_only_sql_transaction
	pgQueryCanceled       = "57014" // query_canceled: statement_timeout
	pgLockNotAvailable    = "55P03" // lock_not_available: lock_timeout

	myReadOnlyTransaction = 1792 // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
	myLockWaitTimeout     = 1205 // ER_LOCK_WAIT_TIMEOUT
	myQueryTimeout        = 3024 // ER_QUERY_TIMEOUT (MySQL max_execution_time)
	mariaStatementTimeout = 1969 // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)

	sqliteBusy      = 5 // SQLITE_BUSY
	sqliteReadOnly  = 8 // SQLITE_READONLY
	sqliteInterrupt = 9 // SQLITE_INTERRUPT
)

// classifySQL returns the sentinel for a driver error.
func classifySQL(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgReadOnlyTransaction:
			return ErrWriteRefused
		case pgQueryCanceled, pgLockNotAvailable:
			return ErrTimeout
		}
		return ErrQuery
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case myReadOnlyTransaction:
			return ErrWriteRefused
		case myLockWaitTimeout, myQueryTimeout, mariaStatementTimeout:
			return ErrTimeout
		}
		return ErrQuery
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // the primary code; extended codes add bits above
		case sqliteReadOnly:
			return ErrWriteRefused
		case sqliteBusy, sqliteInterrupt:
			return ErrTimeout
		}
		return ErrQuery
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return ErrConnect
	}
	return ErrQuery
}
