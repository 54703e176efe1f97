package usagegrid_test

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the same zone data on every machine the tests run on

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/licmesh/licmesh/licensing/usage/usagegrid"
)

var paris = mustZone("Europe/Paris")

func mustZone(name string) *time.Location {
	loc, err := usagegrid.LoadZone(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func report(inst string, y int, m time.Month, closed bool, metrics usage.Metrics, late *usage.LateArrivals) usage.Report {
	k := usage.MonthKey{Year: y, Month: m}
	start, end := k.Bounds(paris)
	return usage.Report{Installation: usage.InstallationID(inst), Key: k, Label: k.Label(), Start: start, End: end,
		Closed: closed, Metrics: metrics, Late: late}
}

// full sets every metric to a distinct value, so a column mix-up shows.
var full = usage.Metrics{
	Super: 1, EnStaff: 2, AcStaff: 3, EnMgrs: 4, AcMgrs: 5, EnReps: 6, AcReps: 7, ConcMax: 8,
	ConcWhen:     time.Date(2008, 1, 15, 13, 30, 0, 0, time.UTC),
	LogonMinutes: 10, FileLimitMB: 11, CommItems: 12, ProcessFields: 13,
	UserCountLatest: 14, UserCountMax: 15, CaseCountLatest: 16, CaseCountMax: 17,
}

func TestHistoryIsNewestFirstWithShortLabels(t *testing.T) {
	t.Parallel()
	g := usagegrid.History("acme", []usage.Report{
		report("acme", 2007, time.December, true, usage.Metrics{Super: 9}, nil),
		report("acme", 2008, time.February, false, usage.Metrics{}, nil),
		report("acme", 2008, time.January, true, full, &usage.LateArrivals{Users: 3, Facts: true}),
	}, paris)

	assert.Equal(t, "Metrics history", g.Title, "title")
	assert.Equal(t, "acme", g.Subject, "subject")
	wantHeader := "Month|Super|En. staff|Ac. staff|En. mgrs|Ac. mgrs|En. reps|Ac. reps|Conc. max|When|Minutes|" +
		"File limit|Items|Fields|Users|Max users|Cases|Max cases|Status|Late"
	assert.Equal(t, wantHeader, strings.Join(g.Header(), "|"), "header")
	assert.Equal(t, "Enabled staff", g.Columns[2].Title, "long labels")
	assert.Equal(t, "Logon time", g.Columns[10].Title, "long labels")
	rows := g.Strings()
	var months []string
	for _, r := range rows {
		months = append(months, r[0])
	}
	require.Equal(t, []string{"Feb 2008", "Jan 2008", "Dec 2007"}, months, "rows")
	// Jan 2008: every metric in its column; When in Paris time (UTC+1).
	want := []string{"Jan 2008", "1", "2", "3", "4", "5", "6", "7", "8", "2008-01-15 14:30", "10",
		"11", "12", "13", "14", "15", "16", "17", "closed", "3 users late, facts late"}
	assert.Equal(t, want, rows[1], "Jan 2008 row")
	jan := g.Rows[1]
	assert.Equal(t, int64(1), jan.Cells[1].Number, "numbers: %+v", jan.Cells)
	assert.Equal(t, int64(17), jan.Cells[17].Number, "numbers: %+v", jan.Cells)
	w := jan.Cells[9].Time
	assert.True(t, w.Equal(full.ConcWhen), "When cell time %v, want %v", w, full.ConcWhen)
	assert.Same(t, paris, w.Location(), "When cell time %v not in Paris", w)
	// An open month with nobody logged on: no When, status open, nothing late.
	r := rows[0]
	assert.Empty(t, r[9], "Feb 2008 row %q", r)
	assert.Equal(t, "open", r[18], "Feb 2008 row %q", r)
	assert.Empty(t, r[19], "Feb 2008 row %q", r)
	assert.Equal(t, "metrics-history-acme.xlsx", g.FileName("xlsx"), "file name")
}

func TestMonthIsAlphabetical(t *testing.T) {
	t.Parallel()
	k := usage.MonthKey{Year: 2008, Month: time.January}
	g := usagegrid.Month(k, []usage.Report{
		report("zeta", 2008, time.January, true, full, nil),
		report("Beta", 2008, time.January, true, full, nil),
		report("alpha", 2008, time.January, true, full, nil),
		report("beta", 2008, time.January, true, full, nil),
	}, nil)
	var names []string
	for _, r := range g.Strings() {
		names = append(names, r[0])
	}
	require.Equal(t, []string{"alpha", "Beta", "beta", "zeta"}, names, "rows")
	assert.Equal(t, "Subscriber metrics", g.Title, "title")
	assert.Equal(t, "Jan 2008", g.Subject, "subject")
	assert.Equal(t, "Installation", g.Header()[0], "first header")
	// A nil zone is UTC.
	assert.Equal(t, "2008-01-15 13:30", g.Strings()[0][9], "When in UTC")
	assert.Equal(t, "subscriber-metrics-2008-01.xlsx", g.FileName("xlsx"), "file name")
}

func TestLate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		l    *usage.LateArrivals
		want string
	}{
		{nil, ""},
		{&usage.LateArrivals{Users: 1}, "1 user late"},
		{&usage.LateArrivals{Users: 2}, "2 users late"},
		{&usage.LateArrivals{Facts: true}, "facts late"},
		{&usage.LateArrivals{}, "data late"},
	} {
		assert.Equal(t, tt.want, usagegrid.Late(tt.l), "Late(%+v)", tt.l)
	}
}

func TestFileNameKeepsOnlySafeCharacters(t *testing.T) {
	t.Parallel()
	for inst, want := range map[string]string{
		`acme/prod "eu"`:        "metrics-history-acme_prod__eu.xlsx",
		"../../etc/passwd":      "metrics-history-etc_passwd.xlsx",
		"Ünïcode":               "metrics-history-n_code.xlsx",
		"\"\r\n":                "metrics-history.xlsx",
		strings.Repeat("a", 99): "metrics-history-" + strings.Repeat("a", 64) + ".xlsx",
	} {
		assert.Equal(t, want, usagegrid.History(usage.InstallationID(inst), nil, nil).FileName("xlsx"), "FileName for %q", inst)
	}
}

func TestLoadZone(t *testing.T) {
	t.Parallel()
	loc, err := usagegrid.LoadZone("")
	if assert.NoError(t, err, `LoadZone("")`) {
		assert.Same(t, time.UTC, loc, `LoadZone("") = %v`, loc)
	}
	_, err = usagegrid.LoadZone("Mars/Olympus")
	assert.ErrorContains(t, err, `unknown time zone "Mars/Olympus"`, "unknown zone")
}
