package bench

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"time"

	_ "modernc.org/sqlite" // the driver collectord's SQL sources use for SQLite
)

// pmDB is a ProcessMaker 3-like database file that U2's source reads.
type pmDB struct {
	Path string
	// Users rows in USERS, Active of them not CLOSED (what the users
	// scalar counts); Cases rows in APPLICATION; Logons rows in LOGIN_LOG.
	Users, Active, Cases, Logons int
}

// pmStatuses and pmRoles are drawn from with these weights, roughly what a
// ProcessMaker installation of a few hundred users looks like.
var (
	pmStatuses = []weighted{{"ACTIVE", 80}, {"VACATION", 5}, {"INACTIVE", 10}, {"CLOSED", 5}}
	pmRoles    = []weighted{{"PROCESSMAKER_ADMIN", 2}, {"PROCESSMAKER_MANAGER", 10}, {"PROCESSMAKER_OPERATOR", 85}, {"CUSTOM_AUDITOR", 3}}
	pmCases    = []weighted{{"DRAFT", 5}, {"TO_DO", 20}, {"PAUSED", 5}, {"COMPLETED", 65}, {"CANCELLED", 5}}
)

type weighted struct {
	value  string
	weight int
}

func pick(r *rand.Rand, ws []weighted) string {
	total := 0
	for _, w := range ws {
		total += w.weight
	}
	n := r.IntN(total)
	for _, w := range ws {
		if n < w.weight {
			return w.value
		}
		n -= w.weight
	}
	return ws[len(ws)-1].value
}

// writePMDB creates the database at path with uc's sizes: logons spread
// over the 30 days before now, sessions of the last two hours still open,
// one in twenty a failed logon. The same sizes give the same rows, at times
// relative to now.
func writePMDB(ctx context.Context, path string, uc UsageConfig, now time.Time) (_ pmDB, err error) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return pmDB{}, fmt.Errorf("bench: open %s: %w", path, err)
	}
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("bench: close %s: %w", path, cerr)
		}
	}()
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return pmDB{}, fmt.Errorf("bench: %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for _, q := range []string{
		"CREATE TABLE USERS (USR_UID VARCHAR(32) PRIMARY KEY, USR_USERNAME VARCHAR(100), USR_STATUS VARCHAR(32), USR_ROLE VARCHAR(32))",
		"CREATE TABLE APPLICATION (APP_UID VARCHAR(32) PRIMARY KEY, APP_NUMBER INT, APP_STATUS VARCHAR(32))",
		"CREATE TABLE LOGIN_LOG (LOG_ID INT PRIMARY KEY, LOG_UID VARCHAR(32), USR_UID VARCHAR(32), LOG_STATUS VARCHAR(32), LOG_INIT_DATE TEXT, LOG_END_DATE TEXT NULL)",
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return pmDB{}, fmt.Errorf("bench: %s: %w", path, err)
		}
	}
	r := rand.New(rand.NewPCG(uint64(uc.DBUsers), uint64(uc.DBLogons)))
	out := pmDB{Path: path, Users: uc.DBUsers, Cases: uc.DBCases, Logons: uc.DBLogons}
	uid := func(kind string, i int) string { return fmt.Sprintf("%s%028d", kind, i) }
	if err := insertRows(ctx, tx, "INSERT INTO USERS VALUES (?, ?, ?, ?)", uc.DBUsers, func(i int) []any {
		st := pick(r, pmStatuses)
		if st != "CLOSED" {
			out.Active++
		}
		return []any{uid("usr", i), fmt.Sprintf("user%d", i), st, pick(r, pmRoles)}
	}); err != nil {
		return pmDB{}, err
	}
	if err := insertRows(ctx, tx, "INSERT INTO APPLICATION VALUES (?, ?, ?)", uc.DBCases, func(i int) []any {
		return []any{uid("app", i), i + 1, pick(r, pmCases)}
	}); err != nil {
		return pmDB{}, err
	}
	const month = 30 * 24 * time.Hour
	if err := insertRows(ctx, tx, "INSERT INTO LOGIN_LOG VALUES (?, ?, ?, ?, ?, ?)", uc.DBLogons, func(i int) []any {
		start := now.Add(-time.Duration(r.Int64N(int64(month)))).UTC()
		status, end := "CLOSED", any(start.Add(time.Duration(5+r.IntN(240))*time.Minute).Format(time.DateTime))
		switch {
		case r.IntN(20) == 0:
			status, end = "FAIL", nil
		case now.Sub(start) < 2*time.Hour:
			status, end = "ACTIVE", nil
		}
		return []any{i + 1, uid("log", i), uid("usr", r.IntN(uc.DBUsers)), status, start.Format(time.DateTime), end}
	}); err != nil {
		return pmDB{}, err
	}
	if err := tx.Commit(); err != nil {
		return pmDB{}, fmt.Errorf("bench: %s: %w", path, err)
	}
	return out, nil
}

// insertRows runs the statement insert n times with row(i)'s arguments.
func insertRows(ctx context.Context, tx *sql.Tx, insert string, n int, row func(i int) []any) error {
	st, err := tx.PrepareContext(ctx, insert)
	if err != nil {
		return fmt.Errorf("bench: %s: %w", insert, err)
	}
	defer st.Close()
	for i := range n {
		if _, err := st.ExecContext(ctx, row(i)...); err != nil {
			return fmt.Errorf("bench: %s: row %d: %w", insert, i, err)
		}
	}
	return nil
}
