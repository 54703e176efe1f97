package usagegrid_test

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/licmesh/licmesh/licensing/usage/usagegrid"
)

// openXLSX writes g and reads the workbook back as a spreadsheet program
// would.
func openXLSX(t *testing.T, g *usagegrid.Grid) *excelize.File {
	t.Helper()
	var buf bytes.Buffer
	if err := g.WriteXLSX(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatalf("the workbook does not open: %v", err)
	}
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
	if got := f.GetSheetList(); len(got) != 1 || got[0] != sheet {
		t.Fatalf("sheets %q, want [%q]", got, sheet)
	}

	cell := func(ref string) string {
		t.Helper()
		v, err := f.GetCellValue(sheet, ref)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	raw := func(ref string) string {
		t.Helper()
		v, err := f.GetCellValue(sheet, ref, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	typ := func(ref string) excelize.CellType {
		t.Helper()
		ct, err := f.GetCellType(sheet, ref)
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	isText := func(ct excelize.CellType) bool {
		return ct == excelize.CellTypeSharedString || ct == excelize.CellTypeInlineString
	}

	// Header: seed 004's short labels, bold, frozen with the first column.
	for ref, want := range map[string]string{"A1": "Month", "B1": "Super", "C1": "En. staff", "I1": "Conc. max",
		"J1": "When", "K1": "Minutes", "N1": "Fields", "S1": "Status", "T1": "Late"} {
		if got := cell(ref); got != want {
			t.Errorf("%s = %q, want %q", ref, got, want)
		}
	}
	for _, ref := range []string{"A1", "J1", "T1"} {
		id, err := f.GetCellStyle(sheet, ref)
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.GetStyle(id)
		if err != nil || st.Font == nil || !st.Font.Bold {
			t.Errorf("%s is not bold: %+v %v", ref, st, err)
		}
	}
	panes, err := f.GetPanes(sheet)
	if err != nil || !panes.Freeze || panes.YSplit != 1 || panes.XSplit != 1 {
		t.Errorf("panes %+v, %v: want the header row and first column frozen", panes, err)
	}

	// Rows newest first; numbers are numbers, not text.
	if cell("A2") != "Feb 2008" || cell("A3") != "Jan 2008" || !isText(typ("A3")) {
		t.Errorf("month column: %q %q (%v)", cell("A2"), cell("A3"), typ("A3"))
	}
	for col, want := range map[string]int{"B": 1, "C": 2, "I": 8, "K": 10, "L": 11, "R": 17} {
		ref := col + "3"
		if isText(typ(ref)) {
			t.Errorf("%s is stored as text", ref)
		}
		if n, err := strconv.Atoi(raw(ref)); err != nil || n != want {
			t.Errorf("%s = %q, want the number %d", ref, raw(ref), want)
		}
	}
	// When is a date-time cell: a serial number shown as the site's time.
	if isText(typ("J3")) {
		t.Errorf("When is stored as text")
	}
	serial, err := strconv.ParseFloat(raw("J3"), 64)
	if err != nil {
		t.Fatalf("When raw value %q is not a number", raw("J3"))
	}
	got, err := excelize.ExcelDateToTime(serial, false)
	if want := time.Date(2008, 1, 15, 14, 30, 0, 0, time.UTC); err != nil || !got.Equal(want) {
		t.Errorf("When = %v (%v), want the Paris wall clock %v", got, err, want)
	}
	if cell("J3") != "2008-01-15 14:30" {
		t.Errorf("When shows as %q", cell("J3"))
	}
	if cell("J2") != "" {
		t.Errorf("an open month with no logon shows When %q", cell("J2"))
	}
	// Closed vs open, and the late marker.
	if cell("S2") != "open" || cell("S3") != "closed" || cell("T3") != "2 users late" || cell("T2") != "" {
		t.Errorf("status/late: S2 %q S3 %q T2 %q T3 %q", cell("S2"), cell("S3"), cell("T2"), cell("T3"))
	}

	// Widths fit the text and stay within bounds.
	for col, atLeast := range map[string]float64{"A": 8, "J": float64(len("2008-01-15 14:30")), "T": float64(len("2 users late"))} {
		w, err := f.GetColWidth(sheet, col)
		if err != nil || w < atLeast || w > 48 {
			t.Errorf("column %s width %v (%v), want %v..48", col, w, err, atLeast)
		}
	}
	props, err := f.GetDocProps()
	if err != nil || props.Title != "Metrics history: acme" {
		t.Errorf("doc title %q, %v", props.Title, err)
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
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0][0] != "Installation" || rows[1][0] != "=1+1" || rows[2][0] != "zeta" {
		t.Fatalf("rows %q", rows)
	}
	formula, err := f.GetCellFormula(sheet, "A2")
	if err != nil || formula != "" {
		t.Errorf("A2 became a formula %q (%v)", formula, err)
	}
}

func TestEmptyWorkbookHasTheHeader(t *testing.T) {
	t.Parallel()
	f := openXLSX(t, usagegrid.Month(usage.MonthKey{Year: 2008, Month: time.March}, nil, nil))
	rows, err := f.GetRows("Subscriber metrics")
	if err != nil || len(rows) != 1 || len(rows[0]) != 20 {
		t.Errorf("rows %q, %v: want the header alone", rows, err)
	}
}
