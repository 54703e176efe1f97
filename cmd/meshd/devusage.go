package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the demo product's database driver, "sqlite"

	"github.com/licmesh/licmesh/collectors/meter"
	"github.com/licmesh/licmesh/collectors/sources"
)

// Usage metering in `meshd dev`: each simulated collector measures a demo
// installation of a ProcessMaker-like product, kept in a small SQLite
// database in the dev directory, with the real usage meter and a real SQL
// source, and reports through its agent. A goroutine changes the database
// slowly (cases opened, users logging on and off, now and then a new user
// or one disabled), so the dashboard's metrics move while one watches.

// devUsageInterval is how often each demo installation is measured.
const devUsageInterval = 10 * time.Second

// devInstallations name the demo installations, one per simulated
// collector; collectors past the list get site-N.
var devInstallations = []string{"acme-prod", "acme-test", "globex", "initech", "umbrella"}

// devInstallation is the installation simulated collector i (from 0)
// measures.
func devInstallation(i int) string {
	if i < len(devInstallations) {
		return devInstallations[i]
	}
	return fmt.Sprintf("site-%d", i+1)
}

// devInstallationList names the first n demo installations, for the banner.
func devInstallationList(n int) string {
	names := make([]string, 0, min(n, 4))
	for i := range min(n, 3) {
		names = append(names, devInstallation(i))
	}
	if n > 3 {
		names = append(names, "...")
	}
	return strings.Join(names, ", ")
}

// devRoles are the product's roles and the usage role each stands for.
// ProcessMaker has no rep role; the demo has a custom one.
var devRoles = map[string]string{
	"PROCESSMAKER_ADMIN":    "super",
	"PROCESSMAKER_OPERATOR": "staff",
	"PROCESSMAKER_MANAGER":  "manager",
	"PROCESSMAKER_REP":      "rep",
}

// devSchema is the demo product's schema: ProcessMaker's USERS,
// APPLICATION (cases) and LOGIN_LOG, with a lock flag ProcessMaker lacks,
// and the bits seed 004's installation facts come from.
const devSchema = `
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

// devSource is the usage source for the demo product at path: the example
// ProcessMaker source's queries, in SQLite's dialect.
func devSource(path string) sources.Config {
	return sources.Config{
		Name: "processmaker", Kind: sources.KindSQL,
		Interval: devUsageInterval, Timeout: 5 * time.Second, TimeZone: "UTC",
		Roles: devRoles, DefaultRole: "staff",
		SQL: &sources.SQLConfig{
			Driver: sources.DriverSQLite, DSN: path, SinceFormat: sources.SinceText,
			Scalars: map[string]string{
				sources.ScalarUsers:                "SELECT COUNT(*) FROM USERS WHERE USR_STATUS <> 'CLOSED'",
				sources.ScalarCases:                "SELECT COUNT(*) FROM APPLICATION",
				sources.ScalarFileLimitMB:          "SELECT CFG_VALUE FROM CONFIGURATION WHERE CFG_NAME = 'file_limit_mb'",
				sources.ScalarProcessModuleOn:      "SELECT CFG_VALUE FROM CONFIGURATION WHERE CFG_NAME = 'process_module'",
				sources.ScalarProcessFields:        "SELECT COUNT(*) FROM DYNAFORM_FIELD",
				sources.ScalarProcessFieldsInTrash: "SELECT COUNT(*) FROM DYNAFORM_FIELD WHERE FLD_TRASHED = 1",
				sources.ScalarCommissionModuleOn:   "SELECT CFG_VALUE FROM CONFIGURATION WHERE CFG_NAME = 'commission_module'",
				sources.ScalarCommissionItems: `SELECT COUNT(*) FROM COMMISSION_ITEM
					WHERE RUN_ID = (SELECT MAX(RUN_ID) FROM COMMISSION_ITEM WHERE RUN_CLOSED = 1)`,
			},
			Users: `SELECT USR_UID AS id, USR_ROLE AS role,
				CASE WHEN USR_STATUS IN ('ACTIVE', 'VACATION') THEN 1 ELSE 0 END AS enabled,
				USR_LOCKED AS locked,
				CASE WHEN USR_STATUS = 'CLOSED' THEN 1 ELSE 0 END AS in_trash
				FROM USERS`,
			Logons: `SELECT L.USR_UID AS user_id, U.USR_ROLE AS role, U.USR_LOCKED AS locked,
				L.LOG_INIT_DATE AS started_at, L.LOG_END_DATE AS ended_at
				FROM LOGIN_LOG L JOIN USERS U ON U.USR_UID = L.USR_UID
				WHERE L.LOG_STATUS <> 'FAIL' AND (L.LOG_END_DATE IS NULL OR L.LOG_END_DATE > ?)`,
		},
	}
}

// devTime is how the demo product writes times: DATETIME text in UTC, the
// source's time_zone.
func devTime(t time.Time) string { return t.UTC().Format(time.DateTime) }

// devProduct is one demo installation's product database.
type devProduct struct {
	db  *sql.DB
	rng *rand.Rand
	now func() time.Time
}

// openDevProduct opens the product database at path, first creating it
// with users users, a few hundred cases and the last hours' logons, some
// still open, unless a kept dev directory has it already.
func openDevProduct(path string, users int, now func() time.Time) (*devProduct, error) {
	// The source reads while this writes: WAL keeps either from waiting.
	u := url.URL{Scheme: "file", Path: filepath.Clean(path), RawQuery: "_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	// Seeded by the time: a restarted product must not make the IDs it made
	// before.
	p := &devProduct{db: db, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(users))), now: now}
	var tables int
	err = db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'USERS'`).Scan(&tables)
	if err == nil && tables == 0 {
		err = p.fill(users)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("dev: product database %s: %w", path, err)
	}
	return p, nil
}

// fill creates the schema and the starting data, in one transaction.
func (p *devProduct) fill(users int) error {
	tx, err := p.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(devSchema); err != nil {
		return err
	}
	roles := []string{"PROCESSMAKER_OPERATOR", "PROCESSMAKER_REP", "PROCESSMAKER_OPERATOR", "PROCESSMAKER_MANAGER", "PROCESSMAKER_REP"}
	now := p.now()
	for i := range users {
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
		if _, err := tx.Exec(`INSERT INTO USERS VALUES (?, ?, ?, ?, ?)`, p.uid(), fmt.Sprintf("user%02d", i+1), role, status, locked); err != nil {
			return err
		}
	}
	for range 50 + p.rng.IntN(250) {
		if err := p.newCase(tx, now.Add(-time.Duration(p.rng.IntN(30*24))*time.Hour)); err != nil {
			return err
		}
	}
	// The last six hours' sessions, so that logon minutes and the
	// concurrent maximum show from the first sample.
	for range users / 2 {
		start := now.Add(-time.Duration(p.rng.IntN(6*60)) * time.Minute)
		var end any
		if e := start.Add(time.Duration(10+p.rng.IntN(120)) * time.Minute); e.Before(now) {
			end = devTime(e)
		}
		if err := p.logon(tx, start, end); err != nil {
			return err
		}
	}
	for name, v := range map[string]int{"file_limit_mb": 50 + 50*p.rng.IntN(4), "process_module": 1, "commission_module": p.rng.IntN(2)} {
		if _, err := tx.Exec(`INSERT INTO CONFIGURATION VALUES (?, ?)`, name, v); err != nil {
			return err
		}
	}
	for i := range 20 + p.rng.IntN(80) {
		if _, err := tx.Exec(`INSERT INTO DYNAFORM_FIELD (FLD_TRASHED) VALUES (?)`, btoi(i%10 == 0)); err != nil {
			return err
		}
	}
	for run := 1; run <= 2; run++ {
		for range 5 + p.rng.IntN(20) {
			if _, err := tx.Exec(`INSERT INTO COMMISSION_ITEM VALUES (?, ?)`, run, btoi(run == 1)); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	Exec(query string, args ...any) (sql.Result, error)
}

func (p *devProduct) uid() string { return fmt.Sprintf("%016x%016x", p.rng.Uint64(), p.rng.Uint64()) }

// newCase opens a case, started by a random enabled user.
func (p *devProduct) newCase(db execer, at time.Time) error {
	statuses := []string{"DRAFT", "TO_DO", "TO_DO", "COMPLETED", "CANCELLED"}
	_, err := db.Exec(`INSERT INTO APPLICATION
		SELECT ?, COALESCE((SELECT MAX(APP_NUMBER) FROM APPLICATION), 0) + 1, ?,
		       (SELECT USR_UID FROM USERS WHERE USR_STATUS = 'ACTIVE' ORDER BY RANDOM() LIMIT 1), ?`,
		p.uid(), statuses[p.rng.IntN(len(statuses))], devTime(at))
	return err
}

// logon logs a random enabled user on at start, until end (nil: still on).
func (p *devProduct) logon(db execer, start time.Time, end any) error {
	status := "ACTIVE"
	if end != nil {
		status = "CLOSED"
	}
	_, err := db.Exec(`INSERT INTO LOGIN_LOG (USR_UID, LOG_STATUS, LOG_INIT_DATE, LOG_END_DATE)
		SELECT USR_UID, ?, ?, ? FROM USERS WHERE USR_STATUS IN ('ACTIVE', 'VACATION') ORDER BY RANDOM() LIMIT 1`,
		status, devTime(start), end)
	return err
}

// step makes one change, as a day at the office would.
func (p *devProduct) step() error {
	now := p.now()
	switch r := p.rng.IntN(100); {
	case r < 35:
		return p.newCase(p.db, now)
	case r < 60:
		return p.logon(p.db, now, nil)
	case r < 85:
		_, err := p.db.Exec(`UPDATE LOGIN_LOG SET LOG_STATUS = 'CLOSED', LOG_END_DATE = ?
			WHERE LOG_ID = (SELECT LOG_ID FROM LOGIN_LOG WHERE LOG_END_DATE IS NULL ORDER BY RANDOM() LIMIT 1)`, devTime(now))
		return err
	case r < 90:
		_, err := p.db.Exec(`INSERT INTO LOGIN_LOG (USR_UID, LOG_STATUS, LOG_INIT_DATE, LOG_END_DATE)
			SELECT USR_UID, 'FAIL', ?, ? FROM USERS ORDER BY RANDOM() LIMIT 1`, devTime(now), devTime(now))
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

// run changes the database every few seconds until ctx ends.
func (p *devProduct) run(ctx context.Context, log *slog.Logger) {
	for {
		sleep(ctx, time.Duration(2000+p.rng.IntN(3000))*time.Millisecond)
		if ctx.Err() != nil {
			return
		}
		if err := p.step(); err != nil {
			log.Warn("dev: changing the demo product database failed", "err", err)
		}
	}
}

func (p *devProduct) Close() error { return p.db.Close() }

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// runDevUsage meters demo installation i of a collector whose data
// directory is dir, reporting through rep once ready is closed, until ctx
// ends; then it closes everything it opened, so that the directory can be
// removed.
func runDevUsage(ctx context.Context, i int, dir string, rep meter.Reporter, ready <-chan struct{}, log *slog.Logger) error {
	path := filepath.Join(dir, "product.db")
	prod, err := openDevProduct(path, []int{40, 8, 22, 15, 30}[i%5], time.Now)
	if err != nil {
		return err
	}
	defer prod.Close()
	key, err := meter.LoadKey(filepath.Join(dir, "pseudonym.key"))
	if err != nil {
		return err
	}
	jobs, err := sources.Jobs([]sources.Config{devSource(path)}, sources.Options{HashKey: key, Logger: log})
	clear(key)
	if err != nil {
		return err
	}
	defer func() {
		for _, j := range jobs {
			j.Source.Close()
		}
	}()
	cfg := meter.DefaultConfig()
	cfg.Installation = devInstallation(i)
	cfg.SpoolDir = filepath.Join(dir, "spool")
	cfg.Spool.MaxBytes, cfg.Spool.SegmentBytes = 8<<20, 1<<20
	select {
	case <-ctx.Done():
		return nil
	case <-ready: // reports before enrollment would only fail and log
	}
	m, err := meter.Open(cfg, jobs, rep, meter.Options{Logger: log})
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { defer close(done); prod.run(ctx, log) }()
	err = errors.Join(m.Run(ctx), m.Close())
	<-done
	return err
}
