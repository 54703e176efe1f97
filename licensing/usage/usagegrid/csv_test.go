package usagegrid_test

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/licmesh/licmesh/licensing/usage/usagegrid"
)

func TestCSVCellGuard(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"=1+1":        "'=1+1",
		"+1":          "'+1",
		"-1":          "'-1",
		"@SUM(A1)":    "'@SUM(A1)",
		"\tx":         "'\tx",
		"\rx":         "'\rx",
		"plain":       "plain",
		"":            "",
		"a=b":         "a=b",
		"2026-03-01Z": "2026-03-01Z",
		"'already":    "'already",
		"unicode=ünï": "unicode=ünï",
	} {
		if got := usagegrid.CSVCell(in); got != want {
			t.Errorf("CSVCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGridCSVIsGuarded(t *testing.T) {
	t.Parallel()
	k := usage.MonthKey{Year: 2008, Month: time.January}
	g := usagegrid.Month(k, []usage.Report{
		report("=HYPERLINK(\"http://x\")", 2008, time.January, true, full, nil),
		report("acme", 2008, time.January, false, usage.Metrics{Super: 4}, nil),
	}, paris)
	var b strings.Builder
	if err := g.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v\n%s", err, b.String())
	}
	if len(recs) != 3 || strings.Join(recs[0], ",") != strings.Join(g.Header(), ",") {
		t.Fatalf("records %q", recs)
	}
	// Sorted: "=..." before "acme"; guarded as text.
	if recs[1][0] != "'=HYPERLINK(\"http://x\")" {
		t.Errorf("injection not guarded: %q", recs[1][0])
	}
	if recs[2][0] != "acme" || recs[2][1] != "4" || recs[2][18] != "open" {
		t.Errorf("row %q", recs[2])
	}
}
