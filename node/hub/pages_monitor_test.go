package hub

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/upstream"
	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/licmesh/licmesh/licensing/usage/usagegrid"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// seedSite registers cluster for company through the store, as activation
// would.
func (h *testHub) seedSite(t testing.TB, cluster license.ClusterID, company string, zone string, products ...string) {
	t.Helper()
	now := h.clk.Now()
	err := h.s.store.Tx(t.Context(), func(tx *store.Tx) error {
		return tx.PutSite(t.Context(), store.Site{ClusterID: cluster, Company: store.CompanyID(company), PublicKey: []byte("key-" + cluster),
			Products: products, RegisteredAt: now, LastContactAt: now, Zone: zone})
	})
	require.NoError(t, err, "register %s", cluster)
}

// seedUsage stores b as the next batch of its cluster's chain, received
// via "online" or "file" at the hub's clock, as ingest does after checking
// its signature.
func (h *testHub) seedUsage(t testing.TB, via string, b upstream.Batch) {
	t.Helper()
	ctx, now := t.Context(), h.clk.Now()
	err := h.s.store.Tx(ctx, func(tx *store.Tx) error {
		site, err := tx.Site(ctx, b.ClusterID)
		if err != nil {
			return err
		}
		b.Format, b.Seq, b.Prev, b.CreatedAt = upstream.BatchFormat, site.ChainSeq+1, site.ChainHash, now
		if b.Zone == "" {
			b.Zone = site.Zone
		}
		if err := tx.AppendBatch(ctx, &b, fmt.Sprintf("%064x", b.Seq), via, now); err != nil {
			return err
		}
		return tx.TouchSite(ctx, b.ClusterID, via, now)
	})
	require.NoError(t, err, "batch of %s", b.ClusterID)
}

// seedMonth is one installation's month with users and cases (seed 000) and a
// few of seed 004's metrics derived from them, so a column mix-up shows.
func seedMonth(inst, key string, closed bool, users, cases int64) upstream.Month {
	k, err := usage.ParseMonthKey(key)
	if err != nil {
		panic(err)
	}
	return upstream.Month{Installation: usage.InstallationID(inst), Month: k, Closed: closed, Metrics: usage.Metrics{
		Super: 1, EnStaff: users - 1, AcStaff: users - 2, ConcMax: users / 2,
		ConcWhen:        time.Date(k.Year, k.Month, 3, 14, 30, 0, 0, time.UTC),
		UserCountLatest: users, UserCountMax: users + 1, CaseCountLatest: cases, CaseCountMax: cases + 10,
	}}
}

// monitorWorld is newPageWorld with usage from three companies' sites:
//   - acme (Partner One's; the customer's company): cluster acme-prod,
//     installation "prod/eu", Sep to Nov 2026, online, a pool over its
//     seats, a credit;
//   - globex (Partner Two's): cluster globex-1, installation "main", Oct
//     and Nov 2026, by file;
//   - initech (direct): an installation named like a spreadsheet formula,
//     Oct 2026 only, last heard from ten days ago (silent).
type monitorWorld struct {
	*pageWorld
}

const acmeInst = "prod/eu"

var formulaInst = `=HYPERLINK("http://evil.example","x")`

func newMonitorWorld(t *testing.T) *monitorWorld {
	t.Helper()
	w := &monitorWorld{newPageWorld(t)}
	now := w.clk.Now()
	w.clk.Set(now.Add(-10 * 24 * time.Hour))
	w.seedSite(t, "initech-x", w.coD, "UTC", "timesheet-admin")
	w.seedUsage(t, "online", upstream.Batch{ClusterID: "initech-x", Months: []upstream.Month{seedMonth(formulaInst, "2026-10", false, 5, 50)}})
	w.clk.Set(now)

	w.seedSite(t, "acme-prod", w.co1, "Europe/Paris", "timesheet-admin", "reports")
	w.seedUsage(t, "online", upstream.Batch{ClusterID: "acme-prod", Months: []upstream.Month{
		seedMonth(acmeInst, "2026-09", true, 10, 100), seedMonth(acmeInst, "2026-10", true, 12, 150),
	}})
	nov := seedMonth(acmeInst, "2026-11", false, 14, 170)
	w.seedUsage(t, "online", upstream.Batch{ClusterID: "acme-prod", Months: []upstream.Month{nov},
		Days: []upstream.Day{
			{Installation: acmeInst, DayStats: usage.DayStats{Day: usage.DayKey{Year: 2026, Month: 11, Day: 1}, Samples: 24,
				Scalars: []usage.ScalarStats{{Name: "cases", Min: 160, Max: 170, Sum: 3900, Last: 170, LastAt: now.Add(-9 * time.Hour)}}}},
			{Installation: acmeInst, DayStats: usage.DayStats{Day: usage.DayKey{Year: 2026, Month: 10, Day: 31}, Samples: 24,
				Scalars: []usage.ScalarStats{{Name: "users", Min: 12, Max: 13, Sum: 300, Last: 13, LastAt: now.Add(-33 * time.Hour)}}}},
		},
		Seats:   []upstream.Seats{{Pool: "orektic__timehseetAdminUser", Seats: 10, Held: 11, Peak: 12, OverageGrants: 2, LastOverageAt: now.Add(-time.Hour)}},
		Credits: []upstream.Credit{{License: license.LicenseID(w.lic1), Unit: "case", Bought: 1000, Consumed: 1200}},
	})

	w.seedSite(t, "globex-1", w.co2, "UTC", "timesheet-admin")
	w.seedUsage(t, "file", upstream.Batch{ClusterID: "globex-1", Months: []upstream.Month{
		seedMonth("main", "2026-10", true, 30, 300), seedMonth("main", "2026-11", false, 31, 320),
	}})
	return w
}

// tableRows returns the text of each body row of the table with id, its
// cells joined by "|", tags stripped.
func tableRows(t *testing.T, body, id string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<table[^>]*id="` + regexp.QuoteMeta(id) + `"[^>]*>.*?<tbody>(.*?)</tbody>`).FindStringSubmatch(body)
	require.NotNil(t, m, "the page has table #%s", id)
	var out []string
	for _, tr := range regexp.MustCompile(`(?s)<tr[^>]*>(.*?)</tr>`).FindAllStringSubmatch(m[1], -1) {
		var cells []string
		for _, td := range regexp.MustCompile(`(?s)<t[dh][^>]*>(.*?)</t[dh]>`).FindAllStringSubmatch(tr[1], -1) {
			cells = append(cells, strings.Join(strings.Fields(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(td[1], " ")), " "))
		}
		out = append(out, strings.Join(cells, "|"))
	}
	return out
}

// TestMonitorListsInstallationsInScope: the monitor lists every
// installation with its latest counts, arrival and flags to staff, a
// reseller's customers to it, and a customer's own to it; another
// company asked for is not found.
func TestMonitorListsInstallationsInScope(t *testing.T) {
	w := newMonitorWorld(t)
	acme := `acme|prod/eu|timesheet-admin, reports|acme-prod|2026-11|14|15|170|180|2026-11-02 09:00|online|over limit`
	globex := `globex|main|timesheet-admin|globex-1|2026-11|31|32|320|330|2026-11-02 09:00|file|`
	initech := `initech|` + strings.ReplaceAll(formulaInst, `"`, "&#34;") + `|timesheet-admin|initech-x|2026-10|5|6|50|60|2026-10-23 09:00|online|silent`
	for role, want := range map[string][]string{
		"admin": {acme, globex, initech}, "license_manager": {acme, globex, initech}, "release_manager": {acme, globex, initech},
		"sales": {acme, globex, initech}, "reseller": {acme}, "reseller2": {globex}, "customer": {acme},
	} {
		status, body := w.as[role].get("/ui/monitor")
		require.Equal(t, http.StatusOK, status, "%s: %s", role, alert(body))
		assert.Equal(t, want, tableRows(t, body, "monitor"), "%s's monitor", role)
		assert.Equal(t, role != "customer", strings.Contains(body, `<select name="company">`), "%s's company filter", role)
	}

	_, body := w.as["sales"].get("/ui/monitor?flagged=1")
	assert.Equal(t, []string{acme, initech}, tableRows(t, body, "monitor"), "only flagged")
	assert.Contains(t, body, `<dd id="n-over" class="warn">1</dd>`, "over-limit count")
	_, body = w.as["sales"].get("/ui/monitor?company=" + w.co2)
	assert.Equal(t, []string{globex}, tableRows(t, body, "monitor"), "one company")
	assert.Contains(t, body, `<option value="`+w.co2+`" selected>globex</option>`, "the filter keeps its choice")
	_, body = w.as["sales"].get("/ui/monitor?q=paris")
	assert.Contains(t, tableRows(t, body, "monitor")[0], "No installation matches.", "search")

	for _, role := range []string{"reseller", "customer"} {
		status, body := w.as[role].get("/ui/monitor?company=" + w.co2)
		assert.Equal(t, http.StatusNotFound, status, "%s asks for another company: %s", role, alert(body))
		assert.NotContains(t, body, "globex-1", "%s sees nothing of it", role)
	}
	resp, _ := w.web(t).send(http.MethodGet, "/ui/monitor", nil)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "signed out")
}

// TestMonitorCSVIsGuarded: the CSV holds every row the list selects, and
// a cell a spreadsheet would run as a formula is made text.
func TestMonitorCSVIsGuarded(t *testing.T) {
	w := newMonitorWorld(t)
	resp, body := w.as["sales"].send(http.MethodGet, "/ui/monitor?format=csv", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, `attachment; filename="usage-monitor-20261102.csv"`, resp.Header.Get("Content-Disposition"))
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err, "the CSV parses:\n%s", body)
	require.Len(t, recs, 4, "header and three installations: %q", recs)
	assert.Equal(t, []string{"Company", "Installation", "Products", "Cluster", "Month", "Users", "Max users", "Cases", "Max cases",
		"Last report", "Arrival", "Flags", "Company ID"}, recs[0])
	assert.Equal(t, []string{"acme", "prod/eu", "timesheet-admin, reports", "acme-prod", "2026-11", "14", "15", "170", "180",
		"2026-11-02 09:00", "online", "over limit", w.co1}, recs[1])
	assert.Equal(t, "'"+formulaInst, recs[3][1], "the formula is text")

	_, body = w.as["customer"].send(http.MethodGet, "/ui/monitor?format=csv", nil)
	recs, err = csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 2, "a customer's CSV holds its own installation only: %q", recs)
	assert.Equal(t, "acme", recs[1][0])
}

// workbook downloads path and opens it as Excel would.
func workbook(t *testing.T, u *webUser, path string) (*http.Response, [][]string) {
	t.Helper()
	resp, body := u.send(http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, alert(body))
	assert.Equal(t, usagegrid.XLSXContentType, resp.Header.Get("Content-Type"), path)
	f, err := excelize.OpenReader(strings.NewReader(body))
	require.NoError(t, err, "%s opens as a workbook", path)
	t.Cleanup(func() { f.Close() })
	rows, err := f.GetRows(f.GetSheetName(0))
	require.NoError(t, err)
	return resp, rows
}

// svgOf returns the page's line chart, checked to be well-formed XML.
func svgOf(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<svg class="chart line".*?</svg>`).FindString(body)
	require.NotEmpty(t, m, "the page has a line chart")
	d := xml.NewDecoder(strings.NewReader(m))
	d.Strict = true
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "the chart is well-formed XML:\n%s", m)
	}
	return m
}

// TestMonitorInstallationPage: one installation's months newest first
// (seed 004's metrics history) with its workbook and chart, its days, its
// site's seats and credits; another company's installation is not found.
func TestMonitorInstallationPage(t *testing.T) {
	w := newMonitorWorld(t)
	path := "/ui/monitor/acme-prod/prod%2Feu"
	for _, role := range []string{"admin", "sales", "reseller", "customer"} {
		status, body := w.as[role].get(path)
		require.Equal(t, http.StatusOK, status, "%s: %s", role, alert(body))
		rows := tableRows(t, body, "history")
		require.Len(t, rows, 3, "%s: months %q", role, rows)
		// Times in the site's zone, Paris (UTC+1 in November).
		assert.Equal(t, "Nov 2026|1|13|12|0|0|0|0|7|2026-11-03 15:30|0|0|0|0|14|15|170|180|open|", rows[0], role)
		assert.True(t, strings.HasPrefix(rows[1], "Oct 2026|"), rows[1])
		assert.True(t, strings.HasPrefix(rows[2], "Sep 2026|"), rows[2])
	}
	_, body := w.as["sales"].get(path)
	assert.Contains(t, body, `href="/ui/monitor/acme-prod/prod%2Feu?format=xlsx"`, "the download link")
	assert.Equal(t, []string{"2026-11-01|24|170|", "2026-10-31|24||13"}, tableRows(t, body, "days"), "days, newest first, one column per scalar")
	assert.Equal(t, []string{"orektic__timehseetAdminUser|10|11|12|2|2026-11-02 08:00"}, tableRows(t, body, "seats"))
	assert.Equal(t, []string{w.lic1 + "|case|1000|1200|-200"}, tableRows(t, body, "credits"))
	chart := svgOf(t, body)
	for _, want := range []string{"Sep 2026: 11 users", "Nov 2026: 15 users", "Nov 2026: 180 cases", ">Oct 2026</text>"} {
		assert.Contains(t, chart, want, "the chart")
	}

	resp, rows := workbook(t, w.as["customer"], path+"?format=xlsx")
	assert.Equal(t, "attachment; filename=metrics-history-prod_eu.xlsx", resp.Header.Get("Content-Disposition"))
	require.Len(t, rows, 4, "header and three months: %q", rows)
	assert.Equal(t, []string{"Month", "Super"}, rows[0][:2])
	assert.Equal(t, []string{"Nov 2026", "1", "13"}, rows[1][:3])

	for role, other := range map[string]string{"customer": "/ui/monitor/globex-1/main", "reseller": "/ui/monitor/globex-1/main",
		"reseller2": path, "sales": "/ui/monitor/acme-prod/nope", "admin": "/ui/monitor/nope/main"} {
		for _, p := range []string{other, other + "?format=xlsx"} {
			status, body := w.as[role].get(p)
			assert.Equal(t, http.StatusNotFound, status, "%s asks for %s", role, p)
			assert.NotContains(t, body, "Metrics history ·", "%s sees no history of %s", role, p)
		}
	}
}

// TestMonitorSubscriberGrid: seed 004's all-subscribers grid shows one
// month, the newest by default, with companies by name; the drop-down
// lists the months in scope; the workbook holds the same rows.
func TestMonitorSubscriberGrid(t *testing.T) {
	w := newMonitorWorld(t)
	_, body := w.as["sales"].get("/ui/monitor/grid")
	rows := tableRows(t, body, "subscribers")
	require.Len(t, rows, 2, "November: %q", rows)
	assert.True(t, strings.HasPrefix(rows[0], "acme prod/eu|1|13|"), rows[0])
	assert.True(t, strings.HasPrefix(rows[1], "globex main|1|30|"), rows[1])
	assert.Contains(t, body, `<a href="/ui/monitor/company/`+w.co1+`">acme</a>`, "a subscriber links to its metrics history")
	assert.Regexp(t, `(?s)<option value="2026-11" selected>Nov 2026</option>\s*<option value="2026-10">Oct 2026</option>\s*<option value="2026-09">Sep 2026</option>`, body)

	_, body = w.as["sales"].get("/ui/monitor/grid?month=2026-10")
	rows = tableRows(t, body, "subscribers")
	require.Len(t, rows, 3, "October: %q", rows)
	assert.True(t, strings.HasPrefix(rows[2], "initech "+strings.ReplaceAll(formulaInst, `"`, "&#34;")+"|1|4|"), rows[2])
	assert.Contains(t, body, `href="/ui/monitor/grid?format=xlsx&amp;month=2026-10"`)

	_, body = w.as["customer"].get("/ui/monitor/grid?month=2026-10")
	rows = tableRows(t, body, "subscribers")
	require.Len(t, rows, 1, "a customer's October: %q", rows)
	assert.True(t, strings.HasPrefix(rows[0], "acme prod/eu|"), rows[0])
	_, body = w.as["reseller2"].get("/ui/monitor/grid")
	assert.NotContains(t, body, "2026-09", "Partner Two's customer has no September: the month is not listed")

	_, body = w.as["sales"].get("/ui/monitor/grid?month=2025-01")
	assert.Contains(t, body, `<option value="2025-01" selected>Jan 2025</option>`, "a month with no usage is still the one shown")
	assert.Contains(t, body, "No installation reported usage in Jan 2025.")
	status, body := w.as["sales"].get("/ui/monitor/grid?month=26-1")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, alert(body), "is not YYYY-MM")

	resp, xrows := workbook(t, w.as["sales"], "/ui/monitor/grid?month=2026-10&format=xlsx")
	assert.Equal(t, "attachment; filename=subscriber-metrics-2026-10.xlsx", resp.Header.Get("Content-Disposition"))
	require.Len(t, xrows, 4, "%q", xrows)
	assert.Equal(t, "Subscriber", xrows[0][0])
	assert.Equal(t, []string{"acme · prod/eu", "globex · main", "initech · " + formulaInst}, []string{xrows[1][0], xrows[2][0], xrows[3][0]})
	assert.Equal(t, "13", xrows[1][15], "acme's most users in October")
}

// TestMonitorCompanyPages: a company's metrics history (its
// installations' months) with workbook and chart, and the Metrics box on
// its page with every metric of its latest month.
func TestMonitorCompanyPages(t *testing.T) {
	w := newMonitorWorld(t)
	// A second installation of acme's site, so rows name their installation.
	w.seedUsage(t, "online", upstream.Batch{ClusterID: "acme-prod", Months: []upstream.Month{seedMonth("test", "2026-11", false, 3, 7)}})

	_, body := w.as["customer"].get("/ui/monitor/company/" + w.co1)
	rows := tableRows(t, body, "history")
	require.Len(t, rows, 4, "%q", rows)
	assert.True(t, strings.HasPrefix(rows[0], "Nov 2026 prod/eu|"), rows[0])
	assert.True(t, strings.HasPrefix(rows[1], "Nov 2026 test|"), rows[1])
	assert.True(t, strings.HasPrefix(rows[3], "Sep 2026 prod/eu|"), rows[3])
	assert.Contains(t, svgOf(t, body), "Nov 2026: 19 users", "the chart sums the installations")

	_, xrows := workbook(t, w.as["customer"], "/ui/monitor/company/"+w.co1+"?format=xlsx")
	require.Len(t, xrows, 5, "%q", xrows)
	assert.Equal(t, []string{"Month · installation", "Nov 2026 · prod/eu", "Nov 2026 · test"}, []string{xrows[0][0], xrows[1][0], xrows[2][0]})

	for role, other := range map[string]string{"customer": w.co2, "reseller": w.coD, "reseller2": w.co1} {
		status, _ := w.as[role].get("/ui/monitor/company/" + other)
		assert.Equal(t, http.StatusNotFound, status, "%s asks for %s", role, other)
	}

	_, body = w.as["customer"].get("/ui/companies/" + w.co1)
	box := regexp.MustCompile(`(?s)<section class="panel" id="metrics">.*?</section>`).FindString(body)
	require.NotEmpty(t, box, "the company page has a Metrics box")
	for _, l := range usage.Labels() {
		assert.Contains(t, box, "<dt>"+l.Long+"</dt>", "the Metrics box shows %s", l.Long)
	}
	assert.Contains(t, box, "Nov 2026", "the latest month")
	assert.Contains(t, box, "<dt>User count</dt><dd>14</dd>")
	assert.Contains(t, box, "<dt>When</dt><dd>2026-11-03 15:30</dd>", "times in the site's zone")
	assert.Contains(t, box, "Times are in Europe/Paris.")
	assert.Contains(t, box, `href="/ui/monitor/company/`+w.co1+`"`, "a link to the metrics history")
	_, body = w.as["admin"].get("/ui/companies/" + w.coD)
	assert.Contains(t, body, "User count", "initech's box")
	_, body = w.as["sales"].get("/ui/companies/" + w.quietCompany(t))
	assert.Contains(t, body, "No usage has been reported yet.", "a company without sites")
}

// quietCompany makes a company with no site.
func (w *monitorWorld) quietCompany(t *testing.T) string {
	t.Helper()
	co, err := w.admin.CreateCompany(t.Context(), connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Quiet Ltd", Email: "it@quiet.example"}))
	require.NoError(t, err)
	return co.Msg.GetCompany().GetId()
}

// TestMonitorChartEscapesNames: a company named like markup is text in
// every page and in the chart, which stays well-formed.
func TestMonitorChartEscapesNames(t *testing.T) {
	h := startHub(t)
	name := `<script>alert("x")</script> & Co`
	co, err := h.admin.CreateCompany(t.Context(), connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: name, Email: "it@evil.example"}))
	require.NoError(t, err)
	id := co.Msg.GetCompany().GetId()
	h.seedSite(t, "evil-1", id, "UTC")
	h.seedUsage(t, "online", upstream.Batch{ClusterID: "evil-1", Months: []upstream.Month{seedMonth("<b>x</b>", "2026-10", true, 3, 4), seedMonth("<b>x</b>", "2026-11", false, 4, 5)}})
	u := h.webAs(t, h.init.AdminEmail, h.init.AdminPassword)
	for _, p := range []string{"/ui/monitor", "/ui/monitor/grid", "/ui/monitor/company/" + id, "/ui/monitor/evil-1/%3Cb%3Ex%3C%2Fb%3E", "/ui/companies/" + id} {
		status, body := u.get(p)
		require.Equal(t, http.StatusOK, status, "%s: %s", p, alert(body))
		assert.NotContains(t, body, "<script>alert", p)
		assert.NotContains(t, body, "<b>x</b>", p)
	}
	_, body := u.get("/ui/monitor/company/" + id)
	chart := svgOf(t, body)
	assert.Contains(t, chart, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co`, "the chart's title is escaped")

	// The renderer alone, with text from anywhere.
	svg := string(lineChart{Title: `"><script>1</script>`, Labels: []string{"<Jan>", "Feb & Mar"},
		Series: []lineSeries{{Name: "</text><x>", Class: `a" onload="x`, Values: []int64{1}}}}.SVG())
	svgOf(t, svg)
	assert.NotContains(t, svg, "<script")
	assert.NotContains(t, svg, "onload")
	assert.Contains(t, svg, `viewBox="0 0 640 150"`)
	assert.Empty(t, lineChart{Title: "none"}.SVG(), "no months, no chart")
}

// TestMonitorTenThousandInstallations: the monitor of 10,000
// installations is one query and a page of them, and its CSV has all.
func TestMonitorTenThousandInstallations(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 10,000 installations")
	}
	h := startHub(t)
	const companies, perSite = 10, 1000
	for c := range companies {
		co, err := h.admin.CreateCompany(t.Context(), connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: fmt.Sprintf("Company %02d", c), Email: fmt.Sprintf("it@c%d.example", c)}))
		require.NoError(t, err)
		cluster := license.ClusterID(fmt.Sprintf("site-%02d", c))
		h.seedSite(t, cluster, co.Msg.GetCompany().GetId(), "UTC")
		b := upstream.Batch{ClusterID: cluster}
		for i := range perSite {
			b.Months = append(b.Months, seedMonth(fmt.Sprintf("inst-%04d", i), "2026-11", false, int64(i+3), int64(i)))
		}
		h.seedUsage(t, "online", b)
	}
	u := h.webAs(t, h.init.AdminEmail, h.init.AdminPassword)
	start := time.Now()
	status, body := u.get("/ui/monitor?sort=users&dir=desc")
	took := time.Since(start)
	t.Logf("the monitor of %d installations took %v", companies*perSite, took)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "1–50 of 10000")
	assert.Len(t, tableRows(t, body, "monitor"), pageSize)
	// A coarse guard: the page takes tens of milliseconds (about a second
	// under -race); a query per row would take far longer.
	assert.Less(t, took, 8*time.Second, "the page is slow")
	resp, csvBody := u.send(http.MethodGet, "/ui/monitor?format=csv", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	recs, err := csv.NewReader(bytes.NewReader([]byte(csvBody))).ReadAll()
	require.NoError(t, err)
	assert.Len(t, recs, companies*perSite+1)
}

// TestMonitorSubscriberGridLabels: rows of the month grid sort by company
// name (case aside), then installation, and an installation ID a company
// has on two clusters is told apart by its cluster.
func TestMonitorSubscriberGridLabels(t *testing.T) {
	k := usage.MonthKey{Year: 2026, Month: time.November}
	m := func(company, name string, cluster license.ClusterID, inst string) store.UsageMonth {
		return store.UsageMonth{Company: store.CompanyID(company), CompanyName: name, ClusterID: cluster, Installation: usage.InstallationID(inst), Month: k}
	}
	// In the store's order (by name, bytewise), but for beta.
	g, order := subscriberGrid(k, []store.UsageMonth{
		m("co_b", "beta", "c1", "prod"), m("co_a", "Alpha", "c2", "prod"), m("co_a", "Alpha", "c2", "z"), m("co_a", "Alpha", "c3", "prod"),
	})
	var labels []string
	for i, r := range g.Strings() {
		labels = append(labels, r[0])
		assert.Equal(t, r[0], order[i].CompanyName+" · "+installationLabels(order)[monthSite(order[i])], "row %d matches its month", i)
	}
	assert.Equal(t, []string{"Alpha · prod (c2)", "Alpha · prod (c3)", "Alpha · z", "beta · prod"}, labels)
}

// TestPortalShowsWhatTheClusterReported: the customer portal counts a
// bound license's clients and seats in use from its cluster's reports,
// and says plainly when it cannot: a license no cluster was activated
// with, and a cluster that has not reported yet.
func TestPortalShowsWhatTheClusterReported(t *testing.T) {
	w := newMonitorWorld(t)
	ctx := t.Context()
	bound, err := w.admin.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: w.co1, Sku: "timesheet-admin", Quantity: 2,
		Tailoring: &licmeshv1.Tailoring{ClusterId: "acme-prod"}}))
	require.NoError(t, err)
	silent, err := w.admin.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: w.co1, Sku: "timesheet-admin", Quantity: 1,
		Tailoring: &licmeshv1.Tailoring{ClusterId: "acme-dr"}}))
	require.NoError(t, err)
	code, body := w.as["customer"].get("/ui/?format=csv")
	require.Equal(t, http.StatusOK, code, body)
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err)
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	byID := map[string][]string{}
	for _, r := range recs[1:] {
		byID[r[col["License"]]] = r
	}
	require.Contains(t, byID, bound.Msg.GetLicense().GetId())
	assert.Equal(t, "1", byID[bound.Msg.GetLicense().GetId()][col["Clients"]], "acme-prod reported one installation")
	assert.Equal(t, "orektic__timehseetAdminUser 11/10 (peak 12)", byID[bound.Msg.GetLicense().GetId()][col["Seats in use"]])
	assert.Equal(t, clientsUnknown, byID[silent.Msg.GetLicense().GetId()][col["Clients"]], "a cluster with no report")
	assert.Equal(t, clientsUnbound, byID[w.lic1][col["Clients"]], "a license no cluster was activated with")
	_, page := w.as["customer"].get("/ui/")
	assert.Contains(t, page, "in use: orektic__timehseetAdminUser 11/10 (peak 12)")
}
