package hub

// The grids and charts of the sales monitor's pages: stored months laid
// out by usagegrid (the masters' dashboard uses the same code), as the
// templates draw them and as Excel workbooks, and the users-and-cases
// chart.

import (
	"bytes"
	"html/template"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/licmesh/licmesh/licensing/usage/usagegrid"
	"github.com/licmesh/licmesh/node/hub/store"
)

// gridColumn, gridRow and gridCell are a usagegrid.Grid as the templates
// draw it (the "usagegrid" template of layout.html).
type gridColumn struct {
	Header, Title string
	Num           bool
}

type gridRow struct {
	Label, Href string
	// Sub is a second line under the label (an installation), linked to
	// SubHref.
	Sub, SubHref string
	Closed       bool
	Cells        []gridCell
}

type gridCell struct {
	Text  string
	Num   bool
	Class string
}

type gridView struct {
	ID      string
	Columns []gridColumn
	Rows    []gridRow
	Zone    string
	Empty   string
}

// rowLabel is how a page labels a grid row, which usagegrid labels with
// one text for every output.
type rowLabel struct {
	Label, Href, Sub, SubHref string
}

// viewOf shapes g for the page; label gives row i's label and links.
func viewOf(id string, g *usagegrid.Grid, empty string, label func(i int) rowLabel) gridView {
	v := gridView{ID: id, Zone: g.Zone.String(), Empty: empty}
	for _, c := range g.Columns {
		v.Columns = append(v.Columns, gridColumn{Header: c.Header, Title: c.Title, Num: c.Kind == usagegrid.Number})
	}
	for i, row := range g.Rows {
		l := label(i)
		gr := gridRow{Label: l.Label, Href: l.Href, Sub: l.Sub, SubHref: l.SubHref, Closed: row.Report.Closed}
		for j, c := range row.Cells[1:] {
			col := g.Columns[j+1]
			gr.Cells = append(gr.Cells, gridCell{Text: c.Text, Num: col.Kind == usagegrid.Number, Class: col.Class(c.Text)})
		}
		v.Rows = append(v.Rows, gr)
	}
	return v
}

// monthReport is a stored month as usagegrid lays months out, its bounds
// in the site's zone.
func monthReport(m store.UsageMonth, loc *time.Location) usage.Report {
	start, end := m.Month.Bounds(loc)
	return usage.Report{Installation: m.Installation, Key: m.Month, Label: m.Month.Label(), Start: start, End: end,
		Closed: m.Closed, ClosedAt: m.ClosedAt, Metrics: m.Metrics, Late: m.Late}
}

// taggedIndex reads back the index tagged onto a report's installation by
// historyGrid and subscriberGrid.
func taggedIndex(r usage.Report) int {
	s := string(r.Installation)
	i, _ := strconv.Atoi(s[strings.LastIndexByte(s, 0)+1:])
	return i
}

// historyGrid lays out months of one subject (an installation, or every
// installation of a company) newest first. It returns the months in the
// grid's row order, for the page's links. When several installations are
// in it, each row's label names its installation too, so the workbook's
// rows stay apart.
func historyGrid(subject string, months []store.UsageMonth, loc *time.Location) (*usagegrid.Grid, []store.UsageMonth) {
	reports := make([]usage.Report, len(months))
	insts := map[[2]string]bool{}
	for i, m := range months {
		reports[i] = monthReport(m, loc)
		// History sorts by month alone, stably: the installation field
		// is free to carry where the row came from.
		reports[i].Installation = usage.InstallationID("\x00" + strconv.Itoa(i))
		insts[[2]string{string(m.ClusterID), string(m.Installation)}] = true
	}
	g := usagegrid.History(usage.InstallationID(subject), reports, loc)
	order := make([]store.UsageMonth, len(g.Rows))
	labels := installationLabels(months)
	for j := range g.Rows {
		m := months[taggedIndex(g.Rows[j].Report)]
		order[j] = m
		g.Rows[j].Report.Installation = m.Installation
		if len(insts) > 1 {
			g.Rows[j].Cells[0].Text += " · " + labels[monthSite(m)]
		}
	}
	if len(insts) > 1 {
		g.Columns[0].Header, g.Columns[0].Title = "Month · installation", "Month and installation"
	}
	return g, order
}

// subscriberGrid lays out one month across companies: seed 004's
// "Subscriber metrics", its rows companies by name, then installations.
// usagegrid.Month orders rows by installation, so each report goes in
// under a key of company name, installation and place in months (which
// keeps keys apart); then the row takes the label people read. It returns
// the months in the grid's row order.
func subscriberGrid(k usage.MonthKey, months []store.UsageMonth) (*usagegrid.Grid, []store.UsageMonth) {
	reports := make([]usage.Report, len(months))
	for i, m := range months {
		reports[i] = monthReport(m, time.UTC)
		reports[i].Installation = usage.InstallationID(m.CompanyName + "\x00" + string(m.Installation) + "\x00" + strconv.Itoa(i))
	}
	// Sites keep their own zones; across companies, times are UTC.
	g := usagegrid.Month(k, reports, time.UTC)
	order := make([]store.UsageMonth, len(g.Rows))
	labels := installationLabels(months)
	for j := range g.Rows {
		m := months[taggedIndex(g.Rows[j].Report)]
		order[j] = m
		g.Rows[j].Report.Installation = m.Installation
		g.Rows[j].Cells[0].Text = m.CompanyName + " · " + labels[monthSite(m)]
	}
	g.Columns[0].Header, g.Columns[0].Title = "Subscriber", "Company and installation"
	return g, order
}

// monthSite keys an installation: its ID is only unique within its site.
func monthSite(m store.UsageMonth) [3]string {
	return [3]string{string(m.Company), string(m.ClusterID), string(m.Installation)}
}

// installationLabels names each installation of months by its ID, with its
// cluster when the company has that ID on more than one cluster.
func installationLabels(months []store.UsageMonth) map[[3]string]string {
	clusters := map[[2]string]map[license.ClusterID]bool{}
	for _, m := range months {
		k := [2]string{string(m.Company), string(m.Installation)}
		if clusters[k] == nil {
			clusters[k] = map[license.ClusterID]bool{}
		}
		clusters[k][m.ClusterID] = true
	}
	out := map[[3]string]string{}
	for _, m := range months {
		l := string(m.Installation)
		if len(clusters[[2]string{string(m.Company), string(m.Installation)}]) > 1 {
			l += " (" + string(m.ClusterID) + ")"
		}
		out[monthSite(m)] = l
	}
	return out
}

// usersAndCases charts the most users and cases of each month, oldest
// first, summed over the installations months holds: the counts a sales
// follow-up is about (seed 000).
func usersAndCases(title string, months []store.UsageMonth) template.HTML {
	var keys []usage.MonthKey
	users, cases := map[usage.MonthKey]int64{}, map[usage.MonthKey]int64{}
	for _, m := range months {
		if _, ok := users[m.Month]; !ok {
			keys = append(keys, m.Month)
		}
		users[m.Month] += m.Metrics.UserCountMax
		cases[m.Month] += m.Metrics.CaseCountMax
	}
	slices.SortFunc(keys, usage.MonthKey.Compare)
	c := lineChart{Title: title, Series: []lineSeries{{Name: "Users", Class: "users"}, {Name: "Cases", Class: "cases"}}}
	for _, k := range keys {
		c.Labels = append(c.Labels, k.Label())
		c.Series[0].Values = append(c.Series[0].Values, users[k])
		c.Series[1].Values = append(c.Series[1].Values, cases[k])
	}
	return c.SVG()
}

// wantsXLSX reports whether a grid page is asked for as a workbook.
func wantsXLSX(r *http.Request) bool { return r.URL.Query().Get("format") == "xlsx" }

// sendXLSX answers with g as an Excel workbook, as the dashboard's
// downloads do: built whole first, so a failure is a clean 500.
func (pg *pages) sendXLSX(w http.ResponseWriter, r *http.Request, p *principal, g *usagegrid.Grid) {
	var buf bytes.Buffer
	if err := g.WriteXLSX(&buf); err != nil {
		pg.s.log.Error("hub: pages: workbook", "path", r.URL.Path, "err", err)
		pg.refuse(w, r, p, http.StatusInternalServerError, "The workbook could not be made (the error is logged).")
		return
	}
	h := w.Header()
	h.Set("Content-Type", usagegrid.XLSXContentType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": g.FileName("xlsx")}))
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}
