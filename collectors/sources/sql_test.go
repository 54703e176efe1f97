//go:build linux

package sources

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/licmesh/licmesh/mesh/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dbCase is one database under test: a fresh, empty schema (postgres),
// database (mariadb) or file (sqlite), an admin connection that may write
// to it, and what differs between the dialects.
type dbCase struct {
	driver string
	admin  *sql.DB
	dsn    string // for the source
	// secret is the password inside dsn ("" for sqlite).
	secret string
	ph     string // the placeholder
	ts     string // the column type for times
	flag   string // the column type for flags
	// sleep is a query returning one integer after 10 s.
	sleep string
	// write is a statement changing the users table.
	write string
}

var drivers = []string{DriverPostgres, DriverMySQL, DriverSQLite}

func randName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "t_" + hex.EncodeToString(b)
}

func newDBCase(t *testing.T, driver string) *dbCase {
	t.Helper()
	if d, _ := lookupDriver(driver); !d.built() {
		t.Skipf("the %s driver is not built in (build tag %s)", driver, d.offTag)
	}
	c := &dbCase{driver: driver, ph: "?", ts: "DATETIME", flag: "TINYINT"}
	switch driver {
	case DriverPostgres:
		srv := dbtest.Postgres(t)
		schema := randName()
		cfg, err := pgx.ParseConfig(srv.DSN)
		require.NoError(t, err)
		root, err := sql.Open("pgx", srv.DSN)
		require.NoError(t, err)
		defer root.Close()
		_, err = root.Exec("CREATE SCHEMA " + schema)
		require.NoError(t, err)
		c.dsn = srv.DSN + "&search_path=" + schema
		c.secret = cfg.Password
		c.ph, c.ts, c.flag = "$1", "TIMESTAMP", "BOOLEAN"
		c.sleep = "SELECT count(*) FROM pg_sleep(10)"
		c.write = "UPDATE users SET enabled = false"
		t.Cleanup(func() {
			db, err := sql.Open("pgx", srv.DSN)
			if err == nil {
				db.Exec("DROP SCHEMA " + schema + " CASCADE")
				db.Close()
			}
		})
	case DriverMySQL:
		srv := dbtest.MariaDB(t)
		name := randName()
		root, err := sql.Open("mysql", srv.DSN)
		require.NoError(t, err)
		defer root.Close()
		_, err = root.Exec("CREATE DATABASE " + name)
		require.NoError(t, err)
		cfg, err := mysql.ParseDSN(srv.DSN)
		require.NoError(t, err)
		cfg.DBName = name
		c.dsn, c.secret = cfg.FormatDSN(), cfg.Passwd
		c.sleep = "SELECT SLEEP(10)"
		c.write = "UPDATE users SET enabled = 0"
		t.Cleanup(func() {
			db, err := sql.Open("mysql", srv.DSN)
			if err == nil {
				db.Exec("DROP DATABASE " + name)
				db.Close()
			}
		})
	case DriverSQLite:
		c.dsn = filepath.Join(t.TempDir(), "product.db")
		c.ts, c.flag = "TEXT", "INTEGER"
		c.sleep = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
		c.write = "UPDATE users SET enabled = 0"
	}
	admin, err := sql.Open(map[string]string{DriverPostgres: "pgx", DriverMySQL: "mysql", DriverSQLite: "sqlite"}[driver], c.dsn)
	require.NoError(t, err)
	admin.SetMaxOpenConns(1)
	t.Cleanup(func() { admin.Close() })
	c.admin = admin
	return c
}

func (c *dbCase) exec(t *testing.T, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		_, err := c.admin.Exec(q)
		require.NoError(t, err, q)
	}
}

// bool renders a flag literal for the dialect.
func (c *dbCase) bool(b bool) string {
	switch {
	case c.driver == DriverPostgres && b:
		return "true"
	case c.driver == DriverPostgres:
		return "false"
	case b:
		return "1"
	}
	return "0"
}

func sqlTime(t time.Time) string { return "'" + t.UTC().Format(time.DateTime) + "'" }

// seed creates a generic schema: four users, three cases, and logons around
// testNow (the source looks back 24 h).
func (c *dbCase) seed(t *testing.T) {
	t.Helper()
	c.exec(t,
		fmt.Sprintf("CREATE TABLE users (id VARCHAR(64) PRIMARY KEY, role VARCHAR(32), enabled %s, locked %s, in_trash %s)", c.flag, c.flag, c.flag),
		fmt.Sprintf("CREATE TABLE logons (user_id VARCHAR(64), role VARCHAR(32), locked %s, started_at %s, ended_at %s NULL)", c.flag, c.ts, c.ts),
		"CREATE TABLE cases (id INT)",
		"INSERT INTO cases (id) VALUES (1), (2), (3)",
	)
	for _, u := range []struct {
		id, role                 string
		enabled, locked, inTrash bool
	}{
		{"u-alice", "ADMIN", true, false, false},
		{"u-bob", "staff", false, false, true},
		{"u-carol", "manager", true, true, false},
		{"u-dave", "CUSTOM_ROLE", true, false, false},
	} {
		c.exec(t, fmt.Sprintf("INSERT INTO users VALUES ('%s', '%s', %s, %s, %s)", u.id, u.role, c.bool(u.enabled), c.bool(u.locked), c.bool(u.inTrash)))
	}
	c.exec(t,
		fmt.Sprintf("INSERT INTO logons VALUES ('u-alice', 'ADMIN', %s, %s, NULL)", c.bool(false), sqlTime(testNow.Add(-time.Hour))),
		fmt.Sprintf("INSERT INTO logons VALUES ('u-bob', 'staff', %s, %s, %s)", c.bool(false), sqlTime(testNow.Add(-3*time.Hour)), sqlTime(testNow.Add(-2*time.Hour))),
		fmt.Sprintf("INSERT INTO logons VALUES ('u-carol', 'manager', %s, %s, %s)", c.bool(true), sqlTime(testNow.Add(-72*time.Hour)), sqlTime(testNow.Add(-70*time.Hour))),
	)
}

// config is a source over the generic schema.
func (c *dbCase) config() Config {
	return Config{
		Name:        "db-" + c.driver,
		Kind:        KindSQL,
		Interval:    time.Minute,
		Timeout:     5 * time.Second,
		Roles:       map[string]string{"ADMIN": "super"},
		DefaultRole: "staff",
		SQL: &SQLConfig{
			Driver: c.driver,
			DSN:    c.dsn,
			Scalars: map[string]string{
				"users": "SELECT count(*) FROM users",
				"cases": "SELECT count(*) FROM cases",
			},
			Users:  "SELECT id, role, enabled, locked, in_trash FROM users",
			Logons: "SELECT user_id, role, locked, started_at, ended_at FROM logons WHERE ended_at IS NULL OR ended_at > " + c.ph,
		},
	}
}

func forEachDriver(t *testing.T, f func(t *testing.T, c *dbCase)) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			f(t, newDBCase(t, d))
		})
	}
}

func TestSQLCollect(t *testing.T) {
	forEachDriver(t, func(t *testing.T, c *dbCase) {
		c.seed(t)
		src := mustNew(t, c.config(), testOptions())
		s, err := src.Collect(context.Background())
		require.NoError(t, err, "Collect")
		assert.Equal(t, "db-"+c.driver, s.Source, "sample source")
		assert.True(t, s.At.Equal(testNow), "sample at %v", s.At)
		assert.Equal(t, map[string]int64{"users": 4, "cases": 3}, s.Scalars, "scalars")
		require.Len(t, s.Users, 4, "users")
		require.Zero(t, s.Rejected, "rejected (%s)", s.RejectedReason)
		for _, w := range []struct {
			raw                      string
			role                     usage.Role
			enabled, locked, inTrash bool
		}{
			{"u-alice", usage.RoleSuper, true, false, false},
			{"u-bob", usage.RoleStaff, false, false, true},
			{"u-carol", usage.RoleManager, true, true, false},
			{"u-dave", usage.RoleStaff, true, false, false}, // default_role
		} {
			u := userByRaw(t, s.Users, w.raw)
			assert.Equal(t, w.role, u.Role, "%s = %+v, want %+v", w.raw, u, w)
			assert.Equal(t, w.enabled, u.Enabled, "%s = %+v, want %+v", w.raw, u, w)
			assert.Equal(t, w.locked, u.Locked, "%s = %+v, want %+v", w.raw, u, w)
			assert.Equal(t, w.inTrash, u.InTrash, "%s = %+v, want %+v", w.raw, u, w)
			assert.True(t, u.At.Equal(testNow), "%s = %+v, want %+v", w.raw, u, w)
			assert.NoError(t, u.Validate(), "%s", w.raw)
		}
		// carol's session ended 70 h ago, before the 24 h lookback.
		require.Len(t, s.Logons, 2, "logons: %+v", s.Logons)
		a := logonByRaw(t, s.Logons, "u-alice")
		assert.Equal(t, usage.RoleSuper, a.Role, "alice's logon = %+v", a)
		assert.True(t, a.Start.Equal(testNow.Add(-time.Hour)), "alice's logon = %+v", a)
		assert.True(t, a.End.IsZero(), "alice's logon = %+v", a)
		assert.False(t, a.Locked, "alice's logon = %+v", a)
		b := logonByRaw(t, s.Logons, "u-bob")
		assert.True(t, b.Start.Equal(testNow.Add(-3*time.Hour)), "bob's logon = %+v", b)
		assert.True(t, b.End.Equal(testNow.Add(-2*time.Hour)), "bob's logon = %+v", b)
		noRawIDs(t, s, "u-alice", "u-bob", "u-carol", "u-dave")

		// One connection, at most.
		db := src.(*source).m.(*sqlSource).db
		st := db.Stats()
		assert.Equal(t, 1, st.MaxOpenConnections, "connection stats %+v: want at most one connection", st)
		assert.LessOrEqual(t, st.OpenConnections, 1, "connection stats %+v: want at most one connection", st)
	})
}

func TestSQLReadOnly(t *testing.T) {
	forEachDriver(t, func(t *testing.T, c *dbCase) {
		c.seed(t)
		cfg := c.config()
		cfg.SQL.Scalars = map[string]string{"users": c.write}
		src := mustNew(t, cfg, testOptions())
		_, err := src.Collect(context.Background())
		wantErr(t, err, ErrWriteRefused, `"db-`+c.driver+`"`, "sql.scalars.users", "tried to write")
		var n int
		require.NoError(t, c.admin.QueryRow("SELECT count(*) FROM users WHERE enabled = "+c.bool(true)).Scan(&n))
		assert.Equal(t, 3, n, "enabled users after the refused write, want 3 (unchanged)")
	})
}

func TestSQLStatementTimeout(t *testing.T) {
	forEachDriver(t, func(t *testing.T, c *dbCase) {
		c.seed(t)
		cfg := c.config()
		cfg.Timeout = time.Second
		cfg.SQL.Scalars = map[string]string{"users": "SELECT count(*) FROM users", "slow": c.sleep}
		src := mustNew(t, cfg, testOptions())
		start := time.Now()
		_, err := src.Collect(context.Background())
		took := time.Since(start)
		wantErr(t, err, ErrTimeout, "sql.scalars.slow", "timeout")
		assert.LessOrEqual(t, took, 3*time.Second, "Collect took %v with a 1s timeout", took)
		t.Logf("timed out after %v: %v", took.Round(time.Millisecond), err)
		// The database itself stopped the query: it is not left running.
		var probe string
		switch c.driver {
		case DriverPostgres:
			probe = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(10)%' AND state = 'active' AND pid <> pg_backend_pid()"
		case DriverMySQL:
			probe = "SELECT count(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(10)%'"
		default:
			return
		}
		deadline := time.Now().Add(3 * time.Second)
		for {
			var n int
			require.NoError(t, c.admin.QueryRow(probe).Scan(&n))
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the slow query still runs in the database 3s after the timeout")
			}
			time.Sleep(50 * time.Millisecond) // polling the server's process list
		}
		// The source works again on the next run.
		cfg.SQL.Scalars = map[string]string{"users": "SELECT count(*) FROM users"}
		s, err := mustNew(t, cfg, testOptions()).Collect(context.Background())
		assert.NoError(t, err, "after a timeout")
		assert.Equal(t, int64(4), s.Scalars["users"], "after a timeout: %v", s.Scalars)
	})
}

func TestSQLRowLimit(t *testing.T) {
	forEachDriver(t, func(t *testing.T, c *dbCase) {
		c.seed(t)
		cfg := c.config()
		cfg.MaxRows = 3
		src := mustNew(t, cfg, testOptions())
		_, err := src.Collect(context.Background())
		wantErr(t, err, ErrTooManyRows, "sql.users", "more than 3 rows", "max_rows")
		// Exactly at the limit is fine.
		cfg.MaxRows = 4
		_, err = mustNew(t, cfg, testOptions()).Collect(context.Background())
		assert.NoError(t, err, "at the limit")
	})
}

func TestSQLBadResults(t *testing.T) {
	forEachDriver(t, func(t *testing.T, c *dbCase) {
		c.seed(t)
		for _, tc := range []struct {
			name   string
			mutate func(*SQLConfig)
			kind   error
			parts  []string
		}{
			{"syntax", func(s *SQLConfig) { s.Scalars["cases"] = "SELEC count(*) FROM cases" }, ErrQuery, []string{"sql.scalars.cases"}},
			{"missing table", func(s *SQLConfig) { s.Scalars["cases"] = "SELECT count(*) FROM no_such_table" }, ErrQuery, []string{"sql.scalars.cases", "no_such_table"}},
			{"two columns", func(s *SQLConfig) { s.Scalars["cases"] = "SELECT 1, 2" }, ErrBadResult, []string{"want one column; got 2 columns"}},
			{"no row", func(s *SQLConfig) { s.Scalars["cases"] = "SELECT id FROM cases WHERE id > 99" }, ErrBadResult, []string{"returned no row"}},
			{"two rows", func(s *SQLConfig) { s.Scalars["cases"] = "SELECT id FROM cases" }, ErrBadResult, []string{"more than one row"}},
			{"null", func(s *SQLConfig) { s.Scalars["cases"] = "SELECT max(id) FROM cases WHERE id > 99" }, ErrBadResult, []string{"NULL", "COALESCE"}},
			{"text", func(s *SQLConfig) { s.Scalars["cases"] = "SELECT 'many'" }, ErrBadResult, []string{`"many" is not an integer`}},
			{"user columns", func(s *SQLConfig) { s.Users = "SELECT id, role, enabled FROM users" }, ErrBadResult,
				[]string{`sources: "db-` + c.driver + `": sql.users: want columns id, role, enabled, locked, in_trash; got 3 columns (id, role, enabled)`}},
			{"logon columns", func(s *SQLConfig) {
				s.Logons = "SELECT user_id, role, started_at, ended_at FROM logons WHERE ended_at > " + c.ph
			}, ErrBadResult, []string{"sql.logons", "want columns user_id, role, locked, started_at, ended_at"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cfg := c.config()
				tc.mutate(cfg.SQL)
				_, err := mustNew(t, cfg, testOptions()).Collect(context.Background())
				wantErr(t, err, tc.kind, tc.parts...)
				if c.secret != "" {
					noSecret(t, err.Error(), c.secret)
				}
			})
		}
	})
}

func TestSQLRejectedRows(t *testing.T) {
	forEachDriver(t, func(t *testing.T, c *dbCase) {
		c.seed(t)
		cfg := c.config()
		cfg.DefaultRole = "" // u-dave's CUSTOM_ROLE is now unknown
		s, err := mustNew(t, cfg, testOptions()).Collect(context.Background())
		require.NoError(t, err)
		assert.Len(t, s.Users, 3, "users; want 3, 1 rejected for the unknown role")
		assert.Equal(t, 1, s.Rejected, "rejected (%q); want 1 for the unknown role", s.RejectedReason)
		assert.Contains(t, s.RejectedReason, `role "CUSTOM_ROLE" is not in roles`, "rejected reason")
		noRawIDs(t, s, "u-dave")
	})
}

func TestSQLBadDSN(t *testing.T) {
	const wrong = "Wrong-Pw-91x!"
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			c := newDBCase(t, d)
			cfg := c.config()
			switch d {
			case DriverPostgres:
				cfg.SQL.DSN = strings.Replace(c.dsn, c.secret, wrong, 1)
			case DriverMySQL:
				cfg.SQL.DSN = strings.Replace(c.dsn, c.secret, wrong, 1)
			case DriverSQLite:
				cfg.SQL.DSN = filepath.Join(t.TempDir(), "missing.db")
			}
			src := mustNew(t, cfg, testOptions())
			_, err := src.Collect(context.Background())
			wantErr(t, err, ErrConnect, `"db-`+d+`"`)
			noSecret(t, err.Error(), wrong, c.secret)
			t.Logf("%v", err)
			if d == DriverSQLite {
				// mode=ro: the missing file was not created.
				_, statErr := os.Stat(cfg.SQL.DSN)
				assert.ErrorIs(t, statErr, fs.ErrNotExist, "the source created %s", cfg.SQL.DSN)
			}
		})
	}
}

func TestSQLMalformedDSNAtNew(t *testing.T) {
	const secret = "Sup3r-Secret-77"
	for _, tc := range []struct {
		driver, dsn, want string
	}{
		{DriverPostgres, "postgres://reader:" + secret + "@127.0.0.1:notaport/db", "does not parse as a postgres DSN"},
		{DriverPostgres, "host=127.0.0.1 password=" + secret + " port=x", "does not parse as a postgres DSN"},
		{DriverMySQL, "reader:" + secret + "@tcp(127.0.0.1:3306/db", "does not parse as a mysql DSN"},
		{DriverSQLite, "relative/product.db", "absolute path"},
		{DriverSQLite, "file:/x.db?mode=rw", "plain path"},
	} {
		if d, _ := lookupDriver(tc.driver); !d.built() {
			continue // TestSQLDriverNotBuilt
		}
		cfg := Config{Name: "bad", Kind: KindSQL, SQL: &SQLConfig{Driver: tc.driver, DSN: tc.dsn, Scalars: map[string]string{"users": "SELECT 1"}}}
		_, err := New(cfg, testOptions())
		wantErr(t, err, ErrConfig, `sources: "bad": sql.dsn: `, tc.want)
		noSecret(t, err.Error(), secret)
	}
}

// TestSQLDSNFromFileAndEnv reads the DSN from a file and from a variable.
func TestSQLDSNFromFileAndEnv(t *testing.T) {
	c := newDBCase(t, DriverSQLite)
	c.seed(t)
	cfg := c.config()
	cfg.SQL.DSN = ""
	cfg.SQL.DSNEnv = "PM_DSN"
	opts := testOptions()
	opts.LookupEnv = func(k string) (string, bool) {
		if k == "PM_DSN" {
			return c.dsn, true
		}
		return "", false
	}
	_, err := mustNew(t, cfg, opts).Collect(context.Background())
	assert.NoError(t, err, "dsn_env")
	opts.LookupEnv = func(string) (string, bool) { return "", false }
	_, err = New(cfg, opts)
	wantErr(t, err, ErrConfig, "sql.dsn_env", "PM_DSN is not set")
}
