package hub

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
	"golang.org/x/sync/errgroup"
)

// --- the customer portal (seed 001) ---

// What the portal says of a license's installations when the hub cannot
// count them: the license is not bound to a cluster (it was installed by
// hand, or the cluster is not activated), or its cluster has not reported
// usage yet. It says so rather than showing a 0 that reads like a fact.
const (
	clientsUnbound = "not activated"
	clientsUnknown = "no report yet"
)

var portalColumns = []column[licenseRow]{
	{Key: "product", Label: "Product", Text: func(l licenseRow) string { return l.Product }},
	{Key: "type", Label: "License type", Text: func(l licenseRow) string { return l.Type }},
	{Key: "usage", Label: "Usage", Text: func(l licenseRow) string {
		return fmt.Sprintf("quantity %d; %s", l.Quantity, strings.Join(l.Pools, "; "))
	}, Num: func(l licenseRow) int64 { return l.Quantity }},
	{Key: "clients", Label: "Clients", Text: func(l licenseRow) string { return l.Clients }},
	{Key: "in_use", Label: "Seats in use", Text: func(l licenseRow) string { return strings.Join(l.InUse, "; ") }, CSVOnly: true},
	{Key: "created", Label: "Created", Text: licenseRow.Issued, Num: func(l licenseRow) int64 { return l.IssuedMS }},
	{Key: "left", Label: "Days left", Text: licenseRow.Left, Num: licenseColumns[len(licenseColumns)-1].Num, Right: true},
	{Key: "status", Label: "Status", Text: func(l licenseRow) string { return l.Status }},
	{Key: "license", Label: "License", Text: func(l licenseRow) string { return l.ID }},
}

type portalView struct {
	Company       string
	Subscriptions subscriptionList
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
	// The licenses, what the clusters reported and the subscriptions are
	// independent reads: on their own connections at once, the page
	// waits for the slowest rather than for the three.
	all := r.URL.Query().Get("show") == "all"
	now := pg.s.clk.Now()
	var (
		lics []*licmeshv1.HubLicense
		use  map[string]clusterUse
		subs subscriptionList
		g    errgroup.Group
	)
	g.Go(func() (err error) {
		lics, err = pg.visibleLicenses(r, p, nil, licenseQuery{Company: string(p.Company), Current: !all})
		return err
	})
	g.Go(func() (err error) {
		use, err = pg.siteUse(r, p)
		return err
	})
	if !wantsCSV(r) {
		g.Go(func() (err error) {
			subs, err = pg.subscriptionBox(r, string(p.Company), uiPrefix+"/", now)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		pg.failed(w, r, p, err)
		return
	}
	names := map[string]string{string(p.Company): co.Msg.GetCompany().GetName()}
	v := portalView{Company: co.Msg.GetCompany().GetName(), All: all, Q: r.URL.Query().Get("q"), Subscriptions: subs}
	var rows []licenseRow
	for _, l := range lics {
		row := pg.licenseRowOf(l, names, now)
		row.Clients, row.InUse = clientsUnbound, nil
		if u, ok := use[row.ClusterID]; row.ClusterID != "" {
			row.Clients = clientsUnknown
			if ok {
				row.Clients, row.InUse = strconv.Itoa(u.installations), u.seats
			}
		}
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
	d := pg.data(w, r, p, "home", "Your licenses")
	d.Data = v
	pg.render(w, "portal", http.StatusOK, d)
}

// clusterUse is what one of the company's clusters last reported: how many
// installations, and each pool's seats in use.
type clusterUse struct {
	installations int
	seats         []string
}

// siteUse reads what the customer's clusters reported, by cluster.
func (pg *pages) siteUse(r *http.Request, p *principal) (map[string]clusterUse, error) {
	ctx, cancel := callCtx(r)
	defer cancel()
	out := map[string]clusterUse{}
	err := pg.s.store.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.ListInstallations(ctx, store.InstallationFilter{Company: p.Company})
		if err != nil {
			return err
		}
		for _, row := range rows {
			u := out[string(row.ClusterID)]
			u.installations++
			out[string(row.ClusterID)] = u
		}
		for cluster, u := range out {
			seats, err := tx.ListSeats(ctx, license.ClusterID(cluster))
			if err != nil {
				return err
			}
			for _, s := range seats {
				u.seats = append(u.seats, fmt.Sprintf("%s %d/%d (peak %d)", s.Pool, s.Held, s.Seats.Seats, s.Peak))
			}
			out[cluster] = u
		}
		return nil
	})
	return out, err
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
