//go:build linux

package sources

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/clock/clocktest"
	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The example's logons query in the other dialects (its scalars and users
// queries run unchanged everywhere).
const (
	pmLogonsPostgres = `
SELECT L.USR_UID AS user_id, U.USR_ROLE AS role, 0 AS locked, L.LOG_INIT_DATE AS started_at,
       CASE
         WHEN L.LOG_END_DATE > L.LOG_INIT_DATE
           THEN LEAST(L.LOG_END_DATE, L.LOG_INIT_DATE + INTERVAL '12 hours')
         WHEN L.LOG_INIT_DATE + INTERVAL '12 hours' < LOCALTIMESTAMP
           THEN L.LOG_INIT_DATE + INTERVAL '12 hours'
         ELSE NULL
       END AS ended_at
FROM LOGIN_LOG L
LEFT JOIN USERS U ON U.USR_UID = L.USR_UID
WHERE L.LOG_STATUS <> 'FAIL'
  AND L.LOG_INIT_DATE > CAST($1 AS TIMESTAMP) - INTERVAL '12 hours'`
	pmLogonsSQLite = `
SELECT L.USR_UID AS user_id, U.USR_ROLE AS role, 0 AS locked, L.LOG_INIT_DATE AS started_at,
       CASE
         WHEN L.LOG_END_DATE > L.LOG_INIT_DATE
           THEN MIN(L.LOG_END_DATE, datetime(L.LOG_INIT_DATE, '+12 hours'))
         WHEN datetime(L.LOG_INIT_DATE, '+12 hours') < datetime('now')
           THEN datetime(L.LOG_INIT_DATE, '+12 hours')
         ELSE NULL
       END AS ended_at
FROM LOGIN_LOG L
LEFT JOIN USERS U ON U.USR_UID = L.USR_UID
WHERE L.LOG_STATUS <> 'FAIL'
  AND L.LOG_INIT_DATE > datetime(?, '-12 hours')`
)

func loadExample(t *testing.T) Config {
	t.Helper()
	cfgs, err := LoadFile("example-processmaker.yaml")
	require.NoError(t, err, "example")
	require.Len(t, cfgs, 1, "example: want one sql source reading its DSN from a file, got %+v", cfgs)
	require.NotNil(t, cfgs[0].SQL, "example: want one sql source reading its DSN from a file, got %+v", cfgs)
	require.NotEmpty(t, cfgs[0].SQL.DSNFile, "example: want one sql source reading its DSN from a file, got %+v", cfgs)
	return cfgs[0]
}

// TestProcessMakerExample runs the example config's queries against a small
// ProcessMaker-like schema in each real database.
func TestProcessMakerExample(t *testing.T) {
	ex := loadExample(t)
	// The example's NOW() is the database's clock, so the data sits around
	// the real time; DATETIME keeps whole seconds.
	now := time.Now().UTC().Truncate(time.Second)
	forEachDriver(t, func(t *testing.T, c *dbCase) {
		c.exec(t,
			"CREATE TABLE USERS (USR_UID VARCHAR(32) PRIMARY KEY, USR_USERNAME VARCHAR(100), USR_STATUS VARCHAR(32), USR_ROLE VARCHAR(32))",
			"CREATE TABLE APPLICATION (APP_UID VARCHAR(32) PRIMARY KEY, APP_NUMBER INT, APP_STATUS VARCHAR(32))",
			fmt.Sprintf("CREATE TABLE LOGIN_LOG (LOG_ID INT PRIMARY KEY, LOG_UID VARCHAR(32), USR_UID VARCHAR(32), LOG_STATUS VARCHAR(32), LOG_INIT_DATE %s, LOG_END_DATE %s NULL)", c.ts, c.ts),
		)
		for _, u := range [][3]string{
			{"adm1", "ACTIVE", "PROCESSMAKER_ADMIN"},
			{"op1", "ACTIVE", "PROCESSMAKER_OPERATOR"},
			{"op2", "VACATION", "PROCESSMAKER_OPERATOR"},
			{"op3", "INACTIVE", "PROCESSMAKER_OPERATOR"},
			{"mgr1", "ACTIVE", "PROCESSMAKER_MANAGER"},
			{"gone", "CLOSED", "PROCESSMAKER_OPERATOR"},
			{"cust", "ACTIVE", "CUSTOM_AUDITOR"},
		} {
			c.exec(t, fmt.Sprintf("INSERT INTO USERS VALUES ('%s', 'name-%s', '%s', '%s')", u[0], u[0], u[1], u[2]))
		}
		for i, st := range []string{"DRAFT", "TO_DO", "TO_DO", "COMPLETED", "CANCELLED"} {
			c.exec(t, fmt.Sprintf("INSERT INTO APPLICATION VALUES ('app%d', %d, '%s')", i, i+1, st))
		}
		zero := "NULL" // an open session in an old MySQL installation has a zero date
		if c.driver != DriverPostgres {
			zero = "'0000-00-00 00:00:00'"
		}
		ago := func(d time.Duration) string { return sqlTime(now.Add(-d)) }
		for i, l := range [][4]string{
			{"op1", "CLOSED", ago(2 * time.Hour), ago(time.Hour)},       // ended in the window
			{"adm1", "ACTIVE", ago(30 * time.Minute), "NULL"},           // open
			{"op2", "ACTIVE", ago(20 * time.Hour), "NULL"},              // never closed: capped at 12 h
			{"mgr1", "ACTIVE", ago(3 * time.Hour), zero},                // open, zero date
			{"op3", "CLOSED", ago(40 * time.Hour), ago(39 * time.Hour)}, // before the window
			{"op1", "FAIL", ago(time.Hour), "NULL"},                     // a failed logon
			{"ghost", "CLOSED", ago(time.Hour), ago(30 * time.Minute)},  // user since purged
			{"op1", "CLOSED", ago(14 * time.Hour), ago(time.Hour)},      // 13 h: capped at 12 h
		} {
			c.exec(t, fmt.Sprintf("INSERT INTO LOGIN_LOG VALUES (%d, 'log%d', '%s', '%s', %s, %s)", i+1, i+1, l[0], l[1], l[2], l[3]))
		}

		cfg := ex
		sqlCfg := *ex.SQL
		cfg.SQL = &sqlCfg
		sqlCfg.Driver, sqlCfg.DSN, sqlCfg.DSNFile = c.driver, c.dsn, ""
		switch c.driver {
		case DriverPostgres:
			sqlCfg.Logons = pmLogonsPostgres
		case DriverSQLite:
			sqlCfg.Logons = pmLogonsSQLite
		}
		opts := testOptions()
		opts.Clock = clocktest.New(now)
		s, err := mustNew(t, cfg, opts).Collect(context.Background())
		require.NoError(t, err, "Collect")
		assert.Equal(t, int64(6), s.Scalars["users"], "scalars %v, want users 6 (all but CLOSED)", s.Scalars)
		assert.Equal(t, int64(5), s.Scalars["cases"], "scalars %v, want cases 5", s.Scalars)
		require.Len(t, s.Users, 7, "users")
		require.Zero(t, s.Rejected, "rejected (%s)", s.RejectedReason)
		for _, w := range []struct {
			raw              string
			role             usage.Role
			enabled, inTrash bool
		}{
			{"adm1", usage.RoleSuper, true, false},
			{"op1", usage.RoleStaff, true, false},
			{"op2", usage.RoleStaff, true, false},
			{"op3", usage.RoleStaff, false, false},
			{"mgr1", usage.RoleManager, true, false},
			{"gone", usage.RoleStaff, false, true},
			{"cust", usage.RoleStaff, true, false},
		} {
			u := userByRaw(t, s.Users, w.raw)
			assert.Equal(t, w.role, u.Role, "%s = %+v, want %+v", w.raw, u, w)
			assert.Equal(t, w.enabled, u.Enabled, "%s = %+v, want %+v", w.raw, u, w)
			assert.Equal(t, w.inTrash, u.InTrash, "%s = %+v, want %+v", w.raw, u, w)
			assert.False(t, u.Locked, "%s = %+v, want %+v", w.raw, u, w)
		}
		type span struct{ start, end time.Time }
		got := map[usage.UserID][]span{}
		roles := map[usage.UserID]usage.Role{}
		for _, l := range s.Logons {
			got[l.UserID] = append(got[l.UserID], span{l.Start.UTC(), l.End.UTC()})
			roles[l.UserID] = l.Role
		}
		at := func(d time.Duration) time.Time { return now.Add(-d) }
		want := map[string][]span{
			"op1":   {{at(2 * time.Hour), at(time.Hour)}, {at(14 * time.Hour), at(2 * time.Hour)}},
			"adm1":  {{at(30 * time.Minute), time.Time{}}},
			"op2":   {{at(20 * time.Hour), at(8 * time.Hour)}},
			"mgr1":  {{at(3 * time.Hour), time.Time{}}},
			"ghost": {{at(time.Hour), at(30 * time.Minute)}},
		}
		assert.Len(t, s.Logons, 6, "logons")
		for raw, spans := range want {
			g := got[Pseudonym(testKey, raw)]
			if !assert.Len(t, g, len(spans), "%s: logons %v, want %v", raw, g, spans) {
				continue
			}
			for _, w := range spans {
				found := false
				for _, x := range g {
					found = found || (x.start.Equal(w.start) && x.end.Equal(w.end))
				}
				assert.True(t, found, "%s: logons %v lack %v", raw, g, w)
			}
		}
		assert.Equal(t, usage.RoleStaff, roles[Pseudonym(testKey, "ghost")], "a purged user's logon role, want the default (staff)")
		assert.Equal(t, usage.RoleSuper, roles[Pseudonym(testKey, "adm1")], "the admin's logon role, want super")
		noRawIDs(t, s, "adm1", "op1", "op2", "op3", "mgr1", "gone", "cust", "ghost")
		f, ok := Facts(s.At, s.Scalars)
		assert.True(t, ok, "facts %+v", f)
		assert.Equal(t, int64(6), f.UserCount, "facts %+v", f)
		assert.Equal(t, int64(5), f.CaseCount, "facts %+v", f)
		assert.NoError(t, f.Validate(), "facts %+v", f)
	})
}
