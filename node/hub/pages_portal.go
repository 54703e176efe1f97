package hub

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// --- the customer portal (seed 001) ---

// clientsUnknown is what the portal says of a license's installations
// until masters report usage to the hub: the hub does not know yet, and
// says so rather than showing a 0 that reads like a fact.
const clientsUnknown = "unknown"

var portalColumns = []column[licenseRow]{
	{Key: "product", Label: "Product", Text: func(l licenseRow) string { return l.Product }},
	{Key: "type", Label: "License type", Text: func(l licenseRow) string { return l.Type }},
	{Key: "usage", Label: "Usage", Text: func(l licenseRow) string {
		return fmt.Sprintf("quantity %d; %s", l.Quantity, strings.Join(l.Pools, "; "))
	}, Num: func(l licenseRow) int64 { return l.Quantity }},
	{Key: "clients", Label: "Clients", Text: func(licenseRow) string { return clientsUnknown }},
	{Key: "created", Label: "Created", Text: licenseRow.Issued, Num: func(l licenseRow) int64 { return l.IssuedMS }},
	{Key: "left", Label: "Days left", Text: licenseRow.Left, Num: licenseColumns[len(licenseColumns)-1].Num, Right: true},
	{Key: "status", Label: "Status", Text: func(l licenseRow) string { return l.Status }},
	{Key: "license", Label: "License", Text: func(l licenseRow) string { return l.ID }},
}

type portalView struct {
	Company       string
	Subscriptions []subscriptionRow
	Licenses      []licenseRow
	List          listView
	All           bool
	Q             string
	Expired       int
}

// portal is a customer's dashboard: the company's subscriptions, and
// every license it owns, with its product, type, usage, clients, creation
// time and days left, and its file to download.
func (pg *pages) portal(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx, cancel := callCtx(r)
	defer cancel()
	co, err := pg.api.GetCompany(ctx, req(&licmeshv1.GetCompanyRequest{Id: string(p.Company), Summary: true}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	all := r.URL.Query().Get("show") == "all"
	lics, err := pg.visibleLicenses(r, p, nil, licenseQuery{Company: string(p.Company), Current: !all})
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	now := pg.s.clk.Now()
	names := map[string]string{string(p.Company): co.Msg.GetCompany().GetName()}
	v := portalView{Company: co.Msg.GetCompany().GetName(), All: all, Q: r.URL.Query().Get("q")}
	var rows []licenseRow
	for _, l := range lics {
		row := pg.licenseRowOf(l, names, now)
		if row.Status == "expired" {
			v.Expired++
		}
		rows = append(rows, row)
	}
	shown, lv, isCSV := csvOrList(w, r, "licenses", now, uiPrefix+"/", portalColumns, rows, "created", true)
	if isCSV {
		return
	}
	v.Licenses, v.List = shown, lv
	if v.Subscriptions, err = pg.subscriptionRows(r, string(p.Company), now); err != nil {
		pg.failed(w, r, p, err)
		return
	}
	d := pg.data(w, r, p, "home", "Your licenses")
	d.Data = v
	pg.render(w, "portal", http.StatusOK, d)
}

func (pg *pages) help(w http.ResponseWriter, r *http.Request, p *principal) {
	pg.render(w, "help", http.StatusOK, pg.data(w, r, p, "help", "Installing a license"))
}

// --- the staff overview ---

// bar is one bar of a server-side SVG chart.
type bar struct {
	X, Y, W, H int
	Class      string
	Title      string
}

// axisLabel is a label under the chart.
type axisLabel struct {
	X    int
	Text string
}

// chart is a stacked bar chart drawn on the server (no script).
type chart struct {
	Width, Height int
	Bars          []bar
	Labels        []axisLabel
	Max           int
	Summary       string
}

// issuedChart draws the licenses issued in each of the last 12 months,
// trials and paid ones stacked.
func issuedChart(lics []*licmeshv1.HubLicense, now time.Time) chart {
	const months, slot, barW, plotH = 12, 40, 28, 120
	c := chart{Width: months * slot, Height: plotH + 20}
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -(months - 1), 0)
	var trials, paid [months]int
	for _, l := range lics {
		at := fromMS(l.GetIssuedAtMs())
		i := (at.Year()-first.Year())*12 + int(at.Month()) - int(first.Month())
		if i < 0 || i >= months {
			continue
		}
		if l.GetType() == string(license.Trial) {
			trials[i]++
		} else {
			paid[i]++
		}
	}
	for i := range months {
		c.Max = max(c.Max, trials[i]+paid[i])
	}
	scale := func(n int) int {
		if c.Max == 0 {
			return 0
		}
		return n * plotH / c.Max
	}
	total := 0
	for i := range months {
		m := first.AddDate(0, i, 0)
		x := i*slot + (slot-barW)/2
		hp, ht := scale(paid[i]), scale(trials[i])
		label := m.Format("Jan 2006")
		if paid[i] > 0 {
			c.Bars = append(c.Bars, bar{X: x, Y: plotH - hp, W: barW, H: hp, Class: "paid", Title: fmt.Sprintf("%s: %d paid", label, paid[i])})
		}
		if trials[i] > 0 {
			c.Bars = append(c.Bars, bar{X: x, Y: plotH - hp - ht, W: barW, H: ht, Class: "trial", Title: fmt.Sprintf("%s: %d trials", label, trials[i])})
		}
		c.Labels = append(c.Labels, axisLabel{X: i*slot + slot/2, Text: m.Format("Jan")})
		total += trials[i] + paid[i]
	}
	noun := "licenses"
	if total == 1 {
		noun = "license"
	}
	c.Summary = fmt.Sprintf("%d %s issued from %s to %s", total, noun, first.Format("Jan 2006"), now.UTC().Format("Jan 2006"))
	return c
}

type overviewView struct {
	Companies, InForce, Trials, Soon, Expired int
	Chart                                     chart
	Attention                                 []licenseRow
}

// overview is the staff's (and a reseller's) first page: counts, the
// licenses issued by month, and the licenses that need attention (ending
// within soonDays, or ended).
func (pg *pages) overview(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx, cancel := callCtx(r)
	defer cancel()
	cs, err := pg.api.ListCompanies(ctx, req(&licmeshv1.ListCompaniesRequest{}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	lics, err := pg.visibleLicenses(r, p, cs.Msg.GetCompanies(), licenseQuery{})
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	names := map[string]string{}
	for _, c := range cs.Msg.GetCompanies() {
		names[c.GetId()] = c.GetName()
	}
	now := pg.s.clk.Now()
	v := overviewView{Companies: len(cs.Msg.GetCompanies()), Chart: issuedChart(lics, now)}
	for _, l := range lics {
		row := pg.licenseRowOf(l, names, now)
		switch row.Status {
		case "current":
			v.InForce++
			if row.Type == string(license.Trial) {
				v.Trials++
			}
			if row.Class == "soon" {
				v.Soon++
				v.Attention = append(v.Attention, row)
			}
		case "expired":
			v.Expired++
			v.Attention = append(v.Attention, row)
		}
	}
	slices.SortStableFunc(v.Attention, func(a, b licenseRow) int { return cmp.Compare(a.ExpiresMS, b.ExpiresMS) })
	d := pg.data(w, r, p, "home", "Overview")
	d.Data = v
	pg.render(w, "overview", http.StatusOK, d)
}
