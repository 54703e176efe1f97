//go:build !nopostgres

package sources

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

func postgresDriver() sqlDriver {
	return sqlDriver{name: DriverPostgres, offTag: "nopostgres", open: openPostgres, classify: classifyPostgres}
}

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

// PostgreSQL error codes the sources tell apart.
const (
	pgReadOnlyTransaction = "25006" // read_only_sql_transaction
	pgQueryCanceled       = "57014" // query_canceled: statement_timeout
	pgLockNotAvailable    = "55P03" // lock_not_available: lock_timeout
)

func classifyPostgres(err error) error {
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
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return ErrConnect
	}
	return ErrQuery
}
