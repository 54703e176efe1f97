// Package usagegrid lays out seed 004's two usage grids and writes them as
// text, CSV or an Excel workbook, so that meshctl and the dashboard show the
// same rows and columns.
//
// The "Metrics history" grid is one installation's months, newest first,
// each row labelled like "Jan 2008". The "Subscriber metrics" grid is one
// month's installations in alphabetical order. Both have one column per
// metric, headed by seed 004's short label (the long label is the column's
// title), in usage.Labels order, then whether the month is closed and what
// arrived for it after it closed ("Late"): late data are shown beside a
// month and never counted in it.
//
// CSV cells are guarded against formula injection; WriteCSV and CSVCell are
// the one copy of that guard for every CSV licmesh writes. Workbooks hold
// numbers as numbers and the concurrent maximum's time as a date-time in the
// site's time zone.
package usagegrid

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/usage"
)

// Page titles, which also name the workbook's sheet.
const (
	HistoryTitle = "Metrics history"
	MonthTitle   = "Subscriber metrics"
)

// Kind is how a column's cells hold their value.
type Kind uint8

// Column kinds.
const (
	Text Kind = iota
	Number
	DateTime
)

// Keys of the columns that are not metrics; a metric column's key is its
// usage.Metric.
const (
	KeyMonth        = "month"
	KeyInstallation = "installation"
	KeyStatus       = "status"
	KeyLate         = "late"
)

// Column is one column of a grid.
type Column struct {
	// Key names the column for code: a usage.Metric or one of the Key
	// constants.
	Key string
	// Header is the column's header: seed 004's short label for a metric.
	Header string
	// Title is the long label, for a tooltip.
	Title string
	Kind  Kind
}

// Class is the CSS class the web views (the masters' dashboard and the
// hub's pages) give a cell of this column holding text: a month's status
// is styled by its value, late data is marked; other cells have none.
func (c Column) Class(text string) string {
	switch {
	case c.Key == KeyStatus:
		return "status " + text
	case c.Key == KeyLate && text != "":
		return "late"
	}
	return ""
}

// Cell is one value of a grid.
type Cell struct {
	// Text is the value as text grids show it; "" means no value.
	Text string
	// Number is a Number column's value.
	Number int64
	// Time is a DateTime column's value in the grid's zone, zero for none.
	Time time.Time
}

// Row is one month of one installation.
type Row struct {
	Report usage.Report
	// Cells line up with Grid.Columns.
	Cells []Cell
}

// Grid is one of the two usage grids.
type Grid struct {
	// Title is HistoryTitle or MonthTitle.
	Title string
	// Subject is what the grid is of: the installation, or the month's label.
	Subject string
	// Zone is the site's time zone, which times are shown in.
	Zone    *time.Location
	Columns []Column
	Rows    []Row

	// fileSubject is Subject as a file name puts it: the month as
	// "2008-01", which sorts.
	fileSubject string
}

// Late is the Late column's text for a month: "" if nothing came after it
// closed, else what did, such as "3 users late".
func Late(l *usage.LateArrivals) string {
	if l == nil {
		return ""
	}
	var parts []string
	switch {
	case l.Users == 1:
		parts = append(parts, "1 user late")
	case l.Users > 1:
		parts = append(parts, fmt.Sprintf("%d users late", l.Users))
	}
	if l.Facts {
		parts = append(parts, "facts late")
	}
	if len(parts) == 0 {
		return "data late"
	}
	return strings.Join(parts, ", ")
}

// Status is the Status column's text for a month.
func Status(r usage.Report) string {
	if r.Closed {
		return "closed"
	}
	return "open"
}

// History lays out one installation's months, newest first. A nil loc
// means UTC.
func History(inst usage.InstallationID, reports []usage.Report, loc *time.Location) *Grid {
	rs := slices.Clone(reports)
	slices.SortStableFunc(rs, func(a, b usage.Report) int { return b.Key.Compare(a.Key) })
	g := build(HistoryTitle, string(inst), Column{Key: KeyMonth, Header: "Month", Title: "Month", Kind: Text}, rs, loc,
		func(r usage.Report) string { return r.Key.Label() })
	g.fileSubject = string(inst)
	return g
}

// Month lays out one month's installations in alphabetical order. A nil loc
// means UTC.
func Month(k usage.MonthKey, reports []usage.Report, loc *time.Location) *Grid {
	rs := slices.Clone(reports)
	// People read the list: case does not split it, and the raw comparison
	// keeps the order total.
	slices.SortStableFunc(rs, func(a, b usage.Report) int {
		x, y := string(a.Installation), string(b.Installation)
		return cmp.Or(cmp.Compare(strings.ToLower(x), strings.ToLower(y)), cmp.Compare(x, y))
	})
	g := build(MonthTitle, k.Label(), Column{Key: KeyInstallation, Header: "Installation", Title: "Installation", Kind: Text}, rs, loc,
		func(r usage.Report) string { return string(r.Installation) })
	g.fileSubject = k.String()
	return g
}

func build(title, subject string, first Column, rs []usage.Report, loc *time.Location, label func(usage.Report) string) *Grid {
	if loc == nil {
		loc = time.UTC
	}
	labels := usage.Labels()
	cols := make([]Column, 0, len(labels)+3)
	cols = append(cols, first)
	for _, l := range labels {
		k := Number
		if l.Metric == usage.MetricConcWhen {
			k = DateTime
		}
		cols = append(cols, Column{Key: string(l.Metric), Header: l.Short, Title: l.Long, Kind: k})
	}
	cols = append(cols,
		Column{Key: KeyStatus, Header: "Status", Title: "Closed months never change; open ones show the values so far", Kind: Text},
		Column{Key: KeyLate, Header: "Late", Title: "Data that arrived after the month closed, not counted in it", Kind: Text})

	g := &Grid{Title: title, Subject: subject, Zone: loc, Columns: cols, Rows: make([]Row, 0, len(rs))}
	for _, r := range rs {
		cells := make([]Cell, 0, len(cols))
		cells = append(cells, Cell{Text: label(r)})
		for _, l := range labels {
			c := Cell{Text: r.Metrics.Value(l.Metric, loc)}
			if l.Metric == usage.MetricConcWhen {
				if !r.Metrics.ConcWhen.IsZero() {
					c.Time = r.Metrics.ConcWhen.In(loc)
				}
			} else {
				// Value is the one place that maps a metric to its field;
				// its decimal text parses back exactly.
				c.Number, _ = strconv.ParseInt(c.Text, 10, 64)
			}
			cells = append(cells, c)
		}
		cells = append(cells, Cell{Text: Status(r)}, Cell{Text: Late(r.Late)})
		g.Rows = append(g.Rows, Row{Report: r, Cells: cells})
	}
	return g
}

// Header returns the column headers.
func (g *Grid) Header() []string {
	out := make([]string, len(g.Columns))
	for i, c := range g.Columns {
		out[i] = c.Header
	}
	return out
}

// Strings returns every row's cells as text.
func (g *Grid) Strings() [][]string {
	out := make([][]string, len(g.Rows))
	for i, r := range g.Rows {
		row := make([]string, len(r.Cells))
		for j, c := range r.Cells {
			row[j] = c.Text
		}
		out[i] = row
	}
	return out
}

// FileName names a download of the grid, with extension ext ("xlsx"):
// "metrics-history-acme.xlsx" or "subscriber-metrics-2008-01.xlsx". Only
// letters, digits, '.', '_' and '-' of the subject are kept, so the name is
// safe in a header and on any file system.
func (g *Grid) FileName(ext string) string {
	var b strings.Builder
	for _, r := range g.fileSubject {
		switch {
		case b.Len() >= 64:
		case r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.ToLower(strings.ReplaceAll(g.Title, " ", "-"))
	if s := strings.Trim(b.String(), "._-"); s != "" {
		name += "-" + s
	}
	return name + "." + ext
}

// LoadZone loads the site's time zone as the API names it; "" means UTC.
func LoadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("usagegrid: unknown time zone %q", name)
	}
	return loc, nil
}
