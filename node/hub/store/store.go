package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Engine names a database engine.
type Engine string

// Engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Config says which database to open.
type Config struct {
	// Engine is SQLite (default) or Postgres.
	Engine Engine
	// Path is the SQLite database file.
	Path string
	// DSN is the PostgreSQL connection string (URL or key=value form).
	DSN string
}

// Validate says what is wrong with c, if anything, without opening it.
func (c Config) Validate() error {
	switch c.Engine {
	case SQLite, "":
		if c.Path == "" {
			return fmt.Errorf("%w: sqlite needs a database path", ErrInvalid)
		}
	case Postgres:
		if c.DSN == "" {
			return fmt.Errorf("%w: postgres needs a DSN", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: engine %q: sqlite or postgres", ErrInvalid, c.Engine)
	}
	return nil
}

// dialect is what differs between the engines.
type dialect struct {
	engine Engine
	goose  goose.Dialect
	// unique reports whether err is a unique-constraint violation.
	unique func(err error) bool
	// beginWrite starts a transaction that will write. SQLite takes its
	// write lock at the first write, and a transaction that read first
	// then fails with SQLITE_BUSY instead of waiting: BEGIN IMMEDIATE takes
	// the lock up front, so concurrent writers queue on busy_timeout.
	beginWrite func(ctx context.Context, db *sql.DB) (*sql.Tx, error)
}

var dialects = map[Engine]dialect{
	SQLite: {
		engine: SQLite, goose: goose.DialectSQLite3,
		unique: func(err error) bool { return strings.Contains(err.Error(), "UNIQUE constraint failed") },
		beginWrite: func(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
			return db.BeginTx(ctx, nil) // the connection is opened with _txlock=immediate
		},
	},
	Postgres: {
		engine: Postgres, goose: goose.DialectPostgres,
		unique: func(err error) bool { return strings.Contains(err.Error(), "SQLSTATE 23505") },
		beginWrite: func(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
			return db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
		},
	},
}

// Store is the hub's database. It is safe for concurrent use.
type Store struct {
	db    *sql.DB
	d     dialect
	stmts *stmtCache
}

// Open opens the database cfg names, creating a SQLite file if needed,
// and brings its schema up to date.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Engine == "" {
		cfg.Engine = SQLite
	}
	d := dialects[cfg.Engine]
	var db *sql.DB
	var err error
	switch cfg.Engine {
	case SQLite:
		u := url.URL{Scheme: "file", Path: filepath.Clean(cfg.Path), RawQuery: "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate"}
		db, err = sql.Open("sqlite", u.String())
	case Postgres:
		db, err = sql.Open("pgx", cfg.DSN)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", cfg.Engine, err)
	}
	if cfg.Engine == SQLite {
		// One writer at a time is SQLite's rule; a small pool lets reads
		// run beside it (WAL) without queueing behind the writer.
		db.SetMaxOpenConns(4)
	}
	s := &Store{db: db, d: d, stmts: &stmtCache{db: db}}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(s.d.goose, s.db, sub)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate %s: %w", s.d.engine, err)
	}
	return nil
}

// Engine is the engine s runs on.
func (s *Store) Engine() Engine { return s.d.engine }

// Ping checks the database answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.close()
	return s.db.Close()
}

// Tx runs f in one transaction: committed if f returns nil, rolled back
// otherwise. On PostgreSQL it is serializable and retried (a few times) on
// a serialization failure (up to ten times), so f must have no effect outside the
// transaction but its return value.
func (s *Store) Tx(ctx context.Context, f func(tx *Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := s.tx(ctx, f)
		if err == nil || attempt >= 9 || !retryable(err) {
			return err
		}
		// Jittered, growing waits, so that the transactions that collided
		// do not collide again in step.
		wait := time.Duration(attempt+1)*2*time.Millisecond + time.Duration(mrand.Int64N(int64(5*time.Millisecond)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (s *Store) tx(ctx context.Context, f func(tx *Tx) error) (err error) {
	sqlTx, err := s.d.beginWrite(ctx, s.db)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	if err := f(&Tx{tx: cachedTx{sqlTx, s.stmts}, d: s.d}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Read runs f in a read-only transaction: a consistent view of the
// database. On SQLite a read-only transaction begins DEFERRED, not
// IMMEDIATE as the DSN's _txlock makes the others: readers then share
// WAL snapshots beside each other and beside the one writer, where
// IMMEDIATE would queue every page view behind every write.
func (s *Store) Read(ctx context.Context, f func(tx *Tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer sqlTx.Rollback()
	return f(&Tx{tx: cachedTx{sqlTx, s.stmts}, d: s.d})
}

// retryable reports whether a transaction failed only because another
// one ran beside it (PostgreSQL's 40001 and 40P01).
func retryable(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLSTATE 40001") || strings.Contains(msg, "SQLSTATE 40P01")
}

// Tx is one transaction. Its methods are the store's operations.
type Tx struct {
	tx cachedTx
	d  dialect
}

func (t *Tx) exec(ctx context.Context, what, q string, args ...any) (sql.Result, error) {
	r, err := t.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return nil, t.wrap(what, err)
	}
	return r, nil
}

// wrap names the operation and turns a unique violation into ErrConflict.
func (t *Tx) wrap(what string, err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	case t.d.unique(err):
		return fmt.Errorf("%w: %s: already exists", ErrConflict, what)
	default:
		return fmt.Errorf("store: %s: %w", what, err)
	}
}

// affectedOne turns "no row changed" into ErrNotFound.
func affectedOne(r sql.Result, what string) error {
	n, err := r.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return nil
}

// ms is how times are stored: UTC milliseconds; the zero time is 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS reads a stored time back in UTC; 0 is the zero time.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}
