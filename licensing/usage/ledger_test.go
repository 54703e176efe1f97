package usage

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

var (
	feb1  = time.Date(2024, time.February, 1, 0, 0, 0, 0, time.UTC)
	march = MonthKey{2024, time.March}
	feb   = MonthKey{2024, time.February}
)

func mustCloseDue(t *testing.T, l *Ledger, now time.Time) []ClosedMonth {
	t.Helper()
	closed, err := l.CloseDue(now)
	if err != nil {
		t.Fatal(err)
	}
	return closed
}

func mustReport(t *testing.T, l *Ledger, k MonthKey) Report {
	t.Helper()
	r, ok := l.Report(inst, k)
	if !ok {
		t.Fatalf("no report for %s", k)
	}
	return r
}

func snapshot(t *testing.T, l *Ledger) []byte {
	t.Helper()
	b, err := l.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// P3: data for a closed month is kept beside it and never changes it.
func TestLateArrivalNeverChangesAClosedMonth(t *testing.T) {
	l := newLedger(t, time.UTC)
	observeLedger(t, l, inst, []any{us("u1", RoleStaff, true, false, d(10, 0, 0))})
	closed := mustCloseDue(t, l, feb1)
	if len(closed) != 1 || closed[0].Key != january || closed[0].Metrics.EnStaff != 1 || !closed[0].ClosedAt.Equal(feb1) {
		t.Fatalf("CloseDue = %+v", closed)
	}

	// A user enabled on the 31st, reported after the close.
	out, err := l.ObserveUser(inst, us("u2", RoleStaff, true, false, d(31, 23, 59)))
	if err != nil || out != OutcomeLate {
		t.Fatalf("late user: %v, %v; want late", out, err)
	}
	// Something the closed month already knew: nothing new.
	out, err = l.ObserveUser(inst, us("u1", RoleStaff, true, false, d(31, 23, 0)))
	if err != nil || out != OutcomeRedundant {
		t.Fatalf("known user: %v, %v; want redundant", out, err)
	}
	// The same late fact again: already in the late list.
	out, err = l.ObserveUser(inst, us("u2", RoleStaff, true, false, d(31, 23, 58)))
	if err != nil || out != OutcomeRedundant {
		t.Fatalf("repeated late user: %v, %v; want redundant", out, err)
	}

	r := mustReport(t, l, january)
	if !r.Closed || r.Metrics != closed[0].Metrics {
		t.Fatalf("closed metrics changed: %+v, closed %+v", r.Metrics, closed[0].Metrics)
	}
	// The late data alone mention two enabled staff users (u1's later
	// snapshot is late data too, though it adds nothing); combined with the
	// closed month, two enabled staff users where the closed month has one.
	if r.Late == nil || r.Late.Users != 2 || r.Late.Facts || r.Late.Metrics.EnStaff != 2 || r.Late.Combined.EnStaff != 2 {
		t.Fatalf("late = %+v; want 2 users, 2 enabled staff alone, 2 combined", r.Late)
	}
}

// The month accumulator itself refuses data once closed.
func TestClosedMonthRefusesObservations(t *testing.T) {
	m := newJanuary(t)
	observeMonth(t, m, []any{us("u1", RoleStaff, true, false, d(3, 0, 0))})
	if _, err := m.Close(d(31, 23, 59)); !errors.Is(err, ErrMonthNotEnded) {
		t.Fatalf("close before the end: %v, want ErrMonthNotEnded", err)
	}
	rec, err := m.Close(feb1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Close(feb1); !errors.Is(err, ErrMonthClosed) {
		t.Fatalf("second close: %v, want ErrMonthClosed", err)
	}
	for _, err := range []error{
		m.ObserveUser(us("u2", RoleStaff, true, false, d(4, 0, 0))),
		m.ObserveLogon(lg("u1", RoleStaff, false, d(4, 9, 0), d(4, 10, 0))),
		m.ObserveFacts(Facts{At: d(4, 0, 0), FileLimitMB: 9}),
	} {
		if !errors.Is(err, ErrMonthClosed) {
			t.Fatalf("observe after close: %v, want ErrMonthClosed", err)
		}
	}
	if m.Metrics() != rec.Metrics || rec.Metrics.EnStaff != 1 {
		t.Fatalf("metrics after close %+v, record %+v", m.Metrics(), rec.Metrics)
	}
	if err := m.ObserveUser(us("u2", RoleStaff, true, false, feb1)); !errors.Is(err, ErrMonthClosed) {
		t.Fatalf("got %v", err)
	}
	open := newJanuary(t)
	if err := open.ObserveUser(us("u2", RoleStaff, true, false, feb1)); !errors.Is(err, ErrOutsideMonth) {
		t.Fatalf("observation after the month: %v, want ErrOutsideMonth", err)
	}
}

// A session open across the month's end: its last minutes in January come
// after January closed, so they are late; later reports of the same session
// add nothing to January and are redundant there.
func TestSessionOpenAcrossClose(t *testing.T) {
	l := newLedger(t, time.UTC)
	start := d(31, 23, 0)
	if out, _ := l.ObserveLogon(inst, lgOpen("u1", RoleStaff, start, d(31, 23, 58))); out != OutcomeApplied {
		t.Fatalf("outcome %v", out)
	}
	mustCloseDue(t, l, feb1)

	out, err := l.ObserveLogon(inst, lgOpen("u1", RoleStaff, start, feb1.Add(5*time.Minute)))
	if err != nil || out != OutcomeApplied|OutcomeLate {
		t.Fatalf("first February sample: %v, %v; want applied|late", out, err)
	}
	out, err = l.ObserveLogon(inst, lgOpen("u1", RoleStaff, start, feb1.Add(10*time.Minute)))
	if err != nil || out != OutcomeApplied|OutcomeRedundant {
		t.Fatalf("second February sample: %v, %v; want applied|redundant", out, err)
	}

	jan := mustReport(t, l, january)
	// Closed with 23:00-23:58: 58 minutes. Late alone: 23:00-24:00 = 60.
	if jan.Metrics.LogonMinutes != 58 || jan.Late == nil || jan.Late.Users != 1 ||
		jan.Late.Metrics.LogonMinutes != 60 || jan.Late.Combined.LogonMinutes != 60 {
		t.Fatalf("January = %+v, late %+v", jan.Metrics, jan.Late)
	}
	febR := mustReport(t, l, feb)
	if febR.Closed || febR.Metrics.LogonMinutes != 10 || febR.Metrics.AcStaff != 1 || !febR.Metrics.ConcWhen.Equal(feb1) {
		t.Fatalf("February = %+v", febR.Metrics)
	}
}

// A month the ledger never saw closed at its end all the same; data for it
// that arrives afterwards is late, beside an empty closed month.
func TestLateDataForAnUnseenMonth(t *testing.T) {
	l := newLedger(t, time.UTC)
	observeLedger(t, l, inst, []any{us("u1", RoleStaff, true, false, feb1.Add(time.Hour))})
	closed := mustCloseDue(t, l, time.Date(2024, time.March, 1, 0, 0, 0, 0, time.UTC))
	if len(closed) != 1 || closed[0].Key != feb {
		t.Fatalf("closed %+v", closed)
	}
	out, err := l.ObserveFacts(inst, Facts{At: d(20, 0, 0), FileLimitMB: 50})
	if err != nil || out != OutcomeLate {
		t.Fatalf("outcome %v, %v; want late", out, err)
	}
	jan := mustReport(t, l, january)
	if !jan.Closed || jan.Metrics != (Metrics{}) || jan.Late == nil || !jan.Late.Facts || jan.Late.Metrics.FileLimitMB != 50 {
		t.Fatalf("January = %+v", jan)
	}
}

// P7-style: ClosedAsOf never moves back, so a clock stepped back reopens
// nothing.
func TestCloseDueOnlyMovesForward(t *testing.T) {
	l := newLedger(t, time.UTC)
	observeLedger(t, l, inst, []any{us("u1", RoleStaff, true, false, d(10, 0, 0))})
	if got := mustCloseDue(t, l, d(31, 23, 59)); len(got) != 0 {
		t.Fatalf("closed before the end: %+v", got)
	}
	mustCloseDue(t, l, feb1.Add(time.Hour))
	if got := mustCloseDue(t, l, d(15, 0, 0)); len(got) != 0 || !l.ClosedAsOf().Equal(feb1.Add(time.Hour)) {
		t.Fatalf("backwards CloseDue: %+v, closed as of %v", got, l.ClosedAsOf())
	}
	if out, _ := l.ObserveUser(inst, us("u9", RoleRep, true, false, d(20, 0, 0))); out != OutcomeLate {
		t.Fatalf("January reopened: outcome %v", out)
	}
	if _, err := l.CloseDue(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, ErrInvalidObservation) {
		t.Fatalf("CloseDue(1900) = %v", err)
	}
}

func TestPrune(t *testing.T) {
	l := newLedger(t, time.UTC)
	observeLedger(t, l, inst, []any{
		us("u1", RoleStaff, true, false, d(10, 0, 0)),
		us("u1", RoleStaff, true, false, feb1.Add(time.Hour)),
	})
	mustCloseDue(t, l, feb1.Add(2*time.Hour))
	before := snapshot(t, l)
	if err := l.Prune(march); !errors.Is(err, ErrPruneOpen) {
		t.Fatalf("prune of open February: %v, want ErrPruneOpen", err)
	}
	if !bytes.Equal(before, snapshot(t, l)) {
		t.Fatal("refused prune changed the ledger")
	}
	if err := l.Prune(feb); err != nil {
		t.Fatal(err)
	}
	if h := l.History(inst); len(h) != 1 || h[0].Key != feb {
		t.Fatalf("history after prune: %+v", h)
	}
	out, err := l.ObserveLogon(inst, lg("u1", RoleStaff, false, d(31, 23, 0), feb1.Add(30*time.Minute)))
	if err != nil || out != OutcomeDropped|OutcomeApplied {
		t.Fatalf("session across the pruned month: %v, %v", out, err)
	}
	r, err := RestoreLedger(snapshot(t, l), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := r.ObserveUser(inst, us("u1", RoleStaff, true, false, d(5, 0, 0))); out != OutcomeDropped {
		t.Fatalf("restored ledger forgot the prune floor: %v", out)
	}
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
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
	if !bytes.Equal(before, snapshot(t, l)) {
		t.Fatal("bad input changed the ledger")
	}
	if _, err := NewMonth(inst, 2024, 13, time.UTC); !errors.Is(err, ErrInvalidMonth) {
		t.Errorf("NewMonth(month 13) = %v", err)
	}
	if _, err := NewMonth(inst, 2024, 1, nil); !errors.Is(err, ErrInvalidMonth) {
		t.Errorf("NewMonth(nil zone) = %v", err)
	}
	for _, c := range []Config{{}, {Location: time.UTC}, {Location: time.UTC, MaxSessionMonths: 121}} {
		if _, err := NewLedger(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewLedger(%+v) = %v", c, err)
		}
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
			if err := m.ObserveUser(us(id, RoleStaff, true, false, at)); err != nil {
				t.Fatal(err)
			}
			if err := m.ObserveLogon(lgOpen(id, RoleStaff, d(2, 8, 0), at)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if m.Users() != users {
		t.Fatalf("Users() = %d, want %d", m.Users(), users)
	}
	for id, u := range m.users {
		if len(u.spans) != 1 {
			t.Fatalf("user %s holds %d spans, want 1", id, len(u.spans))
		}
	}
	// 20 users online from 08:00 to 08:00+999 min.
	want := Metrics{EnStaff: users, AcStaff: users, ConcMax: users, ConcWhen: d(2, 8, 0), LogonMinutes: users * 999}
	if diff := metricsDiff(m.Metrics(), want); diff != "" {
		t.Fatal(diff)
	}
}

// A session open for months touches only the latest MaxSessionMonths months.
func TestLongSessionTouchesBoundedMonths(t *testing.T) {
	l := newLedger(t, time.UTC)
	start := time.Date(2023, time.March, 10, 0, 0, 0, 0, time.UTC)
	out, err := l.ObserveLogon(inst, lgOpen("kiosk", RoleStaff, start, d(15, 0, 0)))
	if err != nil || out != OutcomeApplied {
		t.Fatalf("%v %v", out, err)
	}
	got := l.Months()
	want := []MonthKey{january, {2023, time.December}, {2023, time.November}}
	if len(got) != len(want) {
		t.Fatalf("months %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("months %v, want %v", got, want)
		}
	}
	// The user was not seen in January except through a session begun
	// earlier: active with the role it logged on with.
	r := mustReport(t, l, january)
	if r.Metrics.AcStaff != 1 || r.Metrics.LogonMinutes != 14*24*60 {
		t.Fatalf("January %+v", r.Metrics)
	}
}

func TestViews(t *testing.T) {
	l := newLedger(t, time.UTC)
	observeLedger(t, l, "zeta", []any{us("u1", RoleStaff, true, false, d(3, 0, 0))})
	observeLedger(t, l, "alpha", []any{
		us("u1", RoleStaff, true, false, d(3, 0, 0)),
		us("u1", RoleStaff, true, false, feb1.Add(time.Hour)),
	})
	if got := l.Installations(); len(got) != 2 || got[0] != "alpha" || got[1] != "zeta" {
		t.Fatalf("Installations = %v", got)
	}
	h := l.History("alpha")
	if len(h) != 2 || h[0].Key != feb || h[1].Key != january || h[1].Label != "Jan 2024" {
		t.Fatalf("History not newest first: %+v", h)
	}
	rs := l.MonthReports(january)
	if len(rs) != 2 || rs[0].Installation != "alpha" || rs[1].Installation != "zeta" {
		t.Fatalf("MonthReports = %+v", rs)
	}
	if ms := l.Months(); len(ms) != 2 || ms[0] != feb {
		t.Fatalf("Months = %v", ms)
	}
	if _, ok := l.Report("nobody", january); ok {
		t.Fatal("report for an unknown installation")
	}
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
		if ls[i].Long != w[0] || ls[i].Short != w[1] || ls[i].Seed != "004" {
			t.Errorf("label %d = %+v, want %v", i, ls[i], w)
		}
	}
	m := Metrics{Super: 3, ConcMax: 2, ConcWhen: d(6, 10, 30), CaseCountMax: 7}
	cells := m.Cells(nil)
	if len(cells) != len(ls) || cells[0] != "3" || cells[7] != "2" || cells[8] != "2024-01-06 10:30" || cells[len(cells)-1] != "7" {
		t.Fatalf("Cells = %q", cells)
	}
	if (Metrics{}).Value(MetricConcWhen, nil) != "" || m.Value("nope", nil) != "" {
		t.Fatal("empty values expected")
	}
	ls[0].Long = "changed"
	if Labels()[0].Long != "Super users" {
		t.Fatal("Labels shares its slice")
	}
}
