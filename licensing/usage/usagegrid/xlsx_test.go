package usagegrid_test

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/licmesh/licmesh/licensing/usage/usagegrid"
)

// openXLSX writes g and reads the workbook back as a spreadsheet program
// would.
func openXLSX(t *testing.T, g *usagegrid.Grid) *excelize.File {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, g.WriteXLSX(&buf))
	f, err := excelize.OpenReader(&buf)
	require.NoError(t, err, "the workbook does not open")
	t.Cleanup(func() { f.Close() })
	return f
}

func TestHistoryWorkbook(t *testing.T) {
	t.Parallel()
	g := usagegrid.History("acme", []usage.Report{
		report("acme", 2008, time.January, true, full, &usage.LateArrivals{Users: 2}),
		report("acme", 2008, time.February, false, usage.Metrics{Super: 1}, nil),
	}, paris)
	f := openXLSX(t, g)
	const sheet = "Metrics history"
	require.Equal(t, []string{sheet}, f.GetSheetList(), "sheets")

	cell := func(ref string) string {
		t.Helper()
		v, err := f.GetCellValue(sheet, ref)
		require.NoError(t, err)
		return v
	}
	raw := func(ref string) string {
		t.Helper()
		v, err := f.GetCellValue(sheet, ref, excelize.Options{RawCellValue: true})
		require.NoError(t, err)
		return v
	}
	typ := func(ref string) excelize.CellType {
		t.Helper()
		ct, err := f.GetCellType(sheet, ref)
		require.NoError(t, err)
		return ct
	}
	isText := func(ct excelize.CellType) bool {
		return ct == excelize.CellTypeSharedString || ct == excelize.CellTypeInlineString
	}

	// Header: seed 004's short labels, bold, frozen with the first column.
	for ref, want := range map[string]string{"A1": "Month", "B1": "Super", "C1": "En. staff", "I1": "Conc. max",
		"J1": "When", "K1": "Minutes", "N1": "Fields", "S1": "Status", "T1": "Late"} {
		assert.Equal(t, want, cell(ref), ref)
	}
	for _, ref := range []string{"A1", "J1", "T1"} {
		id, err := f.GetCellStyle(sheet, ref)
		require.NoError(t, err)
		st, err := f.GetStyle(id)
		require.NoError(t, err, "%s style", ref)
		if assert.NotNil(t, st.Font, "%s has no font: %+v", ref, st) {
			assert.True(t, st.Font.Bold, "%s is not bold: %+v", ref, st)
		}
	}
	panes, err := f.GetPanes(sheet)
	if assert.NoError(t, err, "panes") {
		// Want the header row and first column frozen.
		assert.True(t, panes.Freeze, "panes %+v", panes)
		assert.Equal(t, 1, panes.YSplit, "panes %+v", panes)
		assert.Equal(t, 1, panes.XSplit, "panes %+v", panes)
	}

	// Rows newest first; numbers are numbers, not text.
	assert.Equal(t, "Feb 2008", cell("A2"), "month column")
	assert.Equal(t, "Jan 2008", cell("A3"), "month column")
	assert.True(t, isText(typ("A3")), "month column A3 type %v", typ("A3"))
	for col, want := range map[string]int{"B": 1, "C": 2, "I": 8, "K": 10, "L": 11, "R": 17} {
		ref := col + "3"
		assert.False(t, isText(typ(ref)), "%s is stored as text", ref)
		n, err := strconv.Atoi(raw(ref))
		if assert.NoError(t, err, "%s = %q, want the number %d", ref, raw(ref), want) {
			assert.Equal(t, want, n, ref)
		}
	}
	// When is a date-time cell: a serial number shown as the site's time.
	assert.False(t, isText(typ("J3")), "When is stored as text")
	serial, err := strconv.ParseFloat(raw("J3"), 64)
	require.NoError(t, err, "When raw value %q is not a number", raw("J3"))
	got, err := excelize.ExcelDateToTime(serial, false)
	want := time.Date(2008, 1, 15, 14, 30, 0, 0, time.UTC)
	if assert.NoError(t, err, "When") {
		assert.True(t, got.Equal(want), "When = %v, want the Paris wall clock %v", got, want)
	}
	assert.Equal(t, "2008-01-15 14:30", cell("J3"), "When shows as")
	assert.Empty(t, cell("J2"), "an open month with no logon shows When")
	// Closed vs open, and the late marker.
	assert.Equal(t, "open", cell("S2"), "status S2")
	assert.Equal(t, "closed", cell("S3"), "status S3")
	assert.Equal(t, "2 users late", cell("T3"), "late T3")
	assert.Empty(t, cell("T2"), "late T2")

	// Widths fit the text and stay within bounds.
	for col, atLeast := range map[string]float64{"A": 8, "J": float64(len("2008-01-15 14:30")), "T": float64(len("2 users late"))} {
		w, err := f.GetColWidth(sheet, col)
		if assert.NoError(t, err, "column %s width", col) {
			assert.GreaterOrEqual(t, w, atLeast, "column %s width", col)
			assert.LessOrEqual(t, w, 48.0, "column %s width", col)
		}
	}
	props, err := f.GetDocProps()
	if assert.NoError(t, err, "doc props") {
		assert.Equal(t, "Metrics history: acme", props.Title, "doc title")
	}
}

func TestMonthWorkbookKeepsFormulasAsText(t *testing.T) {
	t.Parallel()
	k := usage.MonthKey{Year: 2008, Month: time.January}
	g := usagegrid.Month(k, []usage.Report{
		report("zeta", 2008, time.January, true, full, nil),
		report("=1+1", 2008, time.January, true, full, nil),
	}, paris)
	f := openXLSX(t, g)
	const sheet = "Subscriber metrics"
	rows, err := f.GetRows(sheet)
	require.NoError(t, err)
	require.Len(t, rows, 3, "rows %q", rows)
	require.Equal(t, "Installation", rows[0][0], "rows %q", rows)
	require.Equal(t, "=1+1", rows[1][0], "rows %q", rows)
	require.Equal(t, "zeta", rows[2][0], "rows %q", rows)
	formula, err := f.GetCellFormula(sheet, "A2")
	if assert.NoError(t, err, "A2 formula") {
		assert.Empty(t, formula, "A2 became a formula")
	}
}

func TestEmptyWorkbookHasTheHeader(t *testing.T) {
	t.Parallel()
	f := openXLSX(t, usagegrid.Month(usage.MonthKey{Year: 2008, Month: time.March}, nil, nil))
	rows, err := f.GetRows("Subscriber metrics")
	require.NoError(t, err)
	// Want the header alone.
	require.Len(t, rows, 1, "rows %q", rows)
	assert.Len(t, rows[0], 20, "header %q", rows[0])
}
