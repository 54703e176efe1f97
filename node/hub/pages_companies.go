package hub

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/license"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// companyRow is one line of the companies list.
type companyRow struct {
	*licmeshv1.Company
	Reseller string
	Current  int64 // licenses in force (current or expired, not replaced)
	Trials   int64 // trials ever started
}

var companyColumns = []column[companyRow]{
	{Key: "name", Label: "Name", Text: func(c companyRow) string { return c.GetName() }},
	{Key: "email", Label: "Email", Text: func(c companyRow) string { return c.GetEmail() }},
	{Key: "reseller", Label: "Reseller", Text: func(c companyRow) string { return c.Reseller }},
	{Key: "licenses", Label: "Licenses", Text: func(c companyRow) string { return strconv.FormatInt(c.Current, 10) }, Num: func(c companyRow) int64 { return c.Current }, Right: true},
	{Key: "trials", Label: "Trials", Text: func(c companyRow) string { return strconv.FormatInt(c.Trials, 10) }, Num: func(c companyRow) int64 { return c.Trials }, Right: true},
	{Key: "created", Label: "Created", Text: func(c companyRow) string { return msText(c.GetCreatedAtMs()) }, Num: func(c companyRow) int64 { return c.GetCreatedAtMs() }},
	{Key: "id", Label: "ID", Text: func(c companyRow) string { return c.GetId() }},
}

type companiesView struct {
	Companies []companyRow
	List      listView
	Resellers []*licmeshv1.Reseller
	Reseller  string
	Q         string
	New       newCompany
}

// newCompany is the create-company form as typed.
type newCompany struct {
	Name, Email, ResellerID string
}

func (pg *pages) companiesPage(w http.ResponseWriter, r *http.Request, p *principal) {
	pg.showCompanies(w, r, p, http.StatusOK, newCompany{}, nil)
}

func (pg *pages) showCompanies(w http.ResponseWriter, r *http.Request, p *principal, status int, nc newCompany, prob *problem) {
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.ListCompanies(ctx, req(&licmeshv1.ListCompaniesRequest{}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	resellers, names, err := pg.resellers(r, p)
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	lics, err := pg.visibleLicenses(r, p, res.Msg.GetCompanies(), licenseQuery{})
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	current, trials := map[string]int64{}, trialCounts(lics)
	for _, l := range lics {
		if l.GetStatus() == "current" || l.GetStatus() == "expired" {
			current[l.GetCompanyId()]++
		}
	}
	q := r.URL.Query()
	var rows []companyRow
	for _, c := range res.Msg.GetCompanies() {
		if rs := q.Get("reseller"); rs != "" && c.GetResellerId() != rs && !(rs == "direct" && c.GetResellerId() == "") {
			continue
		}
		rows = append(rows, companyRow{Company: c, Reseller: names[c.GetResellerId()], Current: current[c.GetId()], Trials: trials[c.GetId()]})
	}
	shown, lv, isCSV := csvOrList(w, r, "companies", pg.s.clk.Now(), uiPrefix+"/companies", companyColumns, rows, "name", false)
	if isCSV {
		return
	}
	title := "Companies"
	if p.Role == store.RoleReseller {
		title = "Your customers"
	}
	d := pg.data(w, r, p, "companies", title)
	d.Problem = prob
	d.Data = companiesView{Companies: shown, List: lv, Resellers: resellers, Reseller: q.Get("reseller"), Q: q.Get("q"), New: nc}
	pg.render(w, "companies", status, d)
}

// trialCounts counts each company's trials: a trial and the licenses that
// extended it share a subscription, so subscriptions are counted.
func trialCounts(lics []*licmeshv1.HubLicense) map[string]int64 {
	seen := map[string]bool{}
	out := map[string]int64{}
	for _, l := range lics {
		if l.GetType() == string(license.Trial) && !seen[l.GetSubscriptionId()] {
			seen[l.GetSubscriptionId()] = true
			out[l.GetCompanyId()]++
		}
	}
	return out
}

// resellers lists the resellers and their names by ID, when p may list
// them (a reseller may not, and needs no names but its own).
func (pg *pages) resellers(r *http.Request, p *principal) ([]*licmeshv1.Reseller, map[string]string, error) {
	names := map[string]string{}
	if !p.may(actAdmin) && !p.may(actRead) {
		return nil, names, nil
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.ListResellers(ctx, req(&licmeshv1.ListResellersRequest{}))
	if err != nil {
		return nil, nil, err
	}
	for _, rs := range res.Msg.GetResellers() {
		names[rs.GetId()] = rs.GetName()
	}
	return res.Msg.GetResellers(), names, nil
}

func (pg *pages) createCompany(w http.ResponseWriter, r *http.Request, p *principal) {
	nc := newCompany{Name: strings.TrimSpace(r.PostForm.Get("name")), Email: strings.TrimSpace(r.PostForm.Get("email")), ResellerID: r.PostForm.Get("reseller_id")}
	fail := func(status int, field, msg string) {
		pg.showCompanies(w, r, p, status, nc, &problem{Form: "company", Field: field, Message: msg})
	}
	switch {
	case nc.Name == "":
		fail(http.StatusBadRequest, "name", "name: the company's name is required.")
		return
	case nc.Email == "":
		fail(http.StatusBadRequest, "email", "email: an address to reach the company's IT is required.")
		return
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.CreateCompany(ctx, req(&licmeshv1.CreateCompanyRequest{Name: nc.Name, Email: nc.Email, ResellerId: nc.ResellerID}))
	if err != nil {
		if status, ok := inputProblem(err); ok {
			msg := message(err)
			fail(status, fieldIn(msg, "reseller_id", "email", "name"), msg)
			return
		}
		pg.failed(w, r, p, err)
		return
	}
	c := res.Msg.GetCompany()
	pg.done(w, r, uiPrefix+"/companies/"+c.GetId(), "Company "+c.GetName()+" was created.")
}

// trialOffer is a product a company may start a trial of, in one click.
type trialOffer struct {
	SKU, Name, Period string
	UsedBy            string // the license of the trial it already had
}

// newUser is the add-a-user form, and the new user's password, shown once.
type newUser struct {
	Email, Name, Password, Created string
}

type companyView struct {
	Company       *licmeshv1.Company
	ResellerName  string
	Subscriptions subscriptionList
	Licenses      []licenseRow
	History       []*licmeshv1.HistoryEvent
	Users         []*licmeshv1.Account
	Trials        []trialOffer
	Current       int
	Expired       int
	TrialsUsed    int
	Upgrades      int
	Seats         int64
	User          newUser
	// Metrics is seed 004's box: each installation's latest month.
	Metrics []metricsBox
}

func (pg *pages) companyPage(w http.ResponseWriter, r *http.Request, p *principal) {
	pg.showCompany(w, r, p, http.StatusOK, newUser{}, nil)
}

// showCompany is one company's page: its facts, its subscriptions, its
// licenses with their status, its history (trials, upgrades, packs), its
// users, and the trials it may start.
func (pg *pages) showCompany(w http.ResponseWriter, r *http.Request, p *principal, status int, nu newUser, prob *problem) {
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.GetCompany(ctx, req(&licmeshv1.GetCompanyRequest{Id: r.PathValue("id")}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	m := res.Msg
	now := pg.s.clk.Now()
	v := companyView{Company: m.GetCompany(), History: m.GetHistory(), Users: m.GetUsers(), User: nu}
	names := map[string]string{m.GetCompany().GetId(): m.GetCompany().GetName()}
	for _, l := range m.GetLicenses() {
		row := pg.licenseRowOf(l, names, now)
		v.Licenses = append(v.Licenses, row)
		switch l.GetStatus() {
		case "current":
			v.Current++
			v.Seats += l.GetQuantity()
		case "expired":
			v.Expired++
		}
	}
	slices.SortStableFunc(v.Licenses, func(a, b licenseRow) int { return cmp.Compare(b.IssuedMS, a.IssuedMS) })
	if v.Subscriptions, err = pg.subscriptionBox(r, m.GetCompany().GetId(), uiPrefix+"/companies/"+m.GetCompany().GetId(), now); err != nil {
		pg.failed(w, r, p, err)
		return
	}
	for _, e := range m.GetHistory() {
		switch e.GetKind() {
		case "trial.created":
			v.TrialsUsed++
		case "trial.converted":
			v.Upgrades++
		}
	}
	if _, names, err := pg.resellers(r, p); err == nil {
		v.ResellerName = names[m.GetCompany().GetResellerId()]
	}
	if v.Metrics, err = pg.companyMetrics(r, p, m.GetCompany().GetId()); err != nil {
		pg.failed(w, r, p, pg.api.fail("company metrics", err))
		return
	}
	if p.may(actManageLicense) || p.may(actReseller) {
		prods, err := pg.api.ListProducts(ctx, req(&licmeshv1.ListProductsRequest{}))
		if err != nil {
			pg.failed(w, r, p, err)
			return
		}
		for _, pr := range prods.Msg.GetProducts() {
			if pr.GetTrialPeriodCount() == 0 {
				continue
			}
			o := trialOffer{SKU: pr.GetSku(), Name: pr.GetName(), Period: trialText(pr)}
			for _, l := range m.GetLicenses() {
				if l.GetSku() == pr.GetSku() && l.GetType() == string(license.Trial) {
					o.UsedBy = l.GetId()
				}
			}
			v.Trials = append(v.Trials, o)
		}
	}
	d := pg.data(w, r, p, "companies", m.GetCompany().GetName())
	d.Problem, d.Data = prob, v
	pg.render(w, "company", status, d)
}

// startTrial starts a product's trial for the company in one click and
// opens the new license, ready to download.
func (pg *pages) startTrial(w http.ResponseWriter, r *http.Request, p *principal) {
	sku := r.PostForm.Get("sku")
	if sku == "" {
		pg.showCompany(w, r, p, http.StatusBadRequest, newUser{}, &problem{Form: "trial", Field: "sku", Message: "sku: choose the product to try."})
		return
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.StartTrial(ctx, req(&licmeshv1.StartTrialRequest{CompanyId: r.PathValue("id"), Sku: sku}))
	if err != nil {
		if status, ok := inputProblem(err); ok {
			pg.showCompany(w, r, p, status, newUser{}, &problem{Form: "trial", Field: "sku", Message: message(err)})
			return
		}
		pg.failed(w, r, p, err)
		return
	}
	l := res.Msg.GetLicense()
	pg.done(w, r, uiPrefix+"/licenses/"+l.GetId(), fmt.Sprintf("Trial of %s started, until %s UTC. Download the license file and install it on the customer's masters.", l.GetSku(), msText(l.GetExpiresAtMs())))
}

// addUser creates a user of the company (a customer account) through the
// API and shows its password this once.
func (pg *pages) addUser(w http.ResponseWriter, r *http.Request, p *principal) {
	nu := newUser{Email: strings.TrimSpace(r.PostForm.Get("email")), Name: strings.TrimSpace(r.PostForm.Get("name"))}
	fail := func(status int, field, msg string) {
		pg.showCompany(w, r, p, status, nu, &problem{Form: "user", Field: field, Message: msg})
	}
	switch {
	case nu.Email == "":
		fail(http.StatusBadRequest, "email", "email: the user's email address is required; it is how they sign in.")
		return
	case nu.Name == "":
		fail(http.StatusBadRequest, "name", "name: the user's name is required.")
		return
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.CreateAccount(ctx, req(&licmeshv1.CreateAccountRequest{Email: nu.Email, Name: nu.Name, Role: string(store.RoleCustomer), CompanyId: r.PathValue("id")}))
	if err != nil {
		if connect.CodeOf(err) == connect.CodeAlreadyExists {
			fail(http.StatusConflict, "email", "email: "+nu.Email+" already has an account.")
			return
		}
		if status, ok := inputProblem(err); ok {
			msg := message(err)
			fail(status, fieldIn(msg, "email", "name"), msg)
			return
		}
		pg.failed(w, r, p, err)
		return
	}
	pg.showCompany(w, r, p, http.StatusOK, newUser{Created: res.Msg.GetAccount().GetEmail(), Password: res.Msg.GetPassword()}, nil)
}

// exportCompany downloads the company's personal data (GDPR), through the
// API, which audits it.
func (pg *pages) exportCompany(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx, cancel := callCtx(r)
	defer cancel()
	id := r.PathValue("id")
	res, err := pg.api.ExportCompanyData(ctx, req(&licmeshv1.ExportCompanyDataRequest{Id: id}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-personal-data.json"`, url.PathEscape(id)))
	h.Set("Cache-Control", "no-store")
	w.Write([]byte(res.Msg.GetJson()))
}

// eraseCompany erases the company's personal data on request, through the
// API; the form asks to type the company's name first.
func (pg *pages) eraseCompany(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx, cancel := callCtx(r)
	defer cancel()
	id := r.PathValue("id")
	got, err := pg.api.GetCompany(ctx, req(&licmeshv1.GetCompanyRequest{Id: id, Summary: true}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	if r.PostForm.Get("confirm") != got.Msg.GetCompany().GetName() {
		pg.showCompany(w, r, p, http.StatusBadRequest, newUser{}, &problem{Form: "erase", Field: "confirm", Message: "confirm: type the company's name exactly, to erase its personal data."})
		return
	}
	if _, err := pg.api.EraseCompany(ctx, req(&licmeshv1.EraseCompanyRequest{Id: id})); err != nil {
		if connect.CodeOf(err) == connect.CodeNotFound {
			pg.showCompany(w, r, p, http.StatusConflict, newUser{}, &problem{Form: "erase", Message: message(err)})
			return
		}
		pg.failed(w, r, p, err)
		return
	}
	pg.done(w, r, uiPrefix+"/companies/"+id, "The company's personal data was erased; its licenses stay.")
}
