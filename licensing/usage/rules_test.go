package usage

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ruleCase is one rule of seed 004, the seed's words for why, a history of
// observations in January 2024 (UTC), and the metrics worked out by hand.
type ruleCase struct {
	name   string
	reason string // seed 004's wording, or the interpretation being pinned
	obs    []any
	want   Metrics
}

var dec31 = time.Date(2023, time.December, 31, 23, 0, 0, 0, time.UTC)

func userRuleCases() []ruleCase {
	return []ruleCase{
		{
			name:   "staff user disabled just before month end is still enabled",
			reason: "if the user was enabled at any time during the month they are counted even if they are deleted",
			obs: []any{
				us("u1", RoleStaff, true, false, d(1, 0, 5)),
				us("u1", RoleStaff, false, false, d(31, 23, 59)),
			},
			// Enabled on the 1st: one enabled staff user. No logon: not active.
			want: Metrics{EnStaff: 1},
		},
		{
			name:   "super user demoted stays super and is not staff",
			reason: "Even if their roles is changed back ... they are still included in the super user count",
			obs: []any{
				us("u1", RoleSuper, true, false, d(2, 9, 0)),
				lg("u1", RoleSuper, false, d(2, 9, 0), d(2, 10, 0)),
				us("u1", RoleStaff, true, false, d(15, 9, 0)),
				lg("u1", RoleStaff, false, d(15, 9, 0), d(15, 9, 30)),
			},
			// Super on the 2nd: Super 1, and "never counted in any other
			// count", so EnStaff and AcStaff stay 0 although the user is an
			// enabled, active staff user after the 15th. Concurrency and
			// minutes are "of any type": max 1 from 2nd 09:00, 60 + 30 min.
			want: Metrics{Super: 1, ConcMax: 1, ConcWhen: d(2, 9, 0), LogonMinutes: 90},
		},
		{
			name:   "staff user made super then back is only super",
			reason: "If I then change that user to the super user role they are now counted in the super user metric and won't appear in other metrics",
			obs: []any{
				us("u1", RoleStaff, true, false, d(1, 8, 0)),
				lg("u1", RoleStaff, false, d(1, 8, 0), d(1, 9, 0)),
				us("u1", RoleSuper, true, false, d(10, 8, 0)),
				us("u1", RoleStaff, true, false, d(20, 8, 0)),
			},
			// Super at some time: Super 1, not EnStaff/AcStaff even though
			// staff, enabled and logged on before and after. 60 minutes.
			want: Metrics{Super: 1, ConcMax: 1, ConcWhen: d(1, 8, 0), LogonMinutes: 60},
		},
		{
			name:   "super user disabled, trashed and purged is still super",
			reason: "even if they are disabled or trashed then emptied from the trash, they are still included in the super user count",
			obs: []any{
				us("u1", RoleSuper, true, false, d(3, 0, 0)),
				UserState{UserID: "u1", Role: RoleSuper, InTrash: true, At: d(4, 0, 0)},
				// Purged on the 5th: no more snapshots.
			},
			want: Metrics{Super: 1},
		},
		{
			name:   "super user disabled all month is still super",
			reason: "the only ways not to show up: be disabled ... no logon ... and never be in the super user role",
			obs: []any{
				us("u1", RoleSuper, false, false, d(1, 0, 5)),
				us("u1", RoleSuper, false, false, d(31, 23, 55)),
			},
			// Super needs no enabled state: "staff users with the super user
			// role at any time during this month who were never locked".
			want: Metrics{Super: 1},
		},
		{
			name:   "locked user is in no count",
			reason: "When an admin locks a staff user, that removes them from any metric",
			obs: []any{
				us("u1", RoleStaff, true, true, d(5, 0, 0)),
				lg("u1", RoleStaff, true, d(5, 9, 0), d(5, 10, 0)),
			},
			// Locked in the month: out of every user count. Locked when it
			// logged on: out of concurrency and minutes too.
			want: Metrics{},
		},
		{
			name:   "locked super user is not a super user",
			reason: "super users ... who were never locked during the month. Excludes locked users.",
			obs: []any{
				us("u1", RoleSuper, true, false, d(1, 0, 0)),
				us("u1", RoleSuper, true, true, d(15, 0, 0)),
			},
			// Not super (locked on the 15th) and, being locked, not staff.
			want: Metrics{},
		},
		{
			name:   "user locked then unlocked is out of the month's user counts",
			reason: "interpretation: 'never locked during the month' (super users) read for every user count",
			obs: []any{
				us("u1", RoleStaff, true, true, d(1, 0, 0)),
				us("u1", RoleStaff, true, false, d(2, 0, 0)),
				lg("u1", RoleStaff, false, d(3, 9, 0), d(3, 9, 45)),
			},
			// Locked on the 1st: no user count. The session began unlocked,
			// so it counts for concurrency (1 at 3rd 09:00) and 45 minutes.
			want: Metrics{ConcMax: 1, ConcWhen: d(3, 9, 0), LogonMinutes: 45},
		},
		{
			name:   "staff user trashed and purged is still counted",
			reason: "Even if a user is removed from the trash, it is still eligible to be counted",
			obs: []any{
				us("u1", RoleStaff, true, false, d(5, 0, 0)),
				lg("u1", RoleStaff, false, d(5, 9, 0), d(5, 9, 20)),
				UserState{UserID: "u1", Role: RoleStaff, InTrash: true, At: d(6, 0, 0)},
			},
			// Enabled on the 5th and logged on: EnStaff 1, AcStaff 1; 20 min.
			want: Metrics{EnStaff: 1, AcStaff: 1, ConcMax: 1, ConcWhen: d(5, 9, 0), LogonMinutes: 20},
		},
		{
			name:   "user locked while logged on",
			reason: "The locked status of the user is counted as what it was when they logged on. Locking or unlocking an online user will take affect ... the next time they logon",
			obs: []any{
				lg("u1", RoleStaff, false, d(10, 9, 0), d(10, 11, 0)),
				us("u1", RoleStaff, true, true, d(10, 10, 0)),
				lg("u1", RoleStaff, true, d(11, 9, 0), d(11, 10, 0)),
				lg("u2", RoleStaff, false, d(11, 9, 30), d(11, 9, 40)),
			},
			// u1 was locked in the month: in no user count. Its first
			// session began unlocked: it counts, 120 minutes, concurrency 1
			// from 10th 09:00. Its second began locked: it does not, so at
			// 11th 09:30 only u2 is online (still 1, not 2). u2: active
			// staff (no snapshot, so not enabled), 10 minutes.
			want: Metrics{AcStaff: 1, ConcMax: 1, ConcWhen: d(10, 9, 0), LogonMinutes: 130},
		},
		{
			name:   "disabled all month with no logon and never super is not counted",
			reason: "Be disabled for the entire month (not show up as enabled), no logon for the entire month (not show up as active), and never be in the super user role",
			obs: []any{
				us("u1", RoleStaff, false, false, d(1, 0, 5)),
				us("u1", RoleStaff, false, false, d(31, 23, 55)),
				us("r1", RoleRep, false, false, d(1, 0, 5)),
			},
			want: Metrics{},
		},
		{
			name:   "managers and reps",
			reason: "Enabled managers / Active managers / Enabled reps / Active reps; locking removes them from all counts",
			obs: []any{
				us("m1", RoleManager, true, false, d(2, 0, 0)),
				lg("m1", RoleManager, false, d(2, 9, 0), d(2, 10, 0)),
				us("m2", RoleManager, false, false, d(2, 0, 0)),
				us("m3", RoleManager, true, true, d(4, 0, 0)),
				us("r1", RoleRep, true, false, d(3, 0, 0)),
				us("r2", RoleRep, false, false, d(3, 0, 0)),
				lg("r2", RoleRep, false, d(3, 9, 30), d(3, 9, 40)),
			},
			// m1 enabled and active; m2 disabled, no logon; m3 locked. r1
			// enabled, no logon; r2 disabled but logged on (active only).
			// Minutes 60 + 10; never two online at once.
			want: Metrics{EnMgrs: 1, AcMgrs: 1, EnReps: 1, AcReps: 1, ConcMax: 1, ConcWhen: d(2, 9, 0), LogonMinutes: 70},
		},
		{
			name:   "user whose role changes between non-super roles counts once, in the latest",
			reason: "interpretation: a user is one user; seed 004 gives no stickiness except for super users",
			obs: []any{
				us("u1", RoleRep, true, false, d(1, 0, 0)),
				us("u1", RoleManager, true, false, d(20, 0, 0)),
			},
			want: Metrics{EnMgrs: 1},
		},
		{
			name:   "session begun last month makes the user active this month",
			reason: "interpretation: 'logged on at least once this month' includes a session still open when the month began",
			obs: []any{
				us("u1", RoleStaff, true, false, d(1, 0, 10)),
				lg("u1", RoleStaff, false, dec31, d(1, 1, 0)),
			},
			// Only the January part counts: 00:00 to 01:00 = 60 minutes,
			// one user online from the first instant of the month.
			want: Metrics{EnStaff: 1, AcStaff: 1, ConcMax: 1, ConcWhen: d(1, 0, 0), LogonMinutes: 60},
		},
		{
			name:   "one user in two sessions at once is one user logged on",
			reason: "A count of the most users logged on at once; minutes spent logged on by all users",
			obs: []any{
				lg("u1", RoleStaff, false, d(5, 9, 0), d(5, 10, 0)),
				lg("u1", RoleStaff, false, d(5, 9, 30), d(5, 10, 30)),
			},
			// Union 09:00-10:30: 90 minutes, at most 1 user.
			want: Metrics{AcStaff: 1, ConcMax: 1, ConcWhen: d(5, 9, 0), LogonMinutes: 90},
		},
		{
			name:   "concurrent max keeps the time it was first reached",
			reason: "a high water mark type metric that only tracks the record for the month and when that was",
			obs: []any{
				lg("a", RoleStaff, false, d(6, 10, 0), d(6, 11, 0)),
				lg("b", RoleStaff, false, d(6, 10, 30), d(6, 11, 0)),
				lg("c", RoleStaff, false, d(7, 14, 0), d(7, 15, 0)),
				lg("e", RoleStaff, false, d(7, 14, 0), d(7, 15, 0)),
				// f leaves as g arrives: never both online.
				lg("f", RoleStaff, false, d(8, 12, 0), d(8, 13, 0)),
				lg("g", RoleStaff, false, d(8, 13, 0), d(8, 14, 0)),
			},
			// 2 first at 6th 10:30 (again on the 7th: a tie, not a record).
			// Minutes 60+30+60+60+60+60 = 330.
			want: Metrics{AcStaff: 6, ConcMax: 2, ConcWhen: d(6, 10, 30), LogonMinutes: 330},
		},
		{
			name:   "super users count in concurrency and minutes",
			reason: "A count of the most users logged on at once of any type",
			obs: []any{
				us("s", RoleSuper, true, false, d(1, 0, 0)),
				lg("s", RoleSuper, false, d(9, 8, 0), d(9, 9, 0)),
				lg("u", RoleStaff, false, d(9, 8, 30), d(9, 8, 50)),
			},
			want: Metrics{Super: 1, AcStaff: 1, ConcMax: 2, ConcWhen: d(9, 8, 30), LogonMinutes: 80},
		},
		{
			name:   "open session counts up to the latest sample",
			reason: "Time: an incremental count that starts at 0 each month and rises during the month",
			obs: []any{
				lgOpen("u1", RoleStaff, d(12, 9, 0), d(12, 9, 30)),
				lgOpen("u1", RoleStaff, d(12, 9, 0), d(12, 9, 50)),
			},
			want: Metrics{AcStaff: 1, ConcMax: 1, ConcWhen: d(12, 9, 0), LogonMinutes: 50},
		},
	}
}

func factsRuleCases() []ruleCase {
	return []ruleCase{
		{
			name:   "commission items are 0 when the module is off, even with old items",
			reason: "0 if the commission module is off, even if there are old commission items",
			obs: []any{
				Facts{At: d(5, 0, 0), CommissionModuleOn: true, CommissionItems: 40},
				Facts{At: d(20, 0, 0), CommissionModuleOn: false, CommissionItems: 40},
			},
			want: Metrics{},
		},
		{
			name:   "commission items come from the latest sample",
			reason: "The number of commission items in the most recently closed commission run",
			obs: []any{
				Facts{At: d(5, 0, 0), CommissionModuleOn: true, CommissionItems: 40},
				Facts{At: d(20, 0, 0), CommissionModuleOn: true, CommissionItems: 55},
				Facts{At: d(10, 0, 0), CommissionModuleOn: true, CommissionItems: 70},
			},
			// The 20th is latest (arrival order does not matter): 55.
			want: Metrics{CommItems: 55},
		},
		{
			name:   "process fields exclude the trash",
			reason: "Excludes fields and forms in the trash",
			obs: []any{
				Facts{At: d(5, 0, 0), ProcessModuleOn: true, ProcessFields: 120, ProcessFieldsInTrash: 20},
			},
			want: Metrics{ProcessFields: 100},
		},
		{
			name:   "process fields are 0 when the module is off",
			reason: "0 if the process management module is off, even if there are old forms",
			obs: []any{
				Facts{At: d(5, 0, 0), ProcessModuleOn: true, ProcessFields: 120, ProcessFieldsInTrash: 20},
				Facts{At: d(25, 0, 0), ProcessModuleOn: false, ProcessFields: 120, ProcessFieldsInTrash: 20},
			},
			want: Metrics{},
		},
		{
			name:   "file limit is the month's high-water mark",
			reason: "The highest file attachment limit the subscriber had during the month",
			obs: []any{
				Facts{At: d(1, 0, 0), FileLimitMB: 100},
				Facts{At: d(10, 0, 0), FileLimitMB: 500},
				Facts{At: d(20, 0, 0), FileLimitMB: 200},
			},
			want: Metrics{FileLimitMB: 500},
		},
		{
			name:   "user and case counts, latest and maximum",
			reason: "seed 000: the user count and case count of an installation on a periodic basis",
			obs: []any{
				Facts{At: d(1, 0, 0), UserCount: 10, CaseCount: 100},
				Facts{At: d(15, 0, 0), UserCount: 14, CaseCount: 90},
				Facts{At: d(30, 0, 0), UserCount: 12, CaseCount: 130},
			},
			want: Metrics{UserCountLatest: 12, UserCountMax: 14, CaseCountLatest: 130, CaseCountMax: 130},
		},
	}
}

func TestSeed004Rules(t *testing.T) {
	for _, tc := range append(userRuleCases(), factsRuleCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			t.Logf("seed: %s", tc.reason)

			m := newJanuary(t)
			observeMonth(t, m, tc.obs)
			assert.Empty(t, metricsDiff(m.Metrics(), tc.want), "in order")

			// The same history delivered backwards, and every observation
			// twice, gives the same metrics.
			rev := slices.Clone(tc.obs)
			slices.Reverse(rev)
			m2 := newJanuary(t)
			observeMonth(t, m2, append(rev, tc.obs...))
			assert.Empty(t, metricsDiff(m2.Metrics(), tc.want), "reversed and repeated")

			// Through a ledger, closed at the month's end: the frozen
			// record holds the same values.
			l := newLedger(t, time.UTC)
			observeLedger(t, l, inst, tc.obs)
			closed, err := l.CloseDue(d(31, 0, 0).AddDate(0, 0, 1))
			require.NoError(t, err)
			i := slices.IndexFunc(closed, func(c ClosedMonth) bool { return c.Key == january })
			require.GreaterOrEqual(t, i, 0, "CloseDue did not close January: %+v", closed)
			assert.Empty(t, metricsDiff(closed[i].Metrics, tc.want), "closed")
		})
	}
}
