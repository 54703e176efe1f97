//go:build !nomysql

package sources

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"
)

func mysqlDriver() sqlDriver {
	return sqlDriver{name: DriverMySQL, offTag: "nomysql", open: openMySQL, classify: classifyMySQL}
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

// MySQL and MariaDB error numbers the sources tell apart.
const (
	myReadOnlyTransaction = 1792 // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
	myLockWaitTimeout     = 1205 // ER_LOCK_WAIT_TIMEOUT
	myQueryTimeout        = 3024 // ER_QUERY_TIMEOUT (MySQL max_execution_time)
	mariaStatementTimeout = 1969 // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
)

func classifyMySQL(err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case myReadOnlyTransaction:
			return ErrWriteRefused
		case myLockWaitTimeout, myQueryTimeout, mariaStatementTimeout:
			return ErrTimeout
		}
	}
	return ErrQuery
}
