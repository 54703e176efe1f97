package usagegrid_test

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
		assert.Equal(t, want, usagegrid.CSVCell(in), "CSVCell(%q)", in)
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
	require.NoError(t, g.WriteCSV(&b))
	recs, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	require.NoError(t, err, "the CSV does not parse:\n%s", b.String())
	require.Len(t, recs, 3, "records %q", recs)
	require.Equal(t, strings.Join(g.Header(), ","), strings.Join(recs[0], ","), "header record")
	// Sorted: "=..." before "acme"; guarded as text.
	assert.Equal(t, "'=HYPERLINK(\"http://x\")", recs[1][0], "injection not guarded")
	assert.Equal(t, "acme", recs[2][0], "row %q", recs[2])
	assert.Equal(t, "4", recs[2][1], "row %q", recs[2])
	assert.Equal(t, "open", recs[2][18], "row %q", recs[2])
}
