package sources

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Connection bounds. A source holds at most one connection, and only while
// it is being used or shortly after: at the default five-minute interval it
// connects for each collection and holds nothing in between.
const (
	sqlConnMaxIdle     = time.Minute
	sqlConnMaxLifetime = 30 * time.Minute
)

// sqlSource runs a source's queries in one read-only transaction on one
// connection, with a statement timeout set in the database itself so that a
// query the collector gave up on does not go on running there.
type sqlSource struct {
	cfg     *SQLConfig
	driver  sqlDriver
	timeout time.Duration
	loc     *time.Location
	db      *sql.DB
	rep     *reporter
	scalars []string // names, sorted, so queries run in a fixed order

	// mariaDB is set after the first connection to a mysql server: MariaDB
	// and MySQL name the statement timeout differently.
	mariaDB *bool
}

func newSQL(cfg Config, lookup func(string) (string, bool), rep *reporter) (*sqlSource, error) {
	c := cfg.SQL
	driver, _ := lookupDriver(c.Driver) // Validate has refused unknown names
	if !driver.built() {
		return nil, rep.failf("sql.driver", ErrConfig, "%s", notBuilt(driver, SQLDrivers()))
	}
	dsn, err := readSecret(c.DSN, c.DSNFile, c.DSNEnv, lookup)
	if err != nil {
		field := "sql.dsn_file"
		if c.DSNEnv != "" {
			field = "sql.dsn_env"
		}
		return nil, rep.failf(field, ErrConfig, "%v", err)
	}
	s := &sqlSource{cfg: c, driver: driver, timeout: cfg.Timeout, rep: rep, scalars: slices.Sorted(maps.Keys(c.Scalars))}
	s.loc, _ = time.LoadLocation(cfg.TimeZone)
	if c.Driver != DriverSQLite {
		rep.scrub.add(dsn)
	}
	if s.db, err = driver.open(dsn, cfg.Timeout, &rep.scrub); err != nil {
		return nil, rep.fail("sql.dsn", ErrConfig, err)
	}
	s.db.SetMaxOpenConns(1)
	s.db.SetMaxIdleConns(1)
	s.db.SetConnMaxIdleTime(sqlConnMaxIdle)
	s.db.SetConnMaxLifetime(sqlConnMaxLifetime)
	return s, nil
}

func (s *sqlSource) close() error { return s.db.Close() }

func (s *sqlSource) measure(ctx context.Context, req *request) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return s.connErr(ctx, err)
	}
	defer conn.Close()
	if err := s.beforeTx(ctx, conn); err != nil {
		return err
	}
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return s.queryErr(ctx, "sql", fmt.Errorf("begin read-only transaction: %w", err))
	}
	// The transaction only ever reads: it is rolled back, never committed.
	defer tx.Rollback()
	if err := s.inTx(ctx, tx); err != nil {
		return err
	}
	for _, name := range s.scalars {
		v, err := s.scalar(ctx, tx, "sql.scalars."+name, s.cfg.Scalars[name])
		if err != nil {
			return err
		}
		req.scalars[name] = v
	}
	if s.cfg.Users != "" {
		err := s.rows(ctx, tx, "sql.users", s.cfg.Users, nil, userColumns, req.maxRows, req.addUser)
		if err != nil {
			return err
		}
	}
	if s.cfg.Logons != "" {
		err := s.rows(ctx, tx, "sql.logons", s.cfg.Logons, []any{s.sinceArg(req.since)}, logonColumns, req.maxRows, req.addLogon)
		if err != nil {
			return err
		}
	}
	return nil
}

// remaining is how long the collection may still run, at least 1ms.
func remaining(ctx context.Context, fallback time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return fallback
}

// beforeTx sets per-session limits that must precede the transaction.
func (s *sqlSource) beforeTx(ctx context.Context, conn *sql.Conn) error {
	if s.cfg.Driver != DriverMySQL {
		return nil
	}
	if s.mariaDB == nil {
		var version string
		if err := conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
			return s.queryErr(ctx, "sql", fmt.Errorf("read server version: %w", err))
		}
		isMaria := strings.Contains(strings.ToLower(version), "mariadb")
		s.mariaDB = &isMaria
	}
	left := remaining(ctx, s.timeout)
	stmts := []string{
		// Waiting for a metadata lock (behind an ALTER TABLE) would make the
		// product's own queries queue behind ours.
		fmt.Sprintf("SET SESSION lock_wait_timeout = %d", max(1, int(left.Seconds()))),
	}
	if *s.mariaDB {
		stmts = append(stmts, fmt.Sprintf("SET SESSION max_statement_time = %.3f", left.Seconds()))
	} else {
		stmts = append(stmts, fmt.Sprintf("SET SESSION max_execution_time = %d", left.Milliseconds()))
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return s.queryErr(ctx, "sql", fmt.Errorf("set session limits: %w", err))
		}
	}
	return nil
}

// inTx sets limits local to the transaction.
func (s *sqlSource) inTx(ctx context.Context, tx *sql.Tx) error {
	if s.cfg.Driver != DriverPostgres {
		return nil
	}
	left := remaining(ctx, s.timeout)
	ms := fmt.Sprint(left.Milliseconds())
	lock := fmt.Sprint(min(left, 5*time.Second).Milliseconds())
	// set_config(..., true) is SET LOCAL: it ends with the transaction.
	_, err := tx.ExecContext(ctx,
		"SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true), set_config('idle_in_transaction_session_timeout', $1, true)",
		ms, lock)
	if err != nil {
		return s.queryErr(ctx, "sql", fmt.Errorf("set statement timeout: %w", err))
	}
	return nil
}

func (s *sqlSource) sinceArg(since time.Time) any {
	switch s.cfg.SinceFormat {
	case SinceTime:
		return since.UTC()
	case SinceUnix:
		return since.Unix()
	}
	return since.In(s.loc).Format(time.DateTime)
}

// scalar runs a query that must return one row of one integer column.
func (s *sqlSource) scalar(ctx context.Context, tx *sql.Tx, field, q string) (int64, error) {
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return 0, s.queryErr(ctx, field, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, s.queryErr(ctx, field, err)
	}
	if len(cols) != 1 {
		return 0, s.rep.failf(field, ErrBadResult, "want one column; got %d columns (%s)", len(cols), clip(strings.Join(cols, ", ")))
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, s.queryErr(ctx, field, err)
		}
		return 0, s.rep.failf(field, ErrBadResult, "returned no row; want exactly one")
	}
	var v any
	if err := rows.Scan(&v); err != nil {
		return 0, s.queryErr(ctx, field, err)
	}
	if rows.Next() {
		return 0, s.rep.failf(field, ErrBadResult, "returned more than one row; want exactly one")
	}
	if err := rows.Err(); err != nil {
		return 0, s.queryErr(ctx, field, err)
	}
	n, err := toInt64(v)
	switch {
	case errors.Is(err, errNull):
		return 0, s.rep.failf(field, ErrBadResult, "returned NULL; want an integer (wrap it in COALESCE(..., 0))")
	case err != nil:
		return 0, s.rep.failf(field, ErrBadResult, "value %v", err)
	}
	return n, nil
}

// sqlRecord is one row of a users or logons query.
type sqlRecord struct {
	idx  map[string]int
	vals []any
}

func (r sqlRecord) get(name string) (any, bool) {
	i, ok := r.idx[name]
	if !ok {
		return nil, false
	}
	return r.vals[i], true
}

// rows runs a query whose rows have the want columns, handing each row to
// fn with its 1-based number. More than maxRows rows is an error: the query
// is cancelled rather than read to the end.
func (s *sqlSource) rows(ctx context.Context, tx *sql.Tx, field, q string, args []any, want []string, maxRows int, fn func(r record, n int)) error {
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := tx.QueryContext(qctx, q, args...)
	if err != nil {
		return s.queryErr(ctx, field, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return s.queryErr(ctx, field, err)
	}
	idx, err := columnIndex(want, cols)
	if err != nil {
		return s.rep.fail(field, ErrBadResult, err)
	}
	rec := sqlRecord{idx: idx, vals: make([]any, len(cols))}
	ptrs := make([]any, len(cols))
	for i := range rec.vals {
		ptrs[i] = &rec.vals[i]
	}
	n := 0
	for rows.Next() {
		n++
		if n > maxRows {
			cancel() // drop the rest instead of reading it
			return s.rep.failf(field, ErrTooManyRows, "returned more than %d rows (max_rows); raise max_rows or narrow the query", maxRows)
		}
		if err := rows.Scan(ptrs...); err != nil {
			return s.queryErr(ctx, field, err)
		}
		fn(rec, n)
	}
	if err := rows.Err(); err != nil {
		return s.queryErr(ctx, field, err)
	}
	return nil
}

// connErr reports a failure to connect.
func (s *sqlSource) connErr(ctx context.Context, err error) *Error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		e := s.rep.fail("sql", ErrTimeout, fmt.Errorf("connecting did not finish within the source's timeout (%v): %w", s.timeout, err))
		e.cause = context.DeadlineExceeded
		return e
	}
	return s.rep.fail("sql", ErrConnect, fmt.Errorf("connect to %s: %w", s.cfg.Driver, err))
}

// queryErr reports a failed statement under the sentinel that says why.
func (s *sqlSource) queryErr(ctx context.Context, field string, err error) *Error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		e := s.rep.fail(field, ErrTimeout, fmt.Errorf("the query did not finish within the source's timeout (%v): %w", s.timeout, err))
		e.cause = context.DeadlineExceeded
		return e
	case ctx.Err() != nil:
		e := s.rep.fail(field, ErrQuery, fmt.Errorf("cancelled: %w", err))
		e.cause = context.Canceled
		return e
	}
	switch kind := s.driver.classify(err); kind {
	case ErrTimeout:
		e := s.rep.fail(field, ErrTimeout, fmt.Errorf("the database stopped the query at the source's timeout (%v): %w", s.timeout, err))
		e.cause = context.DeadlineExceeded
		return e
	case ErrWriteRefused:
		return s.rep.fail(field, ErrWriteRefused, fmt.Errorf("the query tried to write, and sources only read: %w", err))
	default:
		return s.rep.fail(field, kind, err)
	}
}
