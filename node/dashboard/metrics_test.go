package dashboard_test

import (
	"bytes"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inOrder fails unless each of wants appears in body after the one before.
func inOrder(t *testing.T, body string, wants ...string) {
	t.Helper()
	at := 0
	for _, w := range wants {
		i := strings.Index(body[at:], w)
		if !assert.GreaterOrEqual(t, i, 0, "%q is missing or out of order (wanted in order: %q)", w, wants) {
			return
		}
		at += i + len(w)
	}
}

var rowHeader = regexp.MustCompile(`<th scope="row">(?:<a href="[^"]*">)?([^<]*)`)

// rowLabels returns the grid's row labels in page order.
func rowLabels(body string) []string {
	var out []string
	for _, m := range rowHeader.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestSubscriberMetricsPage(t *testing.T) {
	_, c := signedIn(t)
	body := mustGet(t, c, "/ui/metrics")
	wantContains(t, body,
		"<title>Subscriber metrics · licmesh</title>", "<h1>Subscriber metrics</h1>",
		`aria-current="page">Metrics</a>`,
		// Seed 004's short labels head the columns, the long ones are tooltips.
		`<th scope="col" class="num" title="Super users">Super</th>`,
		`<th scope="col" class="num" title="Enabled staff">En. staff</th>`,
		`<th scope="col" class="num" title="Logon time">Minutes</th>`,
		`<th scope="col" title="When">When</th>`,
		// The newest month by default, and its workbook.
		`<option value="2026-03" selected>Mar 2026</option>`,
		`href="/ui/metrics.xlsx?month=2026-03"`, ">Download Excel</a>",
		`hx-get="/ui/fragments/metrics?month=2026-03"`,
		"Times are in Europe/Paris.",
	)
	// Months newest first; installations alphabetically, whatever their case.
	inOrder(t, body, `value="2026-03"`, `value="2026-02"`, `value="2026-01"`)
	assert.Equal(t, "acme-prod|Beta Corp|zeta-labs", strings.Join(rowLabels(body), "|"), "rows")
	// Each name links to its history.
	wantContains(t, body,
		`<a href="/ui/metrics/history?installation=acme-prod">acme-prod</a>`,
		`<a href="/ui/metrics/history?installation=Beta&#43;Corp">Beta Corp</a>`,
	)
	// March is open: its row and status say so.
	inOrder(t, body, ">zeta-labs</a>", `<td class="num">31</td>`, `<td class="num">13</td>`, `<td class="status open">open</td>`)
	assert.NotRegexp(t, regexp.MustCompile(`<script>|<script [^>]*>[^<]|\son[a-z]+=|style="|<style`), body,
		"the page has inline script or style, which the CSP would block")
}

func TestSubscriberMetricsOfAChosenMonth(t *testing.T) {
	_, c := signedIn(t)
	body := mustGet(t, c, "/ui/metrics?month=2026-02")
	wantContains(t, body,
		`<option value="2026-02" selected>Feb 2026</option>`,
		`href="/ui/metrics.xlsx?month=2026-02"`,
		// A name that needs escaping is text in the page and one value in
		// its link.
		`<a href="/ui/metrics/history?installation=a%26b&#43;%3Cx%3E">a&amp;b &lt;x&gt;</a>`,
		`<td>2026-02-15 09:30</td>`, `<td class="status closed">closed</td>`,
	)
	assert.NotContains(t, body, "<x>", "an installation name was rendered as HTML")
	assert.Equal(t, "a&amp;b &lt;x&gt;|acme-prod|Beta Corp", strings.Join(rowLabels(body), "|"), "rows")
	assert.Equal(t, 1, strings.Count(body, " selected>"), "months selected")

	// A month with no data is still offered, in its place, and says so.
	body = mustGet(t, c, "/ui/metrics?month=2025-06")
	inOrder(t, body, `value="2026-01"`, `<option value="2025-06" selected>Jun 2025</option>`)
	wantContains(t, body, "No installation reported usage in this month.")
}

func TestMetricsHistoryPage(t *testing.T) {
	_, c := signedIn(t)
	body := mustGet(t, c, "/ui/metrics/history?installation=acme-prod")
	wantContains(t, body,
		"<title>Metrics history · licmesh</title>", "<h1>Metrics history</h1>",
		`<p class="crumbs"><a href="/ui/metrics">Subscriber metrics</a> / <span class="mono">acme-prod</span></p>`,
		`<th scope="col" class="num" title="Enabled reps">En. reps</th>`,
		`href="/ui/metrics/history.xlsx?installation=acme-prod"`,
		`hx-get="/ui/fragments/metrics/history?installation=acme-prod"`,
		`<td class="late">2 users late</td>`,
		`aria-current="page">Metrics</a>`,
	)
	assert.Equal(t, "Mar 2026|Feb 2026|Jan 2026", strings.Join(rowLabels(body), "|"), "rows, want newest first")
	// Seed 004: there is nothing to click in the grid.
	table := body[strings.Index(body, `<table id="metrics"`):strings.Index(body, "</table>")]
	assert.NotContains(t, table, "<a ", "the history grid has links")
	inOrder(t, body, ">Jan 2026<", `<td class="num">4</td>`, `<td class="num">11</td>`, "<td>2026-01-15 09:30</td>",
		`<td class="num">600</td>`, `<td class="status closed">closed</td>`, `<td class="late">2 users late</td>`)
}

func TestMetricsPagesRefuseBadInput(t *testing.T) {
	_, c := signedIn(t)
	for path, want := range map[string]struct {
		status int
		text   string
	}{
		"/ui/metrics?month=2026-13":                 {http.StatusBadRequest, `month &#34;2026-13&#34; is not YYYY-MM`},
		"/ui/metrics?month=1969-12":                 {http.StatusBadRequest, `out of range`},
		"/ui/metrics/history":                       {http.StatusBadRequest, `cannot show installation &#34;&#34;`},
		"/ui/metrics/history?installation=nobody":   {http.StatusNotFound, `no usage is on record for installation &#34;nobody&#34;`},
		"/ui/metrics.xlsx?month=26-1":               {http.StatusBadRequest, `month "26-1" is not YYYY-MM`},
		"/ui/metrics/history.xlsx?installation=who": {http.StatusNotFound, `no usage is on record for installation "who"`},
	} {
		resp, body := c.get(path)
		assert.Equal(t, want.status, resp.StatusCode, "GET %s:\n%s", path, body)
		assert.Contains(t, body, want.text, "GET %s", path)
	}
}

func TestMetricsWithNoUsageYet(t *testing.T) {
	e, c := signedIn(t)
	e.src.editUsage(func([]usage.Report) []usage.Report { return nil })
	body := mustGet(t, c, "/ui/metrics")
	wantContains(t, body, `<p class="empty" id="metrics-empty">No usage has been reported yet.</p>`)
	assert.NotContains(t, body, "Download Excel", "an empty page offers a download")
	assert.NotContains(t, body, "<select", "an empty page offers months")
	resp, body := c.get("/ui/metrics.xlsx")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "download with no usage: %q", body)
	assert.Contains(t, body, "no usage has been reported yet", "download with no usage")
}

func TestMetricsSourceErrors(t *testing.T) {
	e, c := signedIn(t)
	e.src.setErr(errors.New("node: not leader"))
	for _, p := range []string{"/ui/metrics", "/ui/metrics/history?installation=acme-prod",
		"/ui/fragments/metrics?month=2026-03", "/ui/fragments/metrics/history?installation=acme-prod"} {
		resp, body := c.get(p)
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "GET %s:\n%s", p, body)
		assert.Contains(t, body, `<p class="banner" role="alert">could not load`, "GET %s", p)
		assert.Contains(t, body, "node: not leader", "GET %s", p)
		assert.Contains(t, body, `hx-trigger="every 30s"`, "GET %s", p)
	}
	resp, _ := c.get("/ui/metrics.xlsx?month=2026-03")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "download while the Source fails")
}

func TestMetricsFragmentsAreThePagesBlocks(t *testing.T) {
	e, c := signedIn(t)
	for page, frag := range map[string]string{
		"/ui/metrics?month=2026-02":                  "/ui/fragments/metrics?month=2026-02",
		"/ui/metrics/history?installation=zeta-labs": "/ui/fragments/metrics/history?installation=zeta-labs",
	} {
		full := mustGet(t, c, page)
		resp, part := c.getHTMX(frag)
		require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s:\n%s", frag, part)
		require.NotContains(t, part, "<html", "GET %s", frag)
		assert.Contains(t, full, strings.TrimSpace(part), "%s is not the block of %s", frag, page)
		wantContains(t, part, `hx-get="`+frag+`"`, `hx-trigger="every 30s"`)
	}
	// An open month's fragment shows its values as they are now.
	e.src.editUsage(func(rs []usage.Report) []usage.Report {
		for i := range rs {
			if rs[i].Installation == "zeta-labs" {
				rs[i].Metrics.Super = 77
			}
		}
		return rs
	})
	_, part := c.getHTMX("/ui/fragments/metrics/history?installation=zeta-labs")
	wantContains(t, part, `<td class="num">77</td>`)
}

// download fetches a workbook and opens it.
func download(t *testing.T, c *client, path string) (*http.Response, *excelize.File) {
	t.Helper()
	resp, body := c.get(path)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s:\n%s", path, body)
	f, err := excelize.OpenReader(bytes.NewReader([]byte(body)))
	require.NoError(t, err, "GET %s is not a workbook", path)
	t.Cleanup(func() { f.Close() })
	return resp, f
}

func TestMetricsDownloads(t *testing.T) {
	_, c := signedIn(t)
	resp, f := download(t, c, "/ui/metrics.xlsx?month=2026-02")
	h := resp.Header
	assert.Equal(t, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", h.Get("Content-Type"), "Content-Type")
	assert.Equal(t, "attachment; filename=subscriber-metrics-2026-02.xlsx", h.Get("Content-Disposition"), "Content-Disposition")
	assert.Equal(t, "no-store", h.Get("Cache-Control"), "headers %v", h)
	assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), "headers %v", h)
	rows, err := f.GetRows("Subscriber metrics")
	require.NoError(t, err)
	var names []string
	for _, r := range rows {
		names = append(names, r[0])
	}
	assert.Equal(t, "Installation|a&b <x>|acme-prod|Beta Corp", strings.Join(names, "|"), "rows")
	assert.Equal(t, "En. staff", rows[0][2], "acme-prod row %q under %q", rows[2], rows[0])
	assert.Equal(t, "5", rows[2][1], "acme-prod row %q under %q", rows[2], rows[0])
	assert.Equal(t, "2026-02-15 09:30", rows[2][9], "acme-prod row %q under %q", rows[2], rows[0])
	assert.Equal(t, "closed", rows[2][18], "acme-prod row %q under %q", rows[2], rows[0])
	ct, _ := f.GetCellType("Subscriber metrics", "B3")
	assert.NotContains(t, []excelize.CellType{excelize.CellTypeSharedString, excelize.CellTypeInlineString}, ct, "numbers are stored as text")

	resp, f = download(t, c, "/ui/metrics/history.xlsx?installation=a%26b+%3Cx%3E")
	assert.Equal(t, "attachment; filename=metrics-history-a_b__x.xlsx", resp.Header.Get("Content-Disposition"), "Content-Disposition")
	rows, err = f.GetRows("Metrics history")
	assert.NoError(t, err, "history rows")
	if assert.Len(t, rows, 2, "history rows %q", rows) {
		assert.Equal(t, "Feb 2026", rows[1][0], "history rows %q", rows)
		assert.Equal(t, "41", rows[1][1], "history rows %q", rows)
	}
}

func TestMetricsNeedSignIn(t *testing.T) {
	e := newTestEnv(t)
	c := e.newClient()
	for _, p := range []string{"/ui/metrics", "/ui/metrics/history?installation=acme-prod",
		"/ui/metrics.xlsx?month=2026-02", "/ui/metrics/history.xlsx?installation=acme-prod"} {
		resp, body := c.get(p)
		wantRedirectToLogin(t, resp)
		assert.NotContains(t, body, "acme-prod", "GET %s gave data to a browser that has not signed in", p)
		assert.Empty(t, resp.Header.Get("Content-Disposition"), "GET %s gave data to a browser that has not signed in", p)
	}
	resp, _ := c.getHTMX("/ui/fragments/metrics?month=2026-02")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "fragment without a session")
	assert.Equal(t, "/ui/login", resp.Header.Get("HX-Redirect"), "fragment without a session")
}
