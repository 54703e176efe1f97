package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.yaml.in/yaml/v3"
	_ "modernc.org/sqlite" // reads demoproduct's database
)

// u2MySQLBatch is how many rows one INSERT copies.
const u2MySQLBatch = 500

// u2Tables are the ProcessMaker tables and columns the example source
// reads, in ProcessMaker 3's types, and the query that reads each from
// demoproduct's database.
var u2Tables = []struct{ create, read string }{
	{"CREATE TABLE USERS (USR_UID VARCHAR(32) PRIMARY KEY, USR_ROLE VARCHAR(32) NOT NULL, USR_STATUS VARCHAR(32) NOT NULL)",
		"SELECT USR_UID, USR_ROLE, USR_STATUS FROM USERS"},
	{"CREATE TABLE APPLICATION (APP_UID VARCHAR(32) PRIMARY KEY, APP_STATUS VARCHAR(32) NOT NULL)",
		"SELECT APP_UID, APP_STATUS FROM APPLICATION"},
	{"CREATE TABLE LOGIN_LOG (LOG_ID INT PRIMARY KEY, USR_UID VARCHAR(32) NOT NULL, LOG_STATUS VARCHAR(32) NOT NULL," +
		" LOG_INIT_DATE DATETIME NOT NULL, LOG_END_DATE DATETIME NULL, KEY (LOG_INIT_DATE))",
		"SELECT LOG_ID, USR_UID, LOG_STATUS, LOG_INIT_DATE, NULLIF(LOG_END_DATE, '') FROM LOGIN_LOG"},
}

// mysqlProduct makes the typical site's database: it copies the tables
// the ProcessMaker example reads from demoproduct's database db into a new
// database on the MariaDB server at serverDSN (dropped at tb's cleanup),
// and writes collectors/sources/example-processmaker.yaml, pointed at it
// and sampling every uc.Interval, as a sources file in dir, whose path it
// returns.
func mysqlProduct(ctx context.Context, tb testing.TB, db productDB, dir, serverDSN string, uc UsageConfig) (string, error) {
	fail := func(err error) (string, error) { return "", fmt.Errorf("%w: MariaDB copy: %w", ErrProduct, err) }
	cfg, err := mysql.ParseDSN(serverDSN)
	if err != nil {
		return fail(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	cfg.DBName = "u2_" + hex.EncodeToString(b)
	admin, err := sql.Open("mysql", serverDSN)
	if err != nil {
		return fail(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+cfg.DBName); err != nil {
		return fail(err)
	}
	tb.Cleanup(func() {
		if admin, err := sql.Open("mysql", serverDSN); err == nil {
			_, _ = admin.Exec("DROP DATABASE IF EXISTS " + cfg.DBName)
			admin.Close()
		}
	})
	dsn := cfg.FormatDSN()
	to, err := sql.Open("mysql", dsn)
	if err != nil {
		return fail(err)
	}
	defer to.Close()
	from, err := sql.Open("sqlite", "file:"+db.Path+"?mode=ro")
	if err != nil {
		return fail(err)
	}
	defer from.Close()
	for _, t := range u2Tables {
		if _, err := to.ExecContext(ctx, t.create); err != nil {
			return fail(err)
		}
		if err := copyRows(ctx, from, to, t.read); err != nil {
			return fail(err)
		}
	}
	dsnFile := filepath.Join(dir, "processmaker.dsn")
	if err := os.WriteFile(dsnFile, []byte(dsn+"\n"), 0o600); err != nil {
		return fail(err)
	}
	src, err := exampleSources(dsnFile, uc.Interval)
	if err != nil {
		return fail(err)
	}
	srcFile := filepath.Join(dir, "sources-mysql.yaml")
	if err := os.WriteFile(srcFile, src, 0o600); err != nil {
		return fail(err)
	}
	return srcFile, nil
}

// copyRows inserts every row of read (run on from) into the table of the
// same name on to, u2MySQLBatch rows per statement.
func copyRows(ctx context.Context, from, to *sql.DB, read string) error {
	table := read[strings.LastIndex(read, " ")+1:]
	rows, err := from.QueryContext(ctx, read)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	var args []any
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		n := len(args) / len(cols)
		q := "INSERT INTO " + table + " VALUES " + strings.TrimSuffix(strings.Repeat(one+",", n), ",")
		_, err := to.ExecContext(ctx, q, args...)
		args = args[:0]
		return err
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		args = append(args, vals...)
		if len(args) == u2MySQLBatch*len(cols) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return flush()
}

// exampleSources returns the ProcessMaker example's sources file with its
// DSN file, interval and timeout (at most the interval) replaced. The
// example is read from the source tree, like the harness builds the
// binaries from it.
func exampleSources(dsnFile string, interval time.Duration) ([]byte, error) {
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "collectors", "sources", "example-processmaker.yaml"))
	if err != nil {
		return nil, err
	}
	var doc struct {
		Sources []map[string]any `yaml:"sources"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if len(doc.Sources) != 1 {
		return nil, fmt.Errorf("the example has %d sources; U2 meters one", len(doc.Sources))
	}
	s := doc.Sources[0]
	sqlCfg, ok := s["sql"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the example's source has no sql section")
	}
	timeout, err := time.ParseDuration(fmt.Sprint(s["timeout"]))
	if err != nil {
		return nil, fmt.Errorf("the example's timeout: %w", err)
	}
	s["interval"] = interval.String()
	s["timeout"] = min(timeout, interval).String()
	sqlCfg["dsn_file"] = dsnFile
	return yaml.Marshal(doc)
}
