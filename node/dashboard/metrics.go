package dashboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/licmesh/licmesh/licensing/usage/usagegrid"
	"github.com/licmesh/licmesh/mesh/usagewire"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// Seed 004's two metrics pages: "Subscriber metrics" (one month's
// installations, with a drop-down of months) and "Metrics history" (one
// installation's months). Each offers its grid as an Excel download built by
// usagegrid from the same rows the page shows.

// errNoUsage means no month has any usage yet, so there is no month to show.
var errNoUsage = errors.New("no usage has been reported yet")

// metricsView is either metrics page.
type metricsView struct {
	// Months is the month drop-down, newest first; nil on the history page.
	Months []monthOption
	// Installation is the history page's installation.
	Installation string
	Fragment     string // the live block's refresh URL
	Download     string // the workbook's URL; "" when there is nothing to download
	Zone         string
	Columns      []metricsColumn
	Rows         []metricsRow
	Empty        string // shown when there are no rows
}

type monthOption struct {
	Value    string // "2008-01"
	Label    string // "Jan 2008"
	Selected bool
}

type metricsColumn struct {
	Header string // seed 004's short label
	Title  string // the long label, as a tooltip
	Num    bool
}

type metricsRow struct {
	Label  string
	Link   string // the installation's history, on the month page
	Closed bool
	Cells  []metricsCell
}

type metricsCell struct {
	Text  string
	Num   bool
	Class string
}

// monthPage is what the Subscriber metrics page and its download share.
type monthPage struct {
	key    usage.MonthKey
	months []string        // on record, newest first, the one shown included
	grid   *usagegrid.Grid // nil when no month has any usage yet
}

// loadMonth reads the month asked for (?month=YYYY-MM, by default the newest
// on record) and the months for the drop-down.
func loadMonth(ctx context.Context, h *Handler, r *http.Request) (monthPage, int, error) {
	var p monthPage
	ov, err := h.cfg.Source.UsageOverview(ctx)
	if err != nil {
		return p, http.StatusServiceUnavailable, fmt.Errorf("could not load the months on record: %w", err)
	}
	for _, m := range ov.GetMonths() {
		if _, err := usagewire.ParseMonth(m); err == nil {
			p.months = append(p.months, m)
		}
	}
	q := r.URL.Query().Get("month")
	if q == "" {
		if len(p.months) == 0 {
			return p, http.StatusOK, nil
		}
		q = p.months[0]
	}
	k, err := usagewire.ParseMonth(q)
	if err != nil {
		return p, http.StatusBadRequest, err
	}
	p.key = k
	// A month with no data yet is still a month one may ask for; the
	// drop-down must show it, not silently the first option.
	if !slices.Contains(p.months, k.String()) {
		p.months = append(p.months, k.String())
		slices.SortFunc(p.months, func(a, b string) int { return strings.Compare(b, a) })
	}
	resp, err := h.cfg.Source.UsageMonth(ctx, k.String())
	if err != nil {
		return p, http.StatusServiceUnavailable, fmt.Errorf("could not load the metrics of %s: %w", k.Label(), err)
	}
	reports, loc, err := reportsFromWire(resp.GetReports(), resp.GetTimeZone())
	if err != nil {
		return p, http.StatusServiceUnavailable, fmt.Errorf("could not read the metrics of %s: %w", k.Label(), err)
	}
	p.grid = usagegrid.Month(k, reports, loc)
	return p, http.StatusOK, nil
}

// loadHistory reads the installation asked for (?installation=ID).
func loadHistory(ctx context.Context, h *Handler, r *http.Request) (string, *usagegrid.Grid, int, error) {
	inst := r.URL.Query().Get("installation")
	if err := usage.InstallationID(inst).Validate(); err != nil {
		return inst, nil, http.StatusBadRequest, fmt.Errorf("cannot show installation %q: %w", inst, err)
	}
	resp, err := h.cfg.Source.UsageHistory(ctx, inst)
	if err != nil {
		return inst, nil, http.StatusServiceUnavailable, fmt.Errorf("could not load the metrics history of %q: %w", inst, err)
	}
	reports, loc, err := reportsFromWire(resp.GetReports(), resp.GetTimeZone())
	if err != nil {
		return inst, nil, http.StatusServiceUnavailable, fmt.Errorf("could not read the metrics history of %q: %w", inst, err)
	}
	if len(reports) == 0 {
		return inst, nil, http.StatusNotFound, fmt.Errorf("no usage is on record for installation %q", inst)
	}
	return inst, usagegrid.History(usage.InstallationID(inst), reports, loc), http.StatusOK, nil
}

func reportsFromWire(rs []*licmeshv1.UsageReport, zone string) ([]usage.Report, *time.Location, error) {
	loc, err := usagegrid.LoadZone(zone)
	if err != nil {
		return nil, nil, err
	}
	out := make([]usage.Report, 0, len(rs))
	for _, r := range rs {
		rep, err := usagewire.ReportFromWire(r)
		if err != nil {
			return nil, nil, fmt.Errorf("installation %q: %w", r.GetInstallation(), err)
		}
		out = append(out, rep)
	}
	return out, loc, nil
}

func loadMonthMetrics(ctx context.Context, h *Handler, r *http.Request) (string, any, int, error) {
	p, status, err := loadMonth(ctx, h, r)
	v := metricsView{Fragment: h.cfg.Prefix + "/fragments/metrics", Empty: "No installation reported usage in this month."}
	if p.key.Valid() {
		// Polling keeps to the month shown even when a new one starts.
		q := "?" + url.Values{"month": {p.key.String()}}.Encode()
		v.Fragment += q
		v.Download = h.cfg.Prefix + "/metrics.xlsx" + q
	}
	for _, m := range p.months {
		k, _ := usagewire.ParseMonth(m)
		v.Months = append(v.Months, monthOption{Value: m, Label: k.Label(), Selected: k == p.key})
	}
	switch {
	case err != nil:
		v.Download = ""
		return usagegrid.MonthTitle, v, status, err
	case p.grid == nil:
		v.Empty = "No usage has been reported yet."
		return usagegrid.MonthTitle, v, status, nil
	}
	h.fillGrid(&v, p.grid, func(r usage.Report) string { return h.historyLink(string(r.Installation)) })
	return usagegrid.MonthTitle, v, status, nil
}

func loadHistoryMetrics(ctx context.Context, h *Handler, r *http.Request) (string, any, int, error) {
	inst, g, status, err := loadHistory(ctx, h, r)
	q := "?" + url.Values{"installation": {inst}}.Encode()
	v := metricsView{Installation: inst, Fragment: h.cfg.Prefix + "/fragments/metrics/history" + q}
	if err != nil {
		return usagegrid.HistoryTitle, v, status, err
	}
	v.Download = h.cfg.Prefix + "/metrics/history.xlsx" + q
	h.fillGrid(&v, g, nil)
	return usagegrid.HistoryTitle, v, status, nil
}

// historyLink is the Metrics history page of an installation.
func (h *Handler) historyLink(inst string) string {
	return h.cfg.Prefix + "/metrics/history?" + url.Values{"installation": {inst}}.Encode()
}

// fillGrid shapes g's columns and rows for the page; link, if not nil,
// makes each row's label a link.
func (h *Handler) fillGrid(v *metricsView, g *usagegrid.Grid, link func(usage.Report) string) {
	v.Zone = g.Zone.String()
	for _, c := range g.Columns {
		v.Columns = append(v.Columns, metricsColumn{Header: c.Header, Title: c.Title, Num: c.Kind == usagegrid.Number})
	}
	for _, row := range g.Rows {
		mr := metricsRow{Label: row.Cells[0].Text, Closed: row.Report.Closed}
		if link != nil {
			mr.Link = link(row.Report)
		}
		for i, c := range row.Cells[1:] {
			col := g.Columns[i+1]
			mr.Cells = append(mr.Cells, metricsCell{Text: c.Text, Num: col.Kind == usagegrid.Number, Class: col.Class(c.Text)})
		}
		v.Rows = append(v.Rows, mr)
	}
}

// monthGrid is the Subscriber metrics page's grid, for its download.
func monthGrid(ctx context.Context, h *Handler, r *http.Request) (*usagegrid.Grid, int, error) {
	p, status, err := loadMonth(ctx, h, r)
	if err == nil && p.grid == nil {
		return nil, http.StatusNotFound, errNoUsage
	}
	return p.grid, status, err
}

// historyGrid is the Metrics history page's grid, for its download.
func historyGrid(ctx context.Context, h *Handler, r *http.Request) (*usagegrid.Grid, int, error) {
	_, g, status, err := loadHistory(ctx, h, r)
	return g, status, err
}

// download serves a grid as an Excel workbook, or as CSV, to signed-in
// browsers only, like the pages it comes from.
func (h *Handler) download(build func(context.Context, *Handler, *http.Request) (*usagegrid.Grid, int, error), asCSV ...bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := h.signedIn(w, r, false)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(WithPrincipal(r.Context(), s.Principal), sourceTimeout)
		defer cancel()
		g, status, err := build(ctx, h, r)
		if err != nil {
			h.cfg.Logger.Warn("dashboard: download failed", "path", r.URL.Path, "err", err)
			http.Error(w, "dashboard: "+err.Error(), status)
			return
		}
		var buf bytes.Buffer
		write, ctype, ext := g.WriteXLSX, usagegrid.XLSXContentType, "xlsx"
		if len(asCSV) > 0 && asCSV[0] {
			write, ctype, ext = g.WriteCSV, "text/csv; charset=utf-8", "csv"
		}
		if err := write(&buf); err != nil {
			h.cfg.Logger.Error("dashboard: download failed", "path", r.URL.Path, "err", err)
			http.Error(w, "dashboard: the file could not be made", http.StatusInternalServerError)
			return
		}
		hd := w.Header()
		hd.Set("Content-Type", ctype)
		hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": g.FileName(ext)}))
		hd.Set("Content-Length", strconv.Itoa(buf.Len()))
		hd.Set("Cache-Control", "no-store")
		w.Write(buf.Bytes())
	})
}
