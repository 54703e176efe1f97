package fakeproduct

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the product's database, "sqlite", as collectord's SQL sources read it

	"github.com/licmesh/licmesh/licensing/clock"
)

// Schema is the product's schema: ProcessMaker's USERS, APPLICATION (cases)
// and LOGIN_LOG, with a lock flag ProcessMaker lacks, and the tables seed
// 004's installation facts come from.
const Schema = `
CREATE TABLE USERS (
	USR_UID      TEXT PRIMARY KEY,
	USR_USERNAME TEXT NOT NULL,
	USR_ROLE     TEXT NOT NULL,
	USR_STATUS   TEXT NOT NULL, -- ACTIVE, INACTIVE, VACATION, CLOSED (in the trash)
	USR_LOCKED   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE APPLICATION (
	APP_UID         TEXT PRIMARY KEY,
	APP_NUMBER      INTEGER NOT NULL,
	APP_STATUS      TEXT NOT NULL,
	APP_INIT_USER   TEXT NOT NULL,
	APP_CREATE_DATE TEXT NOT NULL
);
CREATE TABLE LOGIN_LOG (
	LOG_ID        INTEGER PRIMARY KEY,
	USR_UID       TEXT NOT NULL,
	LOG_STATUS    TEXT NOT NULL, -- ACTIVE, CLOSED, FAIL
	LOG_INIT_DATE TEXT NOT NULL,
	LOG_END_DATE  TEXT
);
CREATE INDEX LOGIN_LOG_OPEN ON LOGIN_LOG (LOG_END_DATE);
CREATE TABLE CONFIGURATION (CFG_NAME TEXT PRIMARY KEY, CFG_VALUE INTEGER NOT NULL);
CREATE TABLE DYNAFORM_FIELD (FLD_ID INTEGER PRIMARY KEY, FLD_TRASHED INTEGER NOT NULL DEFAULT 0);
CREATE TABLE COMMISSION_ITEM (RUN_ID INTEGER NOT NULL, RUN_CLOSED INTEGER NOT NULL);
`

// Roles are the product's roles and the usage role each stands for.
// ProcessMaker has no rep role; the product has a custom one.
var Roles = map[string]string{
	"PROCESSMAKER_ADMIN":    "super",
	"PROCESSMAKER_OPERATOR": "staff",
	"PROCESSMAKER_MANAGER":  "manager",
	"PROCESSMAKER_REP":      "rep",
}

// Sizes is what Create puts in a new database.
type Sizes struct {
	// Users rows in USERS: the first two admins, about one in nine
	// inactive, one in thirteen closed (in the trash), one in seventeen
	// locked.
	Users int
	// Cases rows in APPLICATION, created over Span.
	Cases int
	// Logons rows in LOGIN_LOG started over Span: one in twenty failed,
	// those of the last two hours still open.
	Logons int
	// Span is how far back cases and logons go.
	Span time.Duration
	// Seed makes the rows: the same sizes and seed give the same rows, at
	// times relative to the now given to Create.
	Seed uint64
}

// DemoSizes are the sizes of demo installation i in `make run`: a few
// dozen users, a few hundred cases, the last six hours' logons.
func DemoSizes(i int) Sizes {
	users := []int{40, 8, 22, 15, 30}[i%5]
	return Sizes{Users: users, Cases: 50 + (i*97)%250, Logons: users / 2, Span: 6 * time.Hour, Seed: uint64(i) + 1}
}

// Validate says what is wrong with s, if anything.
func (s Sizes) Validate() error {
	switch {
	case s.Users < 1:
		return fmt.Errorf("%w: users %d: at least 1", ErrInvalid, s.Users)
	case s.Cases < 0 || s.Logons < 0:
		return fmt.Errorf("%w: cases %d, logons %d: must not be negative", ErrInvalid, s.Cases, s.Logons)
	case s.Span <= 0:
		return fmt.Errorf("%w: span %v: must be positive", ErrInvalid, s.Span)
	}
	return nil
}

// Summary counts what a database holds.
type Summary struct {
	Users  int `json:"users"`
	Active int `json:"active"` // users not CLOSED: the users scalar
	Cases  int `json:"cases"`
	Logons int `json:"logons"`
}

// ErrInvalid is returned for sizes or paths that cannot make a database.
var ErrInvalid = errors.New("fakeproduct: invalid")

// ErrExists is returned by Create when the database already has the schema.
var ErrExists = errors.New("fakeproduct: database already exists")

// Product is one installation's product database, open for changes.
type Product struct {
	db  *sql.DB
	rng *rand.Rand
}

// openDB opens path for the product: WAL, so that the collector's source
// reads while the product writes without either waiting.
func openDB(path string) (*sql.DB, error) {
	u := url.URL{Scheme: "file", Path: filepath.Clean(path), RawQuery: "_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// Exists reports whether the database at path has the product's schema.
func Exists(path string) (bool, error) {
	db, err := openDB(path)
	if err != nil {
		return false, err
	}
	defer db.Close()
	var n int
	err = db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'USERS'`).Scan(&n)
	return n > 0, err
}

// Create makes the database at path with sizes' rows, at times before now,
// in one transaction: a failure leaves no schema behind.
func Create(ctx context.Context, path string, sizes Sizes, now time.Time) (Summary, error) {
	if err := sizes.Validate(); err != nil {
		return Summary{}, err
	}
	if ok, err := Exists(path); err != nil {
		return Summary{}, fmt.Errorf("fakeproduct: %s: %w", path, err)
	} else if ok {
		return Summary{}, fmt.Errorf("%w: %s", ErrExists, path)
	}
	db, err := openDB(path)
	if err != nil {
		return Summary{}, err
	}
	defer db.Close()
	p := &Product{db: db, rng: rand.New(rand.NewPCG(sizes.Seed, uint64(sizes.Users)))}
	sum, err := p.fill(ctx, sizes, now.UTC())
	if err != nil {
		return Summary{}, fmt.Errorf("fakeproduct: create %s: %w", path, err)
	}
	return sum, nil
}

// Open opens the product database at path, made by Create, for changes.
func Open(path string) (*Product, error) {
	ok, err := Exists(path)
	if err != nil {
		return nil, fmt.Errorf("fakeproduct: %s: %w", path, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s has no product schema (create it first)", ErrInvalid, path)
	}
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	// Seeded by the time: a restarted product must not make the IDs it made
	// before.
	return &Product{db: db, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))}, nil
}

// Close closes the database.
func (p *Product) Close() error { return p.db.Close() }

// Time is how the product writes times: DATETIME text in UTC, its
// sources' time_zone.
func Time(t time.Time) string { return t.UTC().Format(time.DateTime) }

func (p *Product) fill(ctx context.Context, s Sizes, now time.Time) (Summary, error) {
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return Summary{}, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, Schema); err != nil {
		return Summary{}, err
	}
	sum := Summary{Users: s.Users, Cases: s.Cases, Logons: s.Logons}
	roles := []string{"PROCESSMAKER_OPERATOR", "PROCESSMAKER_REP", "PROCESSMAKER_OPERATOR", "PROCESSMAKER_MANAGER", "PROCESSMAKER_REP"}
	uids := make([]string, s.Users)
	err = insertRows(ctx, tx, `INSERT INTO USERS VALUES (?, ?, ?, ?, ?)`, s.Users, func(i int) []any {
		role, status, locked := roles[i%len(roles)], "ACTIVE", 0
		switch {
		case i < 2:
			role = "PROCESSMAKER_ADMIN"
		case i%9 == 4:
			status = "INACTIVE"
		case i%13 == 7:
			status = "CLOSED"
		case i%17 == 5:
			locked = 1
		}
		if status != "CLOSED" {
			sum.Active++
		}
		uids[i] = p.uid()
		return []any{uids[i], fmt.Sprintf("user%02d", i+1), role, status, locked}
	})
	if err != nil {
		return Summary{}, err
	}
	statuses := []string{"DRAFT", "TO_DO", "TO_DO", "COMPLETED", "CANCELLED"}
	err = insertRows(ctx, tx, `INSERT INTO APPLICATION VALUES (?, ?, ?, ?, ?)`, s.Cases, func(i int) []any {
		at := now.Add(-time.Duration(p.rng.Int64N(int64(s.Span))))
		return []any{p.uid(), i + 1, statuses[p.rng.IntN(len(statuses))], uids[p.rng.IntN(len(uids))], Time(at)}
	})
	if err != nil {
		return Summary{}, err
	}
	err = insertRows(ctx, tx, `INSERT INTO LOGIN_LOG (USR_UID, LOG_STATUS, LOG_INIT_DATE, LOG_END_DATE) VALUES (?, ?, ?, ?)`, s.Logons, func(int) []any {
		start := now.Add(-time.Duration(p.rng.Int64N(int64(s.Span))))
		status, end := "CLOSED", any(Time(start.Add(time.Duration(5+p.rng.IntN(240))*time.Minute)))
		switch {
		case p.rng.IntN(20) == 0:
			status, end = "FAIL", Time(start)
		case now.Sub(start) < 2*time.Hour:
			status, end = "ACTIVE", nil
		}
		return []any{uids[p.rng.IntN(len(uids))], status, Time(start), end}
	})
	if err != nil {
		return Summary{}, err
	}
	for name, v := range map[string]int{"file_limit_mb": 50 + 50*p.rng.IntN(4), "process_module": 1, "commission_module": p.rng.IntN(2)} {
		if _, err := tx.ExecContext(ctx, `INSERT INTO CONFIGURATION VALUES (?, ?)`, name, v); err != nil {
			return Summary{}, err
		}
	}
	if err := insertRows(ctx, tx, `INSERT INTO DYNAFORM_FIELD (FLD_TRASHED) VALUES (?)`, 20+p.rng.IntN(80), func(i int) []any { return []any{btoi(i%10 == 0)} }); err != nil {
		return Summary{}, err
	}
	for run := 1; run <= 2; run++ {
		if err := insertRows(ctx, tx, `INSERT INTO COMMISSION_ITEM VALUES (?, ?)`, 5+p.rng.IntN(20), func(int) []any { return []any{run, btoi(run == 1)} }); err != nil {
			return Summary{}, err
		}
	}
	return sum, tx.Commit()
}

// insertRows runs insert n times with row(i)'s arguments.
func insertRows(ctx context.Context, tx *sql.Tx, insert string, n int, row func(i int) []any) error {
	st, err := tx.PrepareContext(ctx, insert)
	if err != nil {
		return err
	}
	defer st.Close()
	for i := range n {
		if _, err := st.ExecContext(ctx, row(i)...); err != nil {
			return fmt.Errorf("%s: row %d: %w", insert, i, err)
		}
	}
	return nil
}

func (p *Product) uid() string { return fmt.Sprintf("%016x%016x", p.rng.Uint64(), p.rng.Uint64()) }

// Step makes one change at now, as a day at the office would: a case
// opened, a user logging on or off, a failed logon, now and then a new
// user, one disabled or re-enabled, or a form field added.
func (p *Product) Step(now time.Time) error {
	switch r := p.rng.IntN(100); {
	case r < 35:
		statuses := []string{"DRAFT", "TO_DO", "TO_DO", "COMPLETED", "CANCELLED"}
		_, err := p.db.Exec(`INSERT INTO APPLICATION
			SELECT ?, COALESCE((SELECT MAX(APP_NUMBER) FROM APPLICATION), 0) + 1, ?,
			       (SELECT USR_UID FROM USERS WHERE USR_STATUS = 'ACTIVE' ORDER BY RANDOM() LIMIT 1), ?`,
			p.uid(), statuses[p.rng.IntN(len(statuses))], Time(now))
		return err
	case r < 60:
		_, err := p.db.Exec(`INSERT INTO LOGIN_LOG (USR_UID, LOG_STATUS, LOG_INIT_DATE, LOG_END_DATE)
			SELECT USR_UID, 'ACTIVE', ?, NULL FROM USERS WHERE USR_STATUS IN ('ACTIVE', 'VACATION') ORDER BY RANDOM() LIMIT 1`, Time(now))
		return err
	case r < 85:
		_, err := p.db.Exec(`UPDATE LOGIN_LOG SET LOG_STATUS = 'CLOSED', LOG_END_DATE = ?
			WHERE LOG_ID = (SELECT LOG_ID FROM LOGIN_LOG WHERE LOG_END_DATE IS NULL ORDER BY RANDOM() LIMIT 1)`, Time(now))
		return err
	case r < 90:
		_, err := p.db.Exec(`INSERT INTO LOGIN_LOG (USR_UID, LOG_STATUS, LOG_INIT_DATE, LOG_END_DATE)
			SELECT USR_UID, 'FAIL', ?, ? FROM USERS ORDER BY RANDOM() LIMIT 1`, Time(now), Time(now))
		return err
	case r < 94:
		_, err := p.db.Exec(`INSERT INTO USERS VALUES (?, 'user' || (SELECT COUNT(*) + 1 FROM USERS), ?, 'ACTIVE', 0)`,
			p.uid(), []string{"PROCESSMAKER_OPERATOR", "PROCESSMAKER_MANAGER", "PROCESSMAKER_REP"}[p.rng.IntN(3)])
		return err
	case r < 97:
		_, err := p.db.Exec(`UPDATE USERS SET USR_STATUS = CASE USR_STATUS WHEN 'ACTIVE' THEN 'INACTIVE' ELSE 'ACTIVE' END
			WHERE USR_UID = (SELECT USR_UID FROM USERS WHERE USR_ROLE <> 'PROCESSMAKER_ADMIN' AND USR_STATUS IN ('ACTIVE', 'INACTIVE') ORDER BY RANDOM() LIMIT 1)`)
		return err
	default:
		_, err := p.db.Exec(`INSERT INTO DYNAFORM_FIELD (FLD_TRASHED) VALUES (0)`)
		return err
	}
}

// Run changes the database every two to five seconds of clk until ctx
// ends; a failed change is given to onErr and the product goes on.
func (p *Product) Run(ctx context.Context, clk clock.Clock, onErr func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-clk.After(time.Duration(2000+p.rng.IntN(3000)) * time.Millisecond):
		}
		if err := p.Step(clk.Now()); err != nil {
			onErr(err)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
