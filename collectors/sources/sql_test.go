//go:build linux

package sources

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
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
	c := &dbCase{driver: driver, ph: "?", ts: "DATETIME", flag: "TINYINT"}
	switch driver {
	case DriverPostgres:
		srv := needPostgres(t)
		schema := randName()
		cfg, err := pgx.ParseConfig(srv.dsn)
		if err != nil {
			t.Fatal(err)
		}
		root, err := sql.Open("pgx", srv.dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		if _, err := root.Exec("CREATE SCHEMA " + schema); err != nil {
			t.Fatal(err)
		}
		c.dsn = srv.dsn + "&search_path=" + schema
		c.secret = cfg.Password
		c.ph, c.ts, c.flag = "$1", "TIMESTAMP", "BOOLEAN"
		c.sleep = "SELECT count(*) FROM pg_sleep(10)"
		c.write = "UPDATE users SET enabled = false"
		t.Cleanup(func() {
			db, err := sql.Open("pgx", srv.dsn)
			if err == nil {
				db.Exec("DROP SCHEMA " + schema + " CASCADE")
				db.Close()
			}
		})
	case DriverMySQL:
		srv := needMySQL(t)
		name := randName()
		root, err := sql.Open("mysql", srv.dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		if _, err := root.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatal(err)
		}
		cfg, err := mysql.ParseDSN(srv.dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.DBName = name
		c.dsn, c.secret = cfg.FormatDSN(), cfg.Passwd
		c.sleep = "SELECT SLEEP(10)"
		c.write = "UPDATE users SET enabled = 0"
		t.Cleanup(func() {
			db, err := sql.Open("mysql", srv.dsn)
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
	if err != nil {
		t.Fatal(err)
	}
	admin.SetMaxOpenConns(1)
	t.Cleanup(func() { admin.Close() })
	c.admin = admin
	return c
}

func (c *dbCase) exec(t *testing.T, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := c.admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
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
		if err != nil {
			t.Fatalf("Collect: %v", err)
		}
		if s.Source != "db-"+c.driver || !s.At.Equal(testNow) {
			t.Errorf("sample is %q at %v", s.Source, s.At)
		}
		if s.Scalars["users"] != 4 || s.Scalars["cases"] != 3 || len(s.Scalars) != 2 {
			t.Errorf("scalars = %v, want users 4, cases 3", s.Scalars)
		}
		if len(s.Users) != 4 || s.Rejected != 0 {
			t.Fatalf("%d users, %d rejected (%s); want 4, 0", len(s.Users), s.Rejected, s.RejectedReason)
		}
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
			if u.Role != w.role || u.Enabled != w.enabled || u.Locked != w.locked || u.InTrash != w.inTrash || !u.At.Equal(testNow) {
				t.Errorf("%s = %+v, want %+v", w.raw, u, w)
			}
			if err := u.Validate(); err != nil {
				t.Errorf("%s: %v", w.raw, err)
			}
		}
		// carol's session ended 70 h ago, before the 24 h lookback.
		if len(s.Logons) != 2 {
			t.Fatalf("%d logons, want 2: %+v", len(s.Logons), s.Logons)
		}
		a := logonByRaw(t, s.Logons, "u-alice")
		if a.Role != usage.RoleSuper || !a.Start.Equal(testNow.Add(-time.Hour)) || !a.End.IsZero() || a.Locked {
			t.Errorf("alice's logon = %+v", a)
		}
		b := logonByRaw(t, s.Logons, "u-bob")
		if !b.Start.Equal(testNow.Add(-3*time.Hour)) || !b.End.Equal(testNow.Add(-2*time.Hour)) {
			t.Errorf("bob's logon = %+v", b)
		}
		noRawIDs(t, s, "u-alice", "u-bob", "u-carol", "u-dave")

		// One connection, at most.
		db := src.(*source).m.(*sqlSource).db
		if st := db.Stats(); st.MaxOpenConnections != 1 || st.OpenConnections > 1 {
			t.Errorf("connection stats %+v: want at most one connection", st)
		}
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
		if err := c.admin.QueryRow("SELECT count(*) FROM users WHERE enabled = " + c.bool(true)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 3 {
			t.Errorf("%d enabled users after the refused write, want 3 (unchanged)", n)
		}
	})
}

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
		if err := db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %d, want %d", pragma, got, want)
		}
	}
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
		if took > 3*time.Second {
			t.Errorf("Collect took %v with a 1s timeout", took)
		}
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
			if err := c.admin.QueryRow(probe).Scan(&n); err != nil {
				t.Fatal(err)
			}
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
		if s, err := mustNew(t, cfg, testOptions()).Collect(context.Background()); err != nil || s.Scalars["users"] != 4 {
			t.Errorf("after a timeout: %v, %v", s.Scalars, err)
		}
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
		if _, err := mustNew(t, cfg, testOptions()).Collect(context.Background()); err != nil {
			t.Errorf("at the limit: %v", err)
		}
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
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Users) != 3 || s.Rejected != 1 || !strings.Contains(s.RejectedReason, `role "CUSTOM_ROLE" is not in roles`) {
			t.Errorf("%d users, %d rejected (%q); want 3, 1 for the unknown role", len(s.Users), s.Rejected, s.RejectedReason)
		}
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
				if _, statErr := os.Stat(cfg.SQL.DSN); !errors.Is(statErr, fs.ErrNotExist) {
					t.Errorf("the source created %s (%v)", cfg.SQL.DSN, statErr)
				}
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
	if _, err := mustNew(t, cfg, opts).Collect(context.Background()); err != nil {
		t.Errorf("dsn_env: %v", err)
	}
	opts.LookupEnv = func(string) (string, bool) { return "", false }
	_, err := New(cfg, opts)
	wantErr(t, err, ErrConfig, "sql.dsn_env", "PM_DSN is not set")
}
