package usage

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	feb1  = time.Date(2024, time.February, 1, 0, 0, 0, 0, time.UTC)
	march = MonthKey{2024, time.March}
	feb   = MonthKey{2024, time.February}
)

func mustCloseDue(t *testing.T, l *Ledger, now time.Time) []ClosedMonth {
	t.Helper()
	closed, err := l.CloseDue(now)
	require.NoError(t, err)
	return closed
}

func mustReport(t *testing.T, l *Ledger, k MonthKey) Report {
	t.Helper()
	r, ok := l.Report(inst, k)
	require.True(t, ok, "no report for %s", k)
	return r
}

func snapshot(t *testing.T, l *Ledger) []byte {
	t.Helper()
	b, err := l.MarshalBinary()
	require.NoError(t, err)
	return b
}

// P3: data for a closed month is kept beside it and never changes it.
func TestLateArrivalNeverChangesAClosedMonth(t *testing.T) {
	l := newLedger(t, time.UTC)
	observeLedger(t, l, inst, []any{us("u1", RoleStaff, true, false, d(10, 0, 0))})
	closed := mustCloseDue(t, l, feb1)
	require.Len(t, closed, 1, "CloseDue = %+v", closed)
	require.Equal(t, january, closed[0].Key, "CloseDue = %+v", closed)
	require.Equal(t, int64(1), closed[0].Metrics.EnStaff, "CloseDue = %+v", closed)
	require.True(t, closed[0].ClosedAt.Equal(feb1), "CloseDue = %+v", closed)

	// A user enabled on the 31st, reported after the close.
	out, err := l.ObserveUser(inst, us("u2", RoleStaff, true, false, d(31, 23, 59)))
	require.NoError(t, err, "late user")
	require.Equal(t, OutcomeLate, out, "late user")
	// Something the closed month already knew: nothing new.
	out, err = l.ObserveUser(inst, us("u1", RoleStaff, true, false, d(31, 23, 0)))
	require.NoError(t, err, "known user")
	require.Equal(t, OutcomeRedundant, out, "known user")
	// The same late fact again: already in the late list.
	out, err = l.ObserveUser(inst, us("u2", RoleStaff, true, false, d(31, 23, 58)))
	require.NoError(t, err, "repeated late user")
	require.Equal(t, OutcomeRedundant, out, "repeated late user")

	r := mustReport(t, l, january)
	require.True(t, r.Closed)
	require.Equal(t, closed[0].Metrics, r.Metrics, "closed metrics changed")
	// The late data alone mention two enabled staff users (u1's later
	// snapshot is late data too, though it adds nothing); combined with the
	// closed month, two enabled staff users where the closed month has one.
	require.NotNil(t, r.Late)
	assert.Equal(t, 2, r.Late.Users, "late = %+v", r.Late)
	assert.False(t, r.Late.Facts, "late = %+v", r.Late)
	assert.Equal(t, int64(2), r.Late.Metrics.EnStaff, "late enabled staff alone")
	assert.Equal(t, int64(2), r.Late.Combined.EnStaff, "late enabled staff combined")
}

// The month accumulator itself refuses data once closed.
func TestClosedMonthRefusesObservations(t *testing.T) {
	m := newJanuary(t)
	observeMonth(t, m, []any{us("u1", RoleStaff, true, false, d(3, 0, 0))})
	_, err := m.Close(d(31, 23, 59))
	require.ErrorIs(t, err, ErrMonthNotEnded, "close before the end")
	rec, err := m.Close(feb1)
	require.NoError(t, err)
	_, err = m.Close(feb1)
	require.ErrorIs(t, err, ErrMonthClosed, "second close")
	for i, err := range []error{
		m.ObserveUser(us("u2", RoleStaff, true, false, d(4, 0, 0))),
		m.ObserveLogon(lg("u1", RoleStaff, false, d(4, 9, 0), d(4, 10, 0))),
		m.ObserveFacts(Facts{At: d(4, 0, 0), FileLimitMB: 9}),
	} {
		require.ErrorIs(t, err, ErrMonthClosed, "observe %d after close", i)
	}
	require.Equal(t, rec.Metrics, m.Metrics(), "metrics after close")
	require.Equal(t, int64(1), rec.Metrics.EnStaff, "record metrics")
	require.ErrorIs(t, m.ObserveUser(us("u2", RoleStaff, true, false, feb1)), ErrMonthClosed)
	open := newJanuary(t)
	require.ErrorIs(t, open.ObserveUser(us("u2", RoleStaff, true, false, feb1)), ErrOutsideMonth, "observation after the month")
}

// A session open across the month's end: its last minutes in January come
// after January closed, so they are late; later reports of the same session
// add nothing to January and are redundant there.
func TestSessionOpenAcrossClose(t *testing.T) {
	l := newLedger(t, time.UTC)
	start := d(31, 23, 0)
	out, _ := l.ObserveLogon(inst, lgOpen("u1", RoleStaff, start, d(31, 23, 58)))
	require.Equal(t, OutcomeApplied, out)
	mustCloseDue(t, l, feb1)

	out, err := l.ObserveLogon(inst, lgOpen("u1", RoleStaff, start, feb1.Add(5*time.Minute)))
	require.NoError(t, err, "first February sample")
	require.Equal(t, OutcomeApplied|OutcomeLate, out, "first February sample")
	out, err = l.ObserveLogon(inst, lgOpen("u1", RoleStaff, start, feb1.Add(10*time.Minute)))
	require.NoError(t, err, "second February sample")
	require.Equal(t, OutcomeApplied|OutcomeRedundant, out, "second February sample")

	jan := mustReport(t, l, january)
	// Closed with 23:00-23:58: 58 minutes. Late alone: 23:00-24:00 = 60.
	assert.Equal(t, int64(58), jan.Metrics.LogonMinutes, "January logon minutes")
	if assert.NotNil(t, jan.Late, "January late") {
		assert.Equal(t, 1, jan.Late.Users, "January late users")
		assert.Equal(t, int64(60), jan.Late.Metrics.LogonMinutes, "January late logon minutes")
		assert.Equal(t, int64(60), jan.Late.Combined.LogonMinutes, "January combined logon minutes")
	}
	febR := mustReport(t, l, feb)
	assert.False(t, febR.Closed, "February closed")
	assert.Equal(t, int64(10), febR.Metrics.LogonMinutes, "February = %+v", febR.Metrics)
	assert.Equal(t, int64(1), febR.Metrics.AcStaff, "February = %+v", febR.Metrics)
	assert.True(t, febR.Metrics.ConcWhen.Equal(feb1), "February ConcWhen = %v, want %v", febR.Metrics.ConcWhen, feb1)
}

// A month the ledger never saw closed at its end all the same; data for it
// that arrives afterwards is late, beside an empty closed month.
func TestLateDataForAnUnseenMonth(t *testing.T) {
	l := newLedger(t, time.UTC)
	observeLedger(t, l, inst, []any{us("u1", RoleStaff, true, false, feb1.Add(time.Hour))})
	closed := mustCloseDue(t, l, time.Date(2024, time.March, 1, 0, 0, 0, 0, time.UTC))
	require.Len(t, closed, 1)
	require.Equal(t, feb, closed[0].Key)
	out, err := l.ObserveFacts(inst, Facts{At: d(20, 0, 0), FileLimitMB: 50})
	require.NoError(t, err)
	require.Equal(t, OutcomeLate, out)
	jan := mustReport(t, l, january)
	assert.True(t, jan.Closed, "January = %+v", jan)
	assert.Equal(t, Metrics{}, jan.Metrics, "January metrics")
	if assert.NotNil(t, jan.Late, "January late") {
		assert.True(t, jan.Late.Facts, "January late = %+v", jan.Late)
		assert.Equal(t, int64(50), jan.Late.Metrics.FileLimitMB, "January late file limit")
	}
}

// P7-style: ClosedAsOf never moves back, so a clock stepped back reopens
// nothing.
func TestCloseDueOnlyMovesForward(t *testing.T) {
	l := newLedger(t, time.UTC)
	observeLedger(t, l, inst, []any{us("u1", RoleStaff, true, false, d(10, 0, 0))})
	require.Empty(t, mustCloseDue(t, l, d(31, 23, 59)), "closed before the end")
	mustCloseDue(t, l, feb1.Add(time.Hour))
	require.Empty(t, mustCloseDue(t, l, d(15, 0, 0)), "backwards CloseDue")
	require.True(t, l.ClosedAsOf().Equal(feb1.Add(time.Hour)), "backwards CloseDue: closed as of %v", l.ClosedAsOf())
	out, _ := l.ObserveUser(inst, us("u9", RoleRep, true, false, d(20, 0, 0)))
	require.Equal(t, OutcomeLate, out, "January reopened")
	_, err := l.CloseDue(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC))
	require.ErrorIs(t, err, ErrInvalidObservation, "CloseDue(1900)")
}

func TestPrune(t *testing.T) {
	l := newLedger(t, time.UTC)
	observeLedger(t, l, inst, []any{
		us("u1", RoleStaff, true, false, d(10, 0, 0)),
		us("u1", RoleStaff, true, false, feb1.Add(time.Hour)),
	})
	mustCloseDue(t, l, feb1.Add(2*time.Hour))
	before := snapshot(t, l)
	require.ErrorIs(t, l.Prune(march), ErrPruneOpen, "prune of open February")
	require.Equal(t, before, snapshot(t, l), "refused prune changed the ledger")
	require.NoError(t, l.Prune(feb))
	h := l.History(inst)
	require.Len(t, h, 1, "history after prune: %+v", h)
	require.Equal(t, feb, h[0].Key, "history after prune")
	out, err := l.ObserveLogon(inst, lg("u1", RoleStaff, false, d(31, 23, 0), feb1.Add(30*time.Minute)))
	require.NoError(t, err, "session across the pruned month")
	require.Equal(t, OutcomeDropped|OutcomeApplied, out, "session across the pruned month")
	r, err := RestoreLedger(snapshot(t, l), DefaultConfig())
	require.NoError(t, err)
	out, _ = r.ObserveUser(inst, us("u1", RoleStaff, true, false, d(5, 0, 0)))
	require.Equal(t, OutcomeDropped, out, "restored ledger forgot the prune floor")
}

// P9: bad input gets an error naming the problem and changes nothing.
func TestBadInputChangesNothing(t *testing.T) {
	l := newLedger(t, time.UTC)
	observeLedger(t, l, inst, []any{us("u1", RoleStaff, true, false, d(10, 0, 0))})
	before := snapshot(t, l)
	long := make([]byte, MaxIDLength+1)
	for i := range long {
		long[i] = 'a'
	}
	cases := []struct {
		name string
		run  func() error
		want error
	}{
		{"no installation", func() error { _, err := l.ObserveUser("", us("u1", RoleStaff, true, false, d(1, 0, 0))); return err }, ErrInvalidID},
		{"control char in installation", func() error { _, err := l.ObserveFacts("a\nb", Facts{At: d(1, 0, 0)}); return err }, ErrInvalidID},
		{"no user", func() error { _, err := l.ObserveUser(inst, us("", RoleStaff, true, false, d(1, 0, 0))); return err }, ErrInvalidID},
		{"long user", func() error {
			_, err := l.ObserveUser(inst, us(UserID(long), RoleStaff, true, false, d(1, 0, 0)))
			return err
		}, ErrInvalidID},
		{"no role", func() error { _, err := l.ObserveUser(inst, us("u2", 0, true, false, d(1, 0, 0))); return err }, ErrInvalidObservation},
		{"bad role", func() error { _, err := l.ObserveLogon(inst, lg("u2", 9, false, d(1, 0, 0), d(1, 1, 0))); return err }, ErrInvalidObservation},
		{"no time", func() error { _, err := l.ObserveUser(inst, us("u2", RoleRep, true, false, time.Time{})); return err }, ErrInvalidObservation},
		{"year 2300", func() error {
			_, err := l.ObserveFacts(inst, Facts{At: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)})
			return err
		}, ErrInvalidObservation},
		{"ends before it starts", func() error {
			_, err := l.ObserveLogon(inst, lg("u2", RoleRep, false, d(2, 0, 0), d(1, 0, 0)))
			return err
		}, ErrInvalidObservation},
		{"negative count", func() error { _, err := l.ObserveFacts(inst, Facts{At: d(1, 0, 0), CaseCount: -1}); return err }, ErrInvalidObservation},
		{"more trash than fields", func() error {
			_, err := l.ObserveFacts(inst, Facts{At: d(1, 0, 0), ProcessFields: 1, ProcessFieldsInTrash: 2})
			return err
		}, ErrInvalidObservation},
		{"prune bad month", func() error { return l.Prune(MonthKey{2024, 13}) }, ErrInvalidMonth},
		{"prune with nothing closed", func() error { return l.Prune(january) }, ErrPruneOpen},
	}
	for _, tc := range cases {
		err := tc.run()
		if assert.ErrorIs(t, err, tc.want, tc.name) {
			t.Logf("%s: %v", tc.name, err)
		}
	}
	require.Equal(t, before, snapshot(t, l), "bad input changed the ledger")
	_, err := NewMonth(inst, 2024, 13, time.UTC)
	assert.ErrorIs(t, err, ErrInvalidMonth, "NewMonth(month 13)")
	_, err = NewMonth(inst, 2024, 1, nil)
	assert.ErrorIs(t, err, ErrInvalidMonth, "NewMonth(nil zone)")
	for _, c := range []Config{{}, {Location: time.UTC}, {Location: time.UTC, MaxSessionMonths: 121}} {
		_, err := NewLedger(c)
		assert.ErrorIs(t, err, ErrInvalidConfig, "NewLedger(%+v)", c)
	}
}

// State grows with distinct users, not with samples: a thousand reports of
// the same users and the same open sessions hold twenty records of one span.
func TestStateBoundedByUsers(t *testing.T) {
	m := newJanuary(t)
	const users = 20
	for i := range 1000 {
		at := d(2, 8, 0).Add(time.Duration(i) * time.Minute)
		for u := range users {
			id := UserID(rune('a' + u))
			require.NoError(t, m.ObserveUser(us(id, RoleStaff, true, false, at)))
			require.NoError(t, m.ObserveLogon(lgOpen(id, RoleStaff, d(2, 8, 0), at)))
		}
	}
	require.Equal(t, users, m.Users(), "Users()")
	for id, u := range m.users {
		require.Len(t, u.spans, 1, "user %s spans", id)
	}
	// 20 users online from 08:00 to 08:00+999 min.
	want := Metrics{EnStaff: users, AcStaff: users, ConcMax: users, ConcWhen: d(2, 8, 0), LogonMinutes: users * 999}
	require.Empty(t, metricsDiff(m.Metrics(), want))
}

// A session open for months touches only the latest MaxSessionMonths months.
func TestLongSessionTouchesBoundedMonths(t *testing.T) {
	l := newLedger(t, time.UTC)
	start := time.Date(2023, time.March, 10, 0, 0, 0, 0, time.UTC)
	out, err := l.ObserveLogon(inst, lgOpen("kiosk", RoleStaff, start, d(15, 0, 0)))
	require.NoError(t, err)
	require.Equal(t, OutcomeApplied, out)
	want := []MonthKey{january, {2023, time.December}, {2023, time.November}}
	require.Equal(t, want, l.Months(), "months")
	// The user was not seen in January except through a session begun
	// earlier: active with the role it logged on with.
	r := mustReport(t, l, january)
	assert.Equal(t, int64(1), r.Metrics.AcStaff, "January %+v", r.Metrics)
	assert.Equal(t, int64(14*24*60), r.Metrics.LogonMinutes, "January %+v", r.Metrics)
}

func TestViews(t *testing.T) {
	l := newLedger(t, time.UTC)
	observeLedger(t, l, "zeta", []any{us("u1", RoleStaff, true, false, d(3, 0, 0))})
	observeLedger(t, l, "alpha", []any{
		us("u1", RoleStaff, true, false, d(3, 0, 0)),
		us("u1", RoleStaff, true, false, feb1.Add(time.Hour)),
	})
	require.Equal(t, []InstallationID{"alpha", "zeta"}, l.Installations())
	h := l.History("alpha")
	require.Len(t, h, 2, "History: %+v", h)
	assert.Equal(t, feb, h[0].Key, "History not newest first: %+v", h)
	assert.Equal(t, january, h[1].Key, "History not newest first: %+v", h)
	assert.Equal(t, "Jan 2024", h[1].Label)
	rs := l.MonthReports(january)
	require.Len(t, rs, 2, "MonthReports = %+v", rs)
	assert.Equal(t, InstallationID("alpha"), rs[0].Installation)
	assert.Equal(t, InstallationID("zeta"), rs[1].Installation)
	ms := l.Months()
	require.Len(t, ms, 2, "Months = %v", ms)
	assert.Equal(t, feb, ms[0], "Months = %v", ms)
	_, ok := l.Report("nobody", january)
	assert.False(t, ok, "report for an unknown installation")
}

func TestLabels(t *testing.T) {
	want := [][2]string{
		{"Super users", "Super"}, {"Enabled staff", "En. staff"}, {"Active staff", "Ac. staff"},
		{"Enabled managers", "En. mgrs"}, {"Active managers", "Ac. mgrs"}, {"Enabled reps", "En. reps"},
		{"Active reps", "Ac. reps"}, {"Concurrent max", "Conc. max"}, {"When", "When"},
		{"Logon time", "Minutes"}, {"File limit", "File limit"}, {"Comm. items", "Items"},
		{"Process fields", "Fields"},
	}
	ls := Labels()
	for i, w := range want {
		assert.Equal(t, w[0], ls[i].Long, "label %d long", i)
		assert.Equal(t, w[1], ls[i].Short, "label %d short", i)
		assert.Equal(t, "004", ls[i].Seed, "label %d seed", i)
	}
	m := Metrics{Super: 3, ConcMax: 2, ConcWhen: d(6, 10, 30), CaseCountMax: 7}
	cells := m.Cells(nil)
	require.Len(t, cells, len(ls), "Cells = %q", cells)
	assert.Equal(t, "3", cells[0], "Cells = %q", cells)
	assert.Equal(t, "2", cells[7], "Cells = %q", cells)
	assert.Equal(t, "2024-01-06 10:30", cells[8], "Cells = %q", cells)
	assert.Equal(t, "7", cells[len(cells)-1], "Cells = %q", cells)
	assert.Empty(t, (Metrics{}).Value(MetricConcWhen, nil), "empty ConcWhen value")
	assert.Empty(t, m.Value("nope", nil), "unknown metric value")
	ls[0].Long = "changed"
	require.Equal(t, "Super users", Labels()[0].Long, "Labels shares its slice")
}
