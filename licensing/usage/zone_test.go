package usage

import (
	"testing"
	"time"
	_ "time/tzdata" // the same zone data on every machine the tests run on
)

// A session that crosses midnight at the end of the month is split at the
// site's local midnight, and minutes are real elapsed time, so a DST change
// on the same night shortens the month's part by an hour.
func TestSessionSplitAtLocalMonthEndAcrossDST(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	l := newLedger(t, berlin)
	// 31 March 2024: clocks go from 02:00 CET to 03:00 CEST; April begins
	// at 00:00 CEST = 22:00 UTC on the 31st.
	start := time.Date(2024, time.March, 31, 1, 0, 0, 0, berlin) // 00:00 UTC
	end := time.Date(2024, time.April, 1, 1, 0, 0, 0, berlin)    // 23:00 UTC
	out, err := l.ObserveLogon(inst, lg("u1", RoleRep, false, start, end))
	if err != nil {
		t.Fatal(err)
	}
	if out != OutcomeApplied {
		t.Fatalf("outcome %v, want applied", out)
	}
	march, _ := l.Report(inst, MonthKey{2024, time.March})
	april, _ := l.Report(inst, MonthKey{2024, time.April})

	aprilStart := time.Date(2024, time.March, 31, 22, 0, 0, 0, time.UTC)
	if !march.End.Equal(aprilStart) || !april.Start.Equal(aprilStart) {
		t.Fatalf("bounds: March ends %v, April starts %v, want %v", march.End, april.Start, aprilStart)
	}
	// March: 00:00 to 22:00 UTC = 22 h = 1320 min (the local clock shows
	// 01:00 to 24:00, 23 h, but an hour was skipped).
	// April: 22:00 to 23:00 UTC = 60 min. Together 23 h, the real length.
	wantMarch := Metrics{AcReps: 1, ConcMax: 1, ConcWhen: start, LogonMinutes: 1320}
	wantApril := Metrics{AcReps: 1, ConcMax: 1, ConcWhen: aprilStart, LogonMinutes: 60}
	if diff := metricsDiff(march.Metrics, wantMarch); diff != "" {
		t.Errorf("March: %s", diff)
	}
	if diff := metricsDiff(april.Metrics, wantApril); diff != "" {
		t.Errorf("April: %s", diff)
	}
	if got := april.Metrics.Value(MetricConcWhen, berlin); got != "2024-04-01 00:00" {
		t.Errorf("April When shown in Berlin = %q", got)
	}
}

// Months follow the site's zone, not UTC: in New York, 03:00 UTC on
// 1 February is still 31 January.
func TestMonthsFollowTheSiteZone(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	l := newLedger(t, ny)
	obs := []any{
		us("u1", RoleStaff, true, false, time.Date(2024, time.February, 1, 3, 0, 0, 0, time.UTC)),
		// 23:30 to 00:15 local: 30 minutes in January, 15 in February.
		lg("u2", RoleStaff, false, time.Date(2024, time.January, 31, 23, 30, 0, 0, ny),
			time.Date(2024, time.February, 1, 0, 15, 0, 0, ny)),
	}
	observeLedger(t, l, inst, obs)
	jan, _ := l.Report(inst, january)
	feb, _ := l.Report(inst, MonthKey{2024, time.February})
	wantJan := Metrics{EnStaff: 1, AcStaff: 1, ConcMax: 1,
		ConcWhen: time.Date(2024, time.January, 31, 23, 30, 0, 0, ny), LogonMinutes: 30}
	wantFeb := Metrics{AcStaff: 1, ConcMax: 1,
		ConcWhen: time.Date(2024, time.February, 1, 0, 0, 0, 0, ny), LogonMinutes: 15}
	if diff := metricsDiff(jan.Metrics, wantJan); diff != "" {
		t.Errorf("January: %s", diff)
	}
	if diff := metricsDiff(feb.Metrics, wantFeb); diff != "" {
		t.Errorf("February: %s", diff)
	}
}

// KeyOf and Bounds agree everywhere, including zones that skip or repeat
// local midnight and Samoa, which skipped 30 December 2011 altogether.
func TestMonthBoundsTileTime(t *testing.T) {
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "America/Sao_Paulo",
		"America/Santiago", "America/Havana", "Asia/Tehran", "Pacific/Apia", "Australia/Lord_Howe",
		"Asia/Kolkata", "Africa/Casablanca"}
	for _, name := range zones {
		loc := mustLoad(t, name)
		for k := (MonthKey{2005, time.January}); k.Year < 2026; k = k.Next() {
			start, end := k.Bounds(loc)
			nextStart, _ := k.Next().Bounds(loc)
			switch {
			case !end.Equal(nextStart):
				t.Fatalf("%s %s: end %v != next start %v", name, k, end, nextStart)
			case KeyOf(start, loc) != k:
				t.Fatalf("%s %s: KeyOf(start %v) = %s", name, k, start, KeyOf(start, loc))
			case KeyOf(end.Add(-1), loc) != k:
				t.Fatalf("%s %s: KeyOf(end-1ns) = %s", name, k, KeyOf(end.Add(-1), loc))
			case KeyOf(start.Add(-1), loc) != k.Prev():
				t.Fatalf("%s %s: KeyOf(start-1ns) = %s", name, k, KeyOf(start.Add(-1), loc))
			case end.Sub(start) < minMonthLen || end.Sub(start) > maxMonthLen:
				t.Fatalf("%s %s: %v long", name, k, end.Sub(start))
			}
		}
	}
}

func TestMonthKey(t *testing.T) {
	k := MonthKey{2008, time.January}
	if got := k.Label(); got != "Jan 2008" {
		t.Errorf("Label = %q", got)
	}
	if got := k.String(); got != "2008-01" {
		t.Errorf("String = %q", got)
	}
	if k.Prev() != (MonthKey{2007, time.December}) || k.Prev().Next() != k {
		t.Errorf("Prev/Next wrong: %v %v", k.Prev(), k.Prev().Next())
	}
	for _, bad := range []string{"", "2008-1", "2008-13", "2008-00", "1969-12", "2200-01", "20O8-01", "+008-01", "2008/01"} {
		if _, err := ParseMonthKey(bad); err == nil {
			t.Errorf("ParseMonthKey(%q) accepted", bad)
		}
	}
	if got, err := ParseMonthKey("2199-12"); err != nil || got != (MonthKey{2199, time.December}) {
		t.Errorf("ParseMonthKey(2199-12) = %v, %v", got, err)
	}
}
