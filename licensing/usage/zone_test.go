package usage

import (
	"testing"
	"time"
	_ "time/tzdata" // the same zone data on every machine the tests run on

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.NoError(t, err)
	require.Equal(t, OutcomeApplied, out)
	march, _ := l.Report(inst, MonthKey{2024, time.March})
	april, _ := l.Report(inst, MonthKey{2024, time.April})

	aprilStart := time.Date(2024, time.March, 31, 22, 0, 0, 0, time.UTC)
	require.True(t, march.End.Equal(aprilStart), "bounds: March ends %v, want %v", march.End, aprilStart)
	require.True(t, april.Start.Equal(aprilStart), "bounds: April starts %v, want %v", april.Start, aprilStart)
	// March: 00:00 to 22:00 UTC = 22 h = 1320 min (the local clock shows
	// 01:00 to 24:00, 23 h, but an hour was skipped).
	// April: 22:00 to 23:00 UTC = 60 min. Together 23 h, the real length.
	wantMarch := Metrics{AcReps: 1, ConcMax: 1, ConcWhen: start, LogonMinutes: 1320}
	wantApril := Metrics{AcReps: 1, ConcMax: 1, ConcWhen: aprilStart, LogonMinutes: 60}
	assert.Empty(t, metricsDiff(march.Metrics, wantMarch), "March")
	assert.Empty(t, metricsDiff(april.Metrics, wantApril), "April")
	assert.Equal(t, "2024-04-01 00:00", april.Metrics.Value(MetricConcWhen, berlin), "April When shown in Berlin")
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
	assert.Empty(t, metricsDiff(jan.Metrics, wantJan), "January")
	assert.Empty(t, metricsDiff(feb.Metrics, wantFeb), "February")
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
			require.True(t, end.Equal(nextStart), "%s %s: end %v != next start %v", name, k, end, nextStart)
			require.Equal(t, k, KeyOf(start, loc), "%s %s: KeyOf(start %v)", name, k, start)
			require.Equal(t, k, KeyOf(end.Add(-1), loc), "%s %s: KeyOf(end-1ns)", name, k)
			require.Equal(t, k.Prev(), KeyOf(start.Add(-1), loc), "%s %s: KeyOf(start-1ns)", name, k)
			require.GreaterOrEqual(t, end.Sub(start), minMonthLen, "%s %s: month length", name, k)
			require.LessOrEqual(t, end.Sub(start), maxMonthLen, "%s %s: month length", name, k)
		}
	}
}

func TestMonthKey(t *testing.T) {
	k := MonthKey{2008, time.January}
	assert.Equal(t, "Jan 2008", k.Label(), "Label")
	assert.Equal(t, "2008-01", k.String(), "String")
	assert.Equal(t, MonthKey{2007, time.December}, k.Prev(), "Prev")
	assert.Equal(t, k, k.Prev().Next(), "Prev().Next()")
	for _, bad := range []string{"", "2008-1", "2008-13", "2008-00", "1969-12", "2200-01", "20O8-01", "+008-01", "2008/01"} {
		_, err := ParseMonthKey(bad)
		assert.Error(t, err, "ParseMonthKey(%q) accepted", bad)
	}
	got, err := ParseMonthKey("2199-12")
	if assert.NoError(t, err, "ParseMonthKey(2199-12)") {
		assert.Equal(t, MonthKey{2199, time.December}, got, "ParseMonthKey(2199-12)")
	}
}
