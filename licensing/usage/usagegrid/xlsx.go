package usagegrid

import (
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// XLSXContentType is the media type of a workbook WriteXLSX writes.
const XLSXContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// xlsxTimeFormat shows a date-time cell the way usage.WhenLayout shows it in
// text.
const xlsxTimeFormat = "yyyy-mm-dd hh:mm"

// Column widths, in characters.
const (
	minWidth = 8
	maxWidth = 48
)

// WriteXLSX writes the grid as an Excel workbook with one sheet named for
// the grid's title: a bold header row that stays in view with the first
// column, numbers as numbers, the concurrent maximum's time as a date-time
// in the grid's zone, and a filter on every column.
func (g *Grid) WriteXLSX(w io.Writer) error {
	f := excelize.NewFile()
	defer f.Close()
	x := &sheetWriter{f: f, sheet: g.Title}
	x.check(f.SetSheetName("Sheet1", g.Title))

	header := x.style(&excelize.Style{
		Font:   &excelize.Font{Bold: true},
		Fill:   excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"E8EBF0"}},
		Border: []excelize.Border{{Type: "bottom", Color: "9AA3B2", Style: 1}},
	})
	format := xlsxTimeFormat
	when := x.style(&excelize.Style{CustomNumFmt: &format})

	widths := make([]int, len(g.Columns))
	for c, col := range g.Columns {
		x.check(f.SetCellStr(g.Title, cellName(c, 0), col.Header))
		widths[c] = utf8.RuneCountInString(col.Header)
	}
	x.check(f.SetCellStyle(g.Title, cellName(0, 0), cellName(len(g.Columns)-1, 0), header))

	for r, row := range g.Rows {
		for c, cell := range row.Cells {
			ref := cellName(c, r+1)
			switch g.Columns[c].Kind {
			case Number:
				x.check(f.SetCellInt(g.Title, ref, cell.Number))
			case DateTime:
				if cell.Time.IsZero() {
					continue
				}
				x.check(f.SetCellValue(g.Title, ref, wallClock(cell.Time)))
				x.check(f.SetCellStyle(g.Title, ref, ref, when))
			default:
				if cell.Text != "" {
					x.check(f.SetCellStr(g.Title, ref, cell.Text))
				}
			}
			widths[c] = max(widths[c], utf8.RuneCountInString(cell.Text))
		}
	}
	for c, wd := range widths {
		name, _ := excelize.ColumnNumberToName(c + 1)
		x.check(f.SetColWidth(g.Title, name, name, float64(min(max(wd+2, minWidth), maxWidth))))
	}

	last := cellName(len(g.Columns)-1, len(g.Rows))
	x.check(f.AutoFilter(g.Title, "A1:"+last, nil))
	x.check(f.SetPanes(g.Title, &excelize.Panes{
		Freeze: true, XSplit: 1, YSplit: 1, TopLeftCell: "B2", ActivePane: "bottomRight",
		Selection: []excelize.Selection{{SQRef: "B2", ActiveCell: "B2", Pane: "bottomRight"}},
	}))
	x.check(f.SetDocProps(&excelize.DocProperties{
		Title:   g.Title + ": " + g.Subject,
		Subject: g.Subject,
		Creator: "licmesh",
	}))
	if x.err != nil {
		return fmt.Errorf("usagegrid: building the workbook: %w", x.err)
	}
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("usagegrid: writing the workbook: %w", err)
	}
	return nil
}

// sheetWriter keeps the first error of a run of workbook calls, which can
// fail only on a bug (a bad reference or style), so that WriteXLSX reads as
// the layout it makes.
type sheetWriter struct {
	f     *excelize.File
	sheet string
	err   error
}

func (x *sheetWriter) check(err error) {
	if x.err == nil {
		x.err = err
	}
}

func (x *sheetWriter) style(s *excelize.Style) int {
	id, err := x.f.NewStyle(s)
	x.check(err)
	return id
}

// cellName is the A1 reference of a zero-based column and row.
func cellName(col, row int) string {
	name, _ := excelize.CoordinatesToCellName(col+1, row+1)
	return name
}

// wallClock keeps t's clock reading and drops its zone: a spreadsheet's
// date-time has no zone, and readers expect the site's local time.
func wallClock(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}
