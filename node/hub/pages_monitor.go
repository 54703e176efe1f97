package hub

import (
	"cmp"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/upstream"
	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/licmesh/licmesh/licensing/usage/usagegrid"
	"github.com/licmesh/licmesh/node/hub/store"
)

// The sales monitor (seed 000) and seed 004's metrics pages, over the usage
// customers' sites send the hub: every installation with its latest
// counts and flags; one installation's months, days, seats and credits;
// one month across every company; one company's months. They are read
// under the same scope as the sites API (siteScope): staff see every
// company, a reseller its customers, a customer its own company; what is
// outside the scope is "not found", as the API answers. The grids and
// their Excel downloads are usagegrid's, as on the masters' dashboard.

// monitorActs may read the monitor: the roles the sites API serves.
var monitorActs = []action{actRead, actReseller, actPortal}

// maxDaysShown bounds the days table of an installation: a quarter is what
// a sales follow-up looks at, and a site's whole life would be a long page.
const maxDaysShown = 92

// monitorRow is one line of the sales monitor.
type monitorRow struct {
	store.InstallationRow
	// Silent: no report for silentAfter.
	Silent bool
	// Href is the installation's page.
	Href string
}

// Flags names what needs a sales person's attention.
func (m monitorRow) Flags() string {
	var f []string
	if m.OverLimit {
		f = append(f, "over limit")
	}
	if m.Silent {
		f = append(f, "silent")
	}
	return strings.Join(f, ", ")
}

// LastReport is when the installation last reported, for the page.
func (m monitorRow) LastReport() string { return fmtTime(m.LastReportAt) }

// silentText says silentAfter in words.
func silentText() string { return fmt.Sprintf("%d days", int(silentAfter/(24*time.Hour))) }

// countText formats a count for a cell.
func countText(n int64) string { return strconv.FormatInt(n, 10) }

var monitorColumns = []column[monitorRow]{
	{Key: "company", Label: "Company", Text: func(m monitorRow) string { return m.CompanyName }},
	{Key: "installation", Label: "Installation", Text: func(m monitorRow) string { return string(m.Installation) }},
	{Key: "products", Label: "Products", Text: func(m monitorRow) string { return strings.Join(m.Products, ", ") }},
	{Key: "cluster", Label: "Cluster", Text: func(m monitorRow) string { return string(m.ClusterID) }},
	{Key: "month", Label: "Month", Text: func(m monitorRow) string { return m.Month }},
	{Key: "users", Label: "Users", Text: func(m monitorRow) string { return countText(m.Users) }, Num: func(m monitorRow) int64 { return m.Users }, Right: true},
	{Key: "users_max", Label: "Max users", Text: func(m monitorRow) string { return countText(m.UsersMax) }, Num: func(m monitorRow) int64 { return m.UsersMax }, Right: true},
	{Key: "cases", Label: "Cases", Text: func(m monitorRow) string { return countText(m.Cases) }, Num: func(m monitorRow) int64 { return m.Cases }, Right: true},
	{Key: "cases_max", Label: "Max cases", Text: func(m monitorRow) string { return countText(m.CasesMax) }, Num: func(m monitorRow) int64 { return m.CasesMax }, Right: true},
	{Key: "report", Label: "Last report", Text: monitorRow.LastReport, Num: func(m monitorRow) int64 { return ms(m.LastReportAt) }},
	{Key: "arrival", Label: "Arrival", Text: func(m monitorRow) string { return m.Arrival() }},
	{Key: "flags", Label: "Flags", Text: monitorRow.Flags},
	{Key: "company_id", Label: "Company ID", Text: func(m monitorRow) string { return string(m.Company) }, CSVOnly: true},
}

// companyOption is one entry of a company drop-down.
type companyOption struct {
	ID   store.CompanyID
	Name string
}

type monitorView struct {
	Rows      []monitorRow
	List      listView
	Companies []companyOption // the filter's; none for a customer
	Company   string
	Flagged   bool
	Q         string
	// Over the whole scope, before the filters.
	Total, OverLimit, Silent int
	SilentAfter              string
}

// installationHref is an installation's page. The installation ID may
// hold any printable character, '/' included, so it is escaped as one
// segment; the route takes the rest of the path.
func installationHref(cluster license.ClusterID, inst usage.InstallationID) string {
	return uiPrefix + "/monitor/" + url.PathEscape(string(cluster)) + "/" + url.PathEscape(string(inst))
}

// companyMonitorHref is a company's metrics history.
func companyMonitorHref(id store.CompanyID) string {
	return uiPrefix + "/monitor/company/" + url.PathEscape(string(id))
}

// monitorPage is the sales monitor: every installation in scope from one
// query, filtered, sorted and paged in memory as every list is, or all of
// it as CSV.
func (pg *pages) monitorPage(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx, cancel := callCtx(r)
	defer cancel()
	if _, _, err := who(ctx, monitorActs...); err != nil {
		pg.failed(w, r, p, err)
		return
	}
	q := r.URL.Query()
	company := q.Get("company")
	var rows []store.InstallationRow
	err := pg.s.store.Read(ctx, func(tx *store.Tx) error {
		if company != "" {
			// A company outside the scope is not found, not an empty list.
			if _, _, err := siteScope(ctx, tx, p, company); err != nil {
				return err
			}
		}
		c, rs, err := siteScope(ctx, tx, p, "")
		if err != nil {
			return err
		}
		rows, err = tx.ListInstallations(ctx, store.InstallationFilter{Company: c, Reseller: rs})
		return err
	})
	if err != nil {
		pg.failed(w, r, p, pg.api.fail("monitor", err))
		return
	}
	now := pg.s.clk.Now()
	v := monitorView{Company: company, Flagged: q.Get("flagged") != "", Q: q.Get("q"), SilentAfter: silentText()}
	all := make([]monitorRow, 0, len(rows))
	seen := map[store.CompanyID]bool{}
	for _, x := range rows {
		m := monitorRow{InstallationRow: x, Silent: now.Sub(x.LastReportAt) > silentAfter, Href: installationHref(x.ClusterID, x.Installation)}
		v.Total++
		if m.OverLimit {
			v.OverLimit++
		}
		if m.Silent {
			v.Silent++
		}
		if !seen[x.Company] {
			seen[x.Company] = true
			v.Companies = append(v.Companies, companyOption{ID: x.Company, Name: x.CompanyName})
		}
		if (company == "" || string(x.Company) == company) && (!v.Flagged || m.OverLimit || m.Silent) {
			all = append(all, m)
		}
	}
	if p.Role == store.RoleCustomer {
		v.Companies = nil
	}
	shown, lv, isCSV := csvOrList(w, r, "usage-monitor", now, uiPrefix+"/monitor", monitorColumns, all, "company", false)
	if isCSV {
		return
	}
	v.Rows, v.List = shown, lv
	d := pg.data(w, r, p, "monitor", "Usage monitor")
	d.Data = v
	pg.render(w, "monitor", http.StatusOK, d)
}

// --- grids ---

// siteZone is a site's time zone, UTC when the hub does not know the name
// the site sent (its months are still shown, in UTC).
func siteZone(name string) *time.Location {
	loc, err := usagegrid.LoadZone(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// --- one installation ---

type dayCell struct {
	Text, Title string
}

type dayRow struct {
	Day     string
	Samples uint64
	Cells   []dayCell
}

type daysView struct {
	Names        []string
	Rows         []dayRow
	Shown, Total int
}

// daysOf lays out the newest days (newest first, as stored) with one
// column per scalar any of them has; a cell is the day's last value.
func daysOf(days []usage.DayStats) daysView {
	v := daysView{Total: len(days)}
	days = days[:min(len(days), maxDaysShown)]
	v.Shown = len(days)
	seen := map[string]bool{}
	for _, d := range days {
		for _, s := range d.Scalars {
			if !seen[s.Name] {
				seen[s.Name] = true
				v.Names = append(v.Names, s.Name)
			}
		}
	}
	slices.Sort(v.Names)
	for _, d := range days {
		row := dayRow{Day: d.Day.String(), Samples: d.Samples, Cells: make([]dayCell, len(v.Names))}
		for _, s := range d.Scalars {
			i, _ := slices.BinarySearch(v.Names, s.Name)
			row.Cells[i] = dayCell{Text: countText(s.Last),
				Title: fmt.Sprintf("min %d, max %d; last at %s UTC", s.Min, s.Max, fmtTime(s.LastAt))}
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

type seatRow struct {
	store.SeatRow
	Over        bool
	LastOverage string
}

type creditRow struct {
	upstream.Credit
	Left int64
}

type installationView struct {
	Site         store.Site
	Company      store.Company
	Installation usage.InstallationID
	LastReport   string
	Silent       bool
	SilentAfter  string
	OverLimit    bool
	Grid         gridView
	Chart        template.HTML
	Download     string
	Days         daysView
	Seats        []seatRow
	Credits      []creditRow
}

// installationData is what the installation page reads, in one
// transaction.
type installationData struct {
	site    store.Site
	company store.Company
	months  []store.UsageMonth
	days    []usage.DayStats
	seats   []store.SeatRow
	credits []upstream.Credit
}

// errNoUsage is an installation the hub has no month of.
var errNoUsage = errors.New("no usage is on record")

// loadInstallation reads one installation if p may see its site; a site
// of another company is not found, as the sites API answers.
func (pg *pages) loadInstallation(r *http.Request, p *principal, cluster license.ClusterID, inst usage.InstallationID) (installationData, error) {
	ctx, cancel := callCtx(r)
	defer cancel()
	var d installationData
	err := pg.s.store.Read(ctx, func(tx *store.Tx) error {
		var err error
		if d.site, err = tx.Site(ctx, cluster); err != nil {
			return err
		}
		if d.company, err = companyFor(ctx, tx, p, d.site.Company); err != nil {
			return err
		}
		if d.months, err = tx.ListMonths(ctx, store.MonthFilter{Cluster: cluster, Installation: inst}); err != nil {
			return err
		}
		if len(d.months) == 0 {
			return fmt.Errorf("%w: %w for installation %q of cluster %s", store.ErrNotFound, errNoUsage, inst, cluster)
		}
		if d.days, err = tx.ListDays(ctx, cluster, inst); err != nil {
			return err
		}
		if d.seats, err = tx.ListSeats(ctx, cluster); err != nil {
			return err
		}
		d.credits, err = tx.ListCredits(ctx, cluster)
		return err
	})
	return d, err
}

func (pg *pages) installationPage(w http.ResponseWriter, r *http.Request, p *principal) {
	pg.showInstallation(w, r, p, license.ClusterID(r.PathValue("cluster")), usage.InstallationID(r.PathValue("installation")))
}

// showInstallation is one installation's page: its metrics history (seed
// 004) with the workbook and a chart of users and cases, its days, and its
// site's seats and credits.
func (pg *pages) showInstallation(w http.ResponseWriter, r *http.Request, p *principal, cluster license.ClusterID, inst usage.InstallationID) {
	if _, _, err := who(r.Context(), monitorActs...); err != nil {
		pg.failed(w, r, p, err)
		return
	}
	data, err := pg.loadInstallation(r, p, cluster, inst)
	if err != nil {
		pg.failed(w, r, p, pg.api.fail("monitor installation", err))
		return
	}
	loc := siteZone(data.site.Zone)
	g, _ := historyGrid(string(inst), data.months, loc)
	if wantsXLSX(r) {
		pg.sendXLSX(w, r, p, g)
		return
	}
	v := installationView{Site: data.site, Company: data.company, Installation: inst, Download: installationHref(cluster, inst) + "?format=xlsx", Days: daysOf(data.days),
		Grid:  viewOf("history", g, "", func(i int) rowLabel { return rowLabel{Label: g.Rows[i].Report.Key.Label()} }),
		Chart: usersAndCases(fmt.Sprintf("Users and cases of %s (%s), the most in each month", inst, data.company.Name), data.months)}
	var last time.Time
	for _, m := range data.months {
		if m.ReceivedAt.After(last) {
			last = m.ReceivedAt
		}
	}
	v.LastReport, v.Silent, v.SilentAfter = fmtTime(last), pg.s.clk.Now().Sub(last) > silentAfter, silentText()
	for _, s := range data.seats {
		row := seatRow{SeatRow: s, Over: s.Peak > s.Seats.Seats || s.OverageGrants > 0, LastOverage: fmtTime(s.LastOverageAt)}
		v.OverLimit = v.OverLimit || row.Over
		v.Seats = append(v.Seats, row)
	}
	for _, c := range data.credits {
		v.Credits = append(v.Credits, creditRow{Credit: c, Left: c.Bought - c.Consumed})
	}
	d := pg.data(w, r, p, "monitor", usagegrid.HistoryTitle+" · "+string(inst))
	d.Data = v
	pg.render(w, "monitorinst", http.StatusOK, d)
}

// --- one month across companies ---

type monthOption struct {
	Value, Label string
	Selected     bool
}

type subscriberView struct {
	Months   []monthOption
	Month    string
	Grid     gridView
	Download string
}

// subscribersPage is seed 004's "Subscriber metrics": one month (by
// default the newest on record) for every company in scope, by name.
func (pg *pages) subscribersPage(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx, cancel := callCtx(r)
	defer cancel()
	if _, _, err := who(ctx, monitorActs...); err != nil {
		pg.failed(w, r, p, err)
		return
	}
	var key usage.MonthKey
	if s := r.URL.Query().Get("month"); s != "" {
		k, err := usage.ParseMonthKey(s)
		if err != nil {
			pg.refuse(w, r, p, http.StatusBadRequest, "month: "+message(err)+"; choose a month in the list.")
			return
		}
		key = k
	}
	var months []string
	var rows []store.UsageMonth
	err := pg.s.store.Read(ctx, func(tx *store.Tx) error {
		c, rs, err := siteScope(ctx, tx, p, "")
		if err != nil {
			return err
		}
		if c == "" && rs == "" {
			if months, err = tx.UsageMonths(ctx); err != nil {
				return err
			}
		} else {
			// Months on record elsewhere are not the scope's to know of.
			all, err := tx.ListMonths(ctx, store.MonthFilter{Company: c, Reseller: rs})
			if err != nil {
				return err
			}
			for _, m := range all {
				if s := m.Month.String(); len(months) == 0 || months[len(months)-1] != s {
					months = append(months, s)
				}
			}
		}
		if !key.Valid() {
			if len(months) == 0 {
				return nil
			}
			if key, err = usage.ParseMonthKey(months[0]); err != nil {
				return err
			}
		}
		rows, err = tx.ListMonths(ctx, store.MonthFilter{Company: c, Reseller: rs, Month: key.String()})
		return err
	})
	if err != nil {
		pg.failed(w, r, p, pg.api.fail("monitor grid", err))
		return
	}
	v := subscriberView{Grid: gridView{ID: "subscribers", Empty: "No usage has been reported yet."}}
	if key.Valid() {
		// A month with no usage may still be asked for; the drop-down
		// shows it rather than silently the first month.
		if !slices.Contains(months, key.String()) {
			months = append(months, key.String())
			slices.SortFunc(months, func(a, b string) int { return strings.Compare(b, a) })
		}
		g, order := subscriberGrid(key, rows)
		if wantsXLSX(r) {
			pg.sendXLSX(w, r, p, g)
			return
		}
		labels := installationLabels(order)
		v.Month = key.String()
		v.Download = uiPrefix + "/monitor/grid?" + url.Values{"month": {key.String()}, "format": {"xlsx"}}.Encode()
		v.Grid = viewOf("subscribers", g, "No installation reported usage in "+key.Label()+".", func(i int) rowLabel {
			m := order[i]
			return rowLabel{Label: m.CompanyName, Href: companyMonitorHref(m.Company),
				Sub: labels[monthSite(m)], SubHref: installationHref(m.ClusterID, m.Installation)}
		})
	} else if wantsXLSX(r) {
		pg.refuse(w, r, p, http.StatusNotFound, "No usage has been reported yet: there is no month to download.")
		return
	}
	for _, m := range months {
		k, err := usage.ParseMonthKey(m)
		if err != nil {
			continue
		}
		v.Months = append(v.Months, monthOption{Value: m, Label: k.Label(), Selected: k == key})
	}
	d := pg.data(w, r, p, "monitor", usagegrid.MonthTitle)
	d.Data = v
	pg.render(w, "monitorgrid", http.StatusOK, d)
}

// --- one company ---

type companyInstallation struct {
	Label, Href string
}

type companyMonitorView struct {
	Company       store.Company
	Installations []companyInstallation
	Grid          gridView
	Chart         template.HTML
	Download      string
}

// loadCompanyMonths reads a company p may see (the same check as
// siteScope's for a company asked for), its months, newest first, and its
// sites, for their zones.
func (pg *pages) loadCompanyMonths(r *http.Request, p *principal, id store.CompanyID) (store.Company, []store.UsageMonth, []store.Site, error) {
	ctx, cancel := callCtx(r)
	defer cancel()
	var c store.Company
	var months []store.UsageMonth
	var sites []store.Site
	err := pg.s.store.Read(ctx, func(tx *store.Tx) error {
		var err error
		if c, err = companyFor(ctx, tx, p, id); err != nil {
			return err
		}
		if months, err = tx.ListMonths(ctx, store.MonthFilter{Company: c.ID}); err != nil {
			return err
		}
		sites, err = tx.ListSites(ctx, c.ID, "")
		return err
	})
	return c, months, sites, err
}

// commonZone is the zone a company's months are shown in: its sites' zone
// if they share one, else UTC.
func commonZone(sites []store.Site) *time.Location {
	if len(sites) == 0 || slices.ContainsFunc(sites, func(s store.Site) bool { return s.Zone != sites[0].Zone }) {
		return time.UTC
	}
	return siteZone(sites[0].Zone)
}

// companyMonitorPage is seed 004's "Metrics history" of one subscriber:
// every month of every installation of the company, newest first, with
// the workbook and a chart of its users and cases.
func (pg *pages) companyMonitorPage(w http.ResponseWriter, r *http.Request, p *principal) {
	id := store.CompanyID(r.PathValue("id"))
	if !id.Valid() {
		// Not a company ID: the installation page of a cluster named
		// "company", which this route would otherwise hide.
		pg.showInstallation(w, r, p, "company", usage.InstallationID(r.PathValue("id")))
		return
	}
	if _, _, err := who(r.Context(), monitorActs...); err != nil {
		pg.failed(w, r, p, err)
		return
	}
	c, months, sites, err := pg.loadCompanyMonths(r, p, id)
	if err != nil {
		pg.failed(w, r, p, pg.api.fail("monitor company", err))
		return
	}
	g, order := historyGrid(c.Name, months, commonZone(sites))
	if wantsXLSX(r) {
		if len(months) == 0 {
			pg.refuse(w, r, p, http.StatusNotFound, c.Name+" has reported no usage yet: there is nothing to download.")
			return
		}
		pg.sendXLSX(w, r, p, g)
		return
	}
	labels := installationLabels(months)
	v := companyMonitorView{Company: c, Chart: usersAndCases(fmt.Sprintf("Users and cases of %s, the most in each month", c.Name), months)}
	if len(months) > 0 {
		v.Download = companyMonitorHref(c.ID) + "?format=xlsx"
	}
	seen := map[[3]string]bool{}
	for _, m := range months {
		if k := monthSite(m); !seen[k] {
			seen[k] = true
			v.Installations = append(v.Installations, companyInstallation{Label: labels[k], Href: installationHref(m.ClusterID, m.Installation)})
		}
	}
	v.Grid = viewOf("history", g, c.Name+" has reported no usage yet.", func(i int) rowLabel {
		l := rowLabel{Label: order[i].Month.Label()}
		if len(v.Installations) > 1 {
			l.Sub, l.SubHref = labels[monthSite(order[i])], installationHref(order[i].ClusterID, order[i].Installation)
		}
		return l
	})
	d := pg.data(w, r, p, "monitor", usagegrid.HistoryTitle+" · "+c.Name)
	d.Data = v
	pg.render(w, "monitorcompany", http.StatusOK, d)
}

// --- the company page's Metrics box ---

type metricItem struct {
	Label, Value string
}

// metricsBox is seed 004's "Metrics" box of a subscriber's page: every
// metric of one installation's latest month.
type metricsBox struct {
	Installation string
	Href         string
	Month        string
	Closed       bool
	Zone         string
	Items        []metricItem
}

// companyMetrics returns the Metrics box of each of a company's
// installations, from its latest month.
func (pg *pages) companyMetrics(r *http.Request, p *principal, id string) ([]metricsBox, error) {
	_, months, sites, err := pg.loadCompanyMonths(r, p, store.CompanyID(id))
	if err != nil {
		return nil, err
	}
	zones := map[license.ClusterID]string{}
	for _, s := range sites {
		zones[s.ClusterID] = s.Zone
	}
	labels := installationLabels(months)
	seen := map[[3]string]bool{}
	var out []metricsBox
	for _, m := range months { // newest first: an installation's first is its latest
		k := monthSite(m)
		if seen[k] {
			continue
		}
		seen[k] = true
		loc := siteZone(zones[m.ClusterID])
		b := metricsBox{Installation: labels[k], Href: installationHref(m.ClusterID, m.Installation), Month: m.Month.Label(), Closed: m.Closed, Zone: loc.String()}
		for _, l := range usage.Labels() {
			b.Items = append(b.Items, metricItem{Label: l.Long, Value: cmp.Or(m.Metrics.Value(l.Metric, loc), "—")})
		}
		out = append(out, b)
	}
	return out, nil
}
