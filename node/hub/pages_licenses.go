package hub

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// soonDays is when a license in force counts as expiring soon: it is
// shown in amber, and on the overview.
const soonDays = 30

// licenseRow is a license as the lists show it.
type licenseRow struct {
	ID, CompanyID, Company string
	SKU, Product           string
	Type, Status           string
	// Class is how the row is drawn: current, soon, expired or old
	// (superseded or revoked).
	Class     string
	Quantity  int64
	Pools     []string
	IssuedMS  int64
	ExpiresMS int64
	DaysLeft  int64
	IssuedBy  string
	// ClusterID is the cluster the license is bound to; Clients and InUse
	// are what that cluster reported (the portal fills them).
	ClusterID string
	Clients   string
	InUse     []string
}

func (l licenseRow) Issued() string  { return msText(l.IssuedMS) }
func (l licenseRow) Expires() string { return msText(l.ExpiresMS) }

// IssuedDay and ExpiresDay are the dates lists show (the time is in the
// cell's title and the CSV).
func (l licenseRow) IssuedDay() string  { return fmtDate(fromMS(l.IssuedMS)) }
func (l licenseRow) ExpiresDay() string { return fmtDate(fromMS(l.ExpiresMS)) }

// Left is the days-left column: a number, "expired", or "never" for a
// perpetual license.
func (l licenseRow) Left() string {
	switch {
	case l.ExpiresMS == 0:
		return "never"
	case l.Status == "expired":
		return "expired"
	case l.Status != "current":
		return ""
	}
	return strconv.FormatInt(l.DaysLeft, 10)
}

// payloads keeps the terms of licenses the pages have shown, by license
// ID. A license's text never changes once signed, so an entry is never
// stale; reading 1,000 licenses' terms on every view of a portal was most
// of its time. The cache is bounded: past maxPayloads it starts over.
type payloads struct {
	mu sync.Mutex
	m  map[string]*license.Payload
}

const maxPayloads = 50_000

// of reads the terms of a license the hub signed (it was checked when it
// was signed; this only reads it). The caller must not change the result.
func (c *payloads) of(l *licmeshv1.HubLicense) (*license.Payload, error) {
	c.mu.Lock()
	pl, ok := c.m[l.GetId()]
	c.mu.Unlock()
	if ok {
		return pl, nil
	}
	env, err := license.Open([]byte(l.GetText()))
	if err != nil {
		return nil, err
	}
	if pl, err = license.ParsePayload(env.Payload); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxPayloads {
		c.m = make(map[string]*license.Payload)
	}
	c.m[l.GetId()] = pl
	c.mu.Unlock()
	return pl, nil
}

// poolsText describes a license's pools at now: "designer: 5 seats".
func poolsText(pl *license.Payload, now time.Time) []string {
	pools, err := pl.PoolsAt(now)
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range pools {
		s := fmt.Sprintf("%s: %d seats", p.Name, p.Seats)
		if p.Seats == 1 {
			s = p.Name + ": 1 seat"
		}
		if p.Amount > 0 {
			s += fmt.Sprintf(", %d allowed", p.Amount)
		}
		out = append(out, s)
	}
	return out
}

func (pg *pages) licenseRowOf(l *licmeshv1.HubLicense, companies map[string]string, now time.Time) licenseRow {
	row := licenseRow{ID: l.GetId(), CompanyID: l.GetCompanyId(), Company: companies[l.GetCompanyId()], SKU: l.GetSku(), Product: l.GetSku(),
		Type: l.GetType(), Status: l.GetStatus(), Quantity: l.GetQuantity(), IssuedMS: l.GetIssuedAtMs(), ExpiresMS: l.GetExpiresAtMs(), IssuedBy: l.GetIssuedBy(),
		ClusterID: l.GetClusterId()}
	if row.Company == "" {
		row.Company = l.GetCompanyId()
	}
	if pl, err := pg.payloads.of(l); err == nil {
		row.Product = pl.Product.Name
		row.Pools = poolsText(pl, now)
	}
	row.DaysLeft = daysLeft(fromMS(l.GetExpiresAtMs()), now)
	switch {
	case row.Status == "current" && row.ExpiresMS != 0 && row.DaysLeft <= soonDays:
		row.Class = "soon"
	case row.Status == "current", row.Status == "expired":
		row.Class = row.Status
	default:
		row.Class = "old"
	}
	return row
}

var licenseColumns = []column[licenseRow]{
	{Key: "id", Label: "License", Text: func(l licenseRow) string { return l.ID }},
	{Key: "company", Label: "Company", Text: func(l licenseRow) string { return l.Company }},
	{Key: "product", Label: "Product", Text: func(l licenseRow) string { return l.Product }},
	{Key: "sku", Label: "SKU", Text: func(l licenseRow) string { return l.SKU }, CSVOnly: true},
	{Key: "type", Label: "Type", Text: func(l licenseRow) string { return l.Type }},
	{Key: "quantity", Label: "Qty", Text: func(l licenseRow) string { return strconv.FormatInt(l.Quantity, 10) }, Num: func(l licenseRow) int64 { return l.Quantity }, Right: true},
	{Key: "status", Label: "Status", Text: func(l licenseRow) string { return l.Status }},
	{Key: "issued", Label: "Issued", Text: licenseRow.Issued, Num: func(l licenseRow) int64 { return l.IssuedMS }},
	{Key: "expires", Label: "Expires", Text: licenseRow.Expires, Num: func(l licenseRow) int64 { return l.ExpiresMS }},
	{Key: "left", Label: "Days left", Text: licenseRow.Left, Num: func(l licenseRow) int64 {
		if l.ExpiresMS == 0 {
			return 1 << 40 // perpetual: after every license that ends
		}
		return l.DaysLeft
	}, Right: true},
}

// licenseQuery narrows the licenses a page loads.
type licenseQuery struct {
	Company, SKU, Type string
	Current            bool
}

// maxListed bounds how many licenses one page loads (20 pages of 1000).
const maxListed = 20_000

// visibleLicenses returns every license p may see that q selects, through
// the API's ListIssuedLicenses: all of them for staff, those of its
// customers (one company at a time, as the API asks) for a reseller, its
// company's for a customer.
func (pg *pages) visibleLicenses(r *http.Request, p *principal, companies []*licmeshv1.Company, q licenseQuery) ([]*licmeshv1.HubLicense, error) {
	ctx, cancel := callCtx(r)
	defer cancel()
	page := func(company string) ([]*licmeshv1.HubLicense, error) {
		var out []*licmeshv1.HubLicense
		after := ""
		for len(out) < maxListed {
			res, err := pg.api.ListIssuedLicenses(ctx, req(&licmeshv1.ListIssuedLicensesRequest{CompanyId: company, Sku: q.SKU, Type: q.Type,
				Current: q.Current, Limit: 1000, After: after}))
			if err != nil {
				return nil, err
			}
			ls := res.Msg.GetLicenses()
			out = append(out, ls...)
			if len(ls) < 1000 {
				break
			}
			after = ls[len(ls)-1].GetId()
		}
		return out, nil
	}
	if p.Role != store.RoleReseller || q.Company != "" {
		return page(q.Company)
	}
	var out []*licmeshv1.HubLicense
	for _, c := range companies {
		ls, err := page(c.GetId())
		if err != nil {
			return nil, err
		}
		out = append(out, ls...)
	}
	return out, nil
}

// statuses are the status filter's choices: the API's statuses, and
// "soon" (in force, ending within soonDays).
var statuses = []string{"current", "soon", "expired", "superseded", "revoked"}

type licensesView struct {
	Licenses  []licenseRow
	List      listView
	Companies []*licmeshv1.Company
	Products  []*licmeshv1.Product
	Types     []string
	Statuses  []string
	Filter    map[string]string
}

// licensesPage lists the licenses across companies, filtered by company,
// SKU, type, status and text.
func (pg *pages) licensesPage(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx, cancel := callCtx(r)
	defer cancel()
	cs, err := pg.api.ListCompanies(ctx, req(&licmeshv1.ListCompaniesRequest{}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	prods, err := pg.api.ListProducts(ctx, req(&licmeshv1.ListProductsRequest{}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	q := r.URL.Query()
	f := map[string]string{"company": q.Get("company"), "sku": q.Get("sku"), "type": q.Get("type"), "status": q.Get("status"), "q": q.Get("q")}
	lq := licenseQuery{Company: f["company"], SKU: f["sku"], Type: f["type"], Current: f["status"] == "current" || f["status"] == "soon"}
	lics, err := pg.visibleLicenses(r, p, cs.Msg.GetCompanies(), lq)
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	names := map[string]string{}
	for _, c := range cs.Msg.GetCompanies() {
		names[c.GetId()] = c.GetName()
	}
	now := pg.s.clk.Now()
	var rows []licenseRow
	for _, l := range lics {
		row := pg.licenseRowOf(l, names, now)
		if st := f["status"]; st != "" && row.Status != st && !(st == "soon" && row.Class == "soon") {
			continue
		}
		rows = append(rows, row)
	}
	shown, lv, isCSV := csvOrList(w, r, "licenses", now, uiPrefix+"/licenses", licenseColumns, rows, "issued", true)
	if isCSV {
		return
	}
	d := pg.data(w, r, p, "licenses", "Licenses")
	d.Data = licensesView{Licenses: shown, List: lv, Companies: cs.Msg.GetCompanies(), Products: prods.Msg.GetProducts(),
		Types: []string{"trial", "subscription", "perpetual", "volume"}, Statuses: statuses, Filter: f}
	pg.render(w, "licenses", http.StatusOK, d)
}

// featureView is a module of a license and whether it is on.
type featureView struct {
	Name    string
	Enabled bool
}

type licenseView struct {
	Row        licenseRow
	License    *licmeshv1.HubLicense
	Company    string
	Payload    *license.Payload
	Features   []featureView
	Off        []string // modules that can be added
	Replaces   []string
	NotBefore  string
	GraceEnds  string
	Changeable bool // current or expired: not replaced, not revoked
	Trial      bool
	Perpetual  bool
	Credits    string
}

// licensePage shows one license: its terms, its status, its text, and the
// changes p's role may make to it.
func (pg *pages) licensePage(w http.ResponseWriter, r *http.Request, p *principal) {
	pg.showLicense(w, r, p, http.StatusOK, nil)
}

func (pg *pages) showLicense(w http.ResponseWriter, r *http.Request, p *principal, status int, prob *problem) {
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.GetIssuedLicense(ctx, req(&licmeshv1.GetIssuedLicenseRequest{Id: r.PathValue("id")}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	l := res.Msg.GetLicense()
	co, err := pg.api.GetCompany(ctx, req(&licmeshv1.GetCompanyRequest{Id: l.GetCompanyId(), Summary: true}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	now := pg.s.clk.Now()
	v := licenseView{License: l, Company: co.Msg.GetCompany().GetName(),
		Row:        pg.licenseRowOf(l, map[string]string{l.GetCompanyId(): co.Msg.GetCompany().GetName()}, now),
		Changeable: l.GetStatus() == "current" || l.GetStatus() == "expired",
		Trial:      l.GetType() == string(license.Trial), Perpetual: l.GetType() == string(license.Perpetual),
		NotBefore: msText(l.GetNotBeforeMs())}
	if pl, err := pg.payloads.of(l); err == nil {
		v.Payload = pl
		for _, f := range pl.Features {
			v.Features = append(v.Features, featureView{Name: f.Name, Enabled: f.Enabled})
			if !f.Enabled {
				v.Off = append(v.Off, f.Name)
			}
		}
		for _, id := range pl.Supersedes {
			v.Replaces = append(v.Replaces, string(id))
		}
		if pl.Grace > 0 && !pl.ExpiresAt.IsZero() {
			v.GraceEnds = fmtTime(pl.GraceEnd())
		}
		if c := pl.Credits; c != nil {
			v.Credits = fmt.Sprintf("%d %s", c.Balance, c.Unit)
		}
	}
	d := pg.data(w, r, p, "licenses", "License "+l.GetId())
	if p.Role == store.RoleCustomer {
		d.Nav = "home"
	}
	d.Problem, d.Data = prob, v
	pg.render(w, "license", status, d)
}

// licenseFile downloads the license's signed text, the file a master
// takes (meshctl license add FILE, or pasted at /ui/licenses).
func (pg *pages) licenseFile(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.GetIssuedLicense(ctx, req(&licmeshv1.GetIssuedLicenseRequest{Id: r.PathValue("id")}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	l := res.Msg.GetLicense()
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.lic"`, l.GetId()))
	h.Set("Cache-Control", "no-store")
	w.Write([]byte(l.GetText()))
}

// changed ends a change to a license: to the license that replaced it.
func (pg *pages) changed(w http.ResponseWriter, r *http.Request, l *licmeshv1.HubLicense, what string) {
	pg.done(w, r, uiPrefix+"/licenses/"+l.GetId(), fmt.Sprintf("%s: license %s replaces %s. Download it and install it on the customer's masters.", what, l.GetId(), r.PathValue("id")))
}

// refusedChange shows the license page again with what was wrong with
// form: the first of fields its message names, else the last of fields.
func (pg *pages) refusedChange(w http.ResponseWriter, r *http.Request, p *principal, form string, err error, fields ...string) {
	if status, ok := inputProblem(err); ok {
		msg := message(err)
		field := fieldIn(msg, fields...)
		if field == "" && len(fields) > 0 {
			field = fields[len(fields)-1]
		}
		pg.showLicense(w, r, p, status, &problem{Form: form, Field: field, Message: msg})
		return
	}
	pg.failed(w, r, p, err)
}

func (pg *pages) extendLicense(w http.ResponseWriter, r *http.Request, p *principal) {
	by := strings.TrimSpace(r.PostForm.Get("by"))
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.ExtendLicense(ctx, req(&licmeshv1.ExtendLicenseRequest{LicenseId: r.PathValue("id"), By: by}))
	if err != nil {
		pg.refusedChange(w, r, p, "extend", err, "by")
		return
	}
	pg.changed(w, r, res.Msg.GetLicense(), "Extended until "+msText(res.Msg.GetLicense().GetExpiresAtMs())+" UTC")
}

// formInt reads a whole number from the form, or says which field is not
// one.
func formInt(r *http.Request, form, field string) (int64, *problem) {
	s := strings.TrimSpace(r.PostForm.Get(field))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, &problem{Form: form, Field: field, Message: fmt.Sprintf("%s: %q is not a whole number.", field, s)}
	}
	return n, nil
}

func (pg *pages) convertTrial(w http.ResponseWriter, r *http.Request, p *principal) {
	q, prob := formInt(r, "convert", "quantity")
	if prob != nil {
		pg.showLicense(w, r, p, http.StatusBadRequest, prob)
		return
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.ConvertTrial(ctx, req(&licmeshv1.ConvertTrialRequest{LicenseId: r.PathValue("id"), Quantity: q}))
	if err != nil {
		pg.refusedChange(w, r, p, "convert", err, "quantity")
		return
	}
	pg.changed(w, r, res.Msg.GetLicense(), "Converted to a paid license")
}

// addToLicense adds a seat pack (add_quantity) or modules (enable_features)
// to a license.
func (pg *pages) addToLicense(w http.ResponseWriter, r *http.Request, p *principal) {
	m := &licmeshv1.AddToLicenseRequest{LicenseId: r.PathValue("id"), EnableFeatures: r.PostForm["enable_features"]}
	form := "modules"
	if r.PostForm.Has("add_quantity") {
		form = "pack"
		q, prob := formInt(r, form, "add_quantity")
		if prob != nil {
			pg.showLicense(w, r, p, http.StatusBadRequest, prob)
			return
		}
		if q < 1 {
			pg.showLicense(w, r, p, http.StatusBadRequest, &problem{Form: form, Field: "add_quantity", Message: fmt.Sprintf("add_quantity: %d: a pack adds 1 or more.", q)})
			return
		}
		m.AddQuantity = q
	} else if len(m.EnableFeatures) == 0 {
		pg.showLicense(w, r, p, http.StatusBadRequest, &problem{Form: form, Field: "enable_features", Message: "enable_features: tick at least one module to add."})
		return
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.AddToLicense(ctx, req(m))
	if err != nil {
		// The seats a pack leads to are "quantity" to the API.
		pg.refusedChange(w, r, p, form, err, "add_quantity", "enable_features", map[string]string{"pack": "add_quantity", "modules": "enable_features"}[form])
		return
	}
	what := fmt.Sprintf("%d seats added", m.AddQuantity)
	if m.AddQuantity == 0 {
		what = "Modules " + strings.Join(m.EnableFeatures, ", ") + " added"
	}
	pg.changed(w, r, res.Msg.GetLicense(), what)
}

func (pg *pages) revokeLicense(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	if r.PostForm.Get("confirm") != id {
		pg.showLicense(w, r, p, http.StatusBadRequest, &problem{Form: "revoke", Field: "confirm", Message: "confirm: type the license ID to revoke it."})
		return
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	if _, err := pg.api.RevokeLicense(ctx, req(&licmeshv1.RevokeLicenseRequest{LicenseId: id})); err != nil {
		pg.refusedChange(w, r, p, "revoke", err)
		return
	}
	pg.done(w, r, uiPrefix+"/licenses/"+id, "License "+id+" was revoked.")
}
