package usagegrid_test

import (
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the same zone data on every machine the tests run on

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

	if g.Title != "Metrics history" || g.Subject != "acme" {
		t.Errorf("title %q subject %q", g.Title, g.Subject)
	}
	wantHeader := "Month|Super|En. staff|Ac. staff|En. mgrs|Ac. mgrs|En. reps|Ac. reps|Conc. max|When|Minutes|" +
		"File limit|Items|Fields|Users|Max users|Cases|Max cases|Status|Late"
	if got := strings.Join(g.Header(), "|"); got != wantHeader {
		t.Errorf("header\n got %s\nwant %s", got, wantHeader)
	}
	if g.Columns[2].Title != "Enabled staff" || g.Columns[10].Title != "Logon time" {
		t.Errorf("long labels: %q, %q", g.Columns[2].Title, g.Columns[10].Title)
	}
	rows := g.Strings()
	var months []string
	for _, r := range rows {
		months = append(months, r[0])
	}
	if want := []string{"Feb 2008", "Jan 2008", "Dec 2007"}; !slices.Equal(months, want) {
		t.Errorf("rows %v, want %v", months, want)
	}
	// Jan 2008: every metric in its column; When in Paris time (UTC+1).
	want := []string{"Jan 2008", "1", "2", "3", "4", "5", "6", "7", "8", "2008-01-15 14:30", "10",
		"11", "12", "13", "14", "15", "16", "17", "closed", "3 users late, facts late"}
	if !slices.Equal(rows[1], want) {
		t.Errorf("Jan 2008 row\n got %q\nwant %q", rows[1], want)
	}
	jan := g.Rows[1]
	if jan.Cells[1].Number != 1 || jan.Cells[17].Number != 17 {
		t.Errorf("numbers: %+v", jan.Cells)
	}
	if w := jan.Cells[9].Time; !w.Equal(full.ConcWhen) || w.Location() != paris {
		t.Errorf("When cell time %v, want %v in Paris", w, full.ConcWhen)
	}
	// An open month with nobody logged on: no When, status open, nothing late.
	if r := rows[0]; r[9] != "" || r[18] != "open" || r[19] != "" {
		t.Errorf("Feb 2008 row %q", r)
	}
	if g.FileName("xlsx") != "metrics-history-acme.xlsx" {
		t.Errorf("file name %q", g.FileName("xlsx"))
	}
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
	if want := []string{"alpha", "Beta", "beta", "zeta"}; !slices.Equal(names, want) {
		t.Errorf("rows %v, want %v", names, want)
	}
	if g.Title != "Subscriber metrics" || g.Subject != "Jan 2008" || g.Header()[0] != "Installation" {
		t.Errorf("title %q subject %q first header %q", g.Title, g.Subject, g.Header()[0])
	}
	// A nil zone is UTC.
	if got := g.Strings()[0][9]; got != "2008-01-15 13:30" {
		t.Errorf("When in UTC: %q", got)
	}
	if g.FileName("xlsx") != "subscriber-metrics-2008-01.xlsx" {
		t.Errorf("file name %q", g.FileName("xlsx"))
	}
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
		if got := usagegrid.Late(tt.l); got != tt.want {
			t.Errorf("Late(%+v) = %q, want %q", tt.l, got, tt.want)
		}
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
		if got := usagegrid.History(usage.InstallationID(inst), nil, nil).FileName("xlsx"); got != want {
			t.Errorf("FileName for %q = %q, want %q", inst, got, want)
		}
	}
}

func TestLoadZone(t *testing.T) {
	t.Parallel()
	if loc, err := usagegrid.LoadZone(""); err != nil || loc != time.UTC {
		t.Errorf(`LoadZone("") = %v, %v`, loc, err)
	}
	if _, err := usagegrid.LoadZone("Mars/Olympus"); err == nil || !strings.Contains(err.Error(), `unknown time zone "Mars/Olympus"`) {
		t.Errorf("unknown zone: %v", err)
	}
}
