package hub

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// --- resellers ---

type resellerRow struct {
	*licmeshv1.Reseller
	Customers int64
}

var resellerColumns = []column[resellerRow]{
	{Key: "name", Label: "Name", Text: func(r resellerRow) string { return r.GetName() }},
	{Key: "id", Label: "ID", Text: func(r resellerRow) string { return r.GetId() }},
	{Key: "customers", Label: "Customers", Text: func(r resellerRow) string { return strconv.FormatInt(r.Customers, 10) }, Num: func(r resellerRow) int64 { return r.Customers }, Right: true},
	{Key: "created", Label: "Created", Text: func(r resellerRow) string { return msText(r.GetCreatedAtMs()) }, Num: func(r resellerRow) int64 { return r.GetCreatedAtMs() }},
}

type resellersView struct {
	Resellers []resellerRow
	List      listView
	Q         string
	Name      string
}

func (pg *pages) resellersPage(w http.ResponseWriter, r *http.Request, p *principal) {
	pg.showResellers(w, r, p, http.StatusOK, "", nil)
}

func (pg *pages) showResellers(w http.ResponseWriter, r *http.Request, p *principal, status int, name string, prob *problem) {
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.ListResellers(ctx, req(&licmeshv1.ListResellersRequest{}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	customers := map[string]int64{}
	if p.may(actRead) {
		cs, err := pg.api.ListCompanies(ctx, req(&licmeshv1.ListCompaniesRequest{}))
		if err != nil {
			pg.failed(w, r, p, err)
			return
		}
		for _, c := range cs.Msg.GetCompanies() {
			customers[c.GetResellerId()]++
		}
	}
	var rows []resellerRow
	for _, rs := range res.Msg.GetResellers() {
		rows = append(rows, resellerRow{Reseller: rs, Customers: customers[rs.GetId()]})
	}
	shown, lv, isCSV := csvOrList(w, r, "resellers", pg.s.clk.Now(), uiPrefix+"/resellers", resellerColumns, rows, "name", false)
	if isCSV {
		return
	}
	d := pg.data(w, r, p, "resellers", "Resellers")
	d.Problem, d.Data = prob, resellersView{Resellers: shown, List: lv, Q: r.URL.Query().Get("q"), Name: name}
	pg.render(w, "resellers", status, d)
}

func (pg *pages) createReseller(w http.ResponseWriter, r *http.Request, p *principal) {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	if name == "" {
		pg.showResellers(w, r, p, http.StatusBadRequest, name, &problem{Form: "reseller", Field: "name", Message: "name: the reseller's name is required."})
		return
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.CreateReseller(ctx, req(&licmeshv1.CreateResellerRequest{Name: name}))
	if err != nil {
		if status, ok := inputProblem(err); ok {
			pg.showResellers(w, r, p, status, name, &problem{Form: "reseller", Field: "name", Message: message(err)})
			return
		}
		pg.failed(w, r, p, err)
		return
	}
	pg.done(w, r, uiPrefix+"/resellers", "Reseller "+res.Msg.GetReseller().GetName()+" was created ("+res.Msg.GetReseller().GetId()+"). Create an account of role reseller for its people.")
}

// --- accounts ---

type accountRow struct {
	*licmeshv1.Account
	Company, Reseller string
}

func (a accountRow) Status() string {
	if a.GetDisabledAtMs() != 0 {
		return "disabled"
	}
	return "active"
}

var accountColumns = []column[accountRow]{
	{Key: "email", Label: "Email", Text: func(a accountRow) string { return a.GetEmail() }},
	{Key: "name", Label: "Name", Text: func(a accountRow) string { return a.GetName() }},
	{Key: "role", Label: "Role", Text: func(a accountRow) string { return a.GetRole() }},
	{Key: "company", Label: "Company", Text: func(a accountRow) string { return a.Company }},
	{Key: "reseller", Label: "Reseller", Text: func(a accountRow) string { return a.Reseller }},
	{Key: "status", Label: "Status", Text: accountRow.Status},
	{Key: "created", Label: "Created", Text: func(a accountRow) string { return msText(a.GetCreatedAtMs()) }, Num: func(a accountRow) int64 { return a.GetCreatedAtMs() }},
}

// newAccount is the create-account form as typed, and the new account's
// password, shown once.
type newAccount struct {
	Email, Name, Role, CompanyID, ResellerID string
	Created, Password                        string
}

type accountsView struct {
	Accounts  []accountRow
	List      listView
	Roles     []store.Role
	NewRoles  []store.Role
	Companies []*licmeshv1.Company
	Resellers []*licmeshv1.Reseller
	Filter    map[string]string
	New       newAccount
}

func (pg *pages) accountsPage(w http.ResponseWriter, r *http.Request, p *principal) {
	pg.showAccounts(w, r, p, http.StatusOK, newAccount{Role: string(store.RoleCustomer)}, nil)
}

func (pg *pages) showAccounts(w http.ResponseWriter, r *http.Request, p *principal, status int, na newAccount, prob *problem) {
	q := r.URL.Query()
	f := map[string]string{"role": q.Get("role"), "company": q.Get("company"), "status": q.Get("status"), "q": q.Get("q")}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.ListAccounts(ctx, req(&licmeshv1.ListAccountsRequest{Role: f["role"], CompanyId: f["company"]}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	cs, err := pg.api.ListCompanies(ctx, req(&licmeshv1.ListCompaniesRequest{}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	resellers, rnames, err := pg.resellers(r, p)
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	cnames := map[string]string{}
	for _, c := range cs.Msg.GetCompanies() {
		cnames[c.GetId()] = c.GetName()
	}
	var rows []accountRow
	for _, a := range res.Msg.GetAccounts() {
		row := accountRow{Account: a, Company: cnames[a.GetCompanyId()], Reseller: rnames[a.GetResellerId()]}
		if st := f["status"]; st != "" && row.Status() != st {
			continue
		}
		rows = append(rows, row)
	}
	shown, lv, isCSV := csvOrList(w, r, "accounts", pg.s.clk.Now(), uiPrefix+"/accounts", accountColumns, rows, "email", false)
	if isCSV {
		return
	}
	v := accountsView{Accounts: shown, List: lv, Roles: store.Roles, Companies: cs.Msg.GetCompanies(), Resellers: resellers, Filter: f, New: na,
		NewRoles: []store.Role{store.RoleCustomer}}
	if p.may(actAdmin) {
		v.NewRoles = store.Roles
	}
	d := pg.data(w, r, p, "accounts", "Accounts")
	d.Problem, d.Data = prob, v
	pg.render(w, "accounts", status, d)
}

// createAccount creates an account through the API and shows its
// password this once.
func (pg *pages) createAccount(w http.ResponseWriter, r *http.Request, p *principal) {
	pf := r.PostForm
	na := newAccount{Email: strings.TrimSpace(pf.Get("email")), Name: strings.TrimSpace(pf.Get("name")), Role: pf.Get("role"),
		CompanyID: pf.Get("company_id"), ResellerID: pf.Get("reseller_id")}
	fail := func(status int, field, msg string) {
		pg.showAccounts(w, r, p, status, na, &problem{Form: "account", Field: field, Message: msg})
	}
	switch {
	case na.Email == "":
		fail(http.StatusBadRequest, "email", "email: the address the person signs in with is required.")
		return
	case na.Name == "":
		fail(http.StatusBadRequest, "name", "name: the person's name is required.")
		return
	case !store.Role(na.Role).Valid():
		fail(http.StatusBadRequest, "role", "role: choose one of "+strings.Join(roleNames(), ", ")+".")
		return
	case na.Role == string(store.RoleCustomer) && na.CompanyID == "":
		fail(http.StatusBadRequest, "company_id", "company_id: a customer's user belongs to a company; choose it.")
		return
	case na.Role == string(store.RoleReseller) && na.ResellerID == "":
		fail(http.StatusBadRequest, "reseller_id", "reseller_id: a reseller's user belongs to a reseller; choose it.")
		return
	}
	if na.Role != string(store.RoleCustomer) {
		na.CompanyID = ""
	}
	if na.Role != string(store.RoleReseller) {
		na.ResellerID = ""
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.CreateAccount(ctx, req(&licmeshv1.CreateAccountRequest{Email: na.Email, Name: na.Name, Role: na.Role, CompanyId: na.CompanyID, ResellerId: na.ResellerID}))
	if err != nil {
		if connect.CodeOf(err) == connect.CodeAlreadyExists {
			fail(http.StatusConflict, "email", "email: "+na.Email+" already has an account.")
			return
		}
		if status, ok := inputProblem(err); ok {
			msg := message(err)
			fail(status, fieldIn(msg, "email", "name", "role", "company", "reseller"), msg)
			return
		}
		pg.failed(w, r, p, err)
		return
	}
	pg.showAccounts(w, r, p, http.StatusOK, newAccount{Role: na.Role, Created: res.Msg.GetAccount().GetEmail(), Password: res.Msg.GetPassword()}, nil)
}

func roleNames() []string {
	var out []string
	for _, r := range store.Roles {
		out = append(out, string(r))
	}
	return out
}

func (pg *pages) disableAccount(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx, cancel := callCtx(r)
	defer cancel()
	id := r.PathValue("id")
	if _, err := pg.api.DisableAccount(ctx, req(&licmeshv1.DisableAccountRequest{Id: id})); err != nil {
		if status, ok := inputProblem(err); ok {
			pg.showAccounts(w, r, p, status, newAccount{Role: string(store.RoleCustomer)}, &problem{Form: "disable", Message: message(err)})
			return
		}
		pg.failed(w, r, p, err)
		return
	}
	pg.done(w, r, uiPrefix+"/accounts", "Account "+id+" was disabled: it can no longer sign in, and its API keys stop working.")
}

// --- audit ---

var auditColumns = []column[*licmeshv1.AuditEntry]{
	{Key: "at", Label: "Time (UTC)", Text: func(e *licmeshv1.AuditEntry) string { return msText(e.GetAtMs()) }, Num: (*licmeshv1.AuditEntry).GetAtMs},
	{Key: "actor", Label: "Who", Text: (*licmeshv1.AuditEntry).GetActor},
	{Key: "action", Label: "Action", Text: (*licmeshv1.AuditEntry).GetAction},
	{Key: "target", Label: "Target", Text: (*licmeshv1.AuditEntry).GetTarget},
	{Key: "detail", Label: "Detail", Text: (*licmeshv1.AuditEntry).GetDetail},
	{Key: "remote", Label: "From", Text: (*licmeshv1.AuditEntry).GetRemote},
}

// auditScan bounds how many entries one audit page reads to find a page
// of matches.
const auditScan = 20_000

type auditView struct {
	Entries []*licmeshv1.AuditEntry
	List    listView
	Filter  map[string]string
	Older   string
	Newest  string
}

// auditPage pages back through the audit log, newest first, pageSize
// entries that match the filters at a time. The log is paged by time
// (before, in ms); entries of one millisecond are told apart by how many
// of them were already shown (skip), so none is lost between pages.
func (pg *pages) auditPage(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	f := map[string]string{"actor": strings.TrimSpace(q.Get("actor")), "action": strings.TrimSpace(q.Get("action")), "q": q.Get("q")}
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	skip, _ := strconv.Atoi(q.Get("skip"))
	want := pageSize
	if wantsCSV(r) {
		want = auditScan
	}
	match := func(e *licmeshv1.AuditEntry) bool {
		return (f["actor"] == "" || strings.Contains(strings.ToLower(e.GetActor()), strings.ToLower(f["actor"]))) &&
			(f["action"] == "" || strings.HasPrefix(e.GetAction(), f["action"])) &&
			len(searchRows(auditColumns, []*licmeshv1.AuditEntry{e}, f["q"])) == 1
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	const batch = 500
	var rows []*licmeshv1.AuditEntry
	lastAt, same := before-1, max(skip, 0)
	more, exhausted := false, false
	for scanned := 0; scanned < auditScan; {
		res, err := pg.api.ListAudit(ctx, req(&licmeshv1.ListAuditRequest{BeforeMs: before, Limit: batch}))
		if err != nil {
			pg.failed(w, r, p, err)
			return
		}
		es := res.Msg.GetEntries()
		if skip >= len(es) && len(es) == batch {
			// More entries in one millisecond than a batch: step past it.
			before, skip, lastAt, same = lastAt, 0, lastAt-1, 0
			continue
		}
		es = es[min(max(skip, 0), len(es)):]
		for i, e := range es {
			scanned++
			if e.GetAtMs() == lastAt {
				same++
			} else {
				lastAt, same = e.GetAtMs(), 1
			}
			if !match(e) {
				continue
			}
			rows = append(rows, e)
			if len(rows) == want {
				more = i < len(es)-1 || len(res.Msg.GetEntries()) == batch
				break
			}
		}
		if len(rows) == want {
			break
		}
		if len(res.Msg.GetEntries()) < batch {
			exhausted = true
			break
		}
		before, skip = lastAt+1, same
	}
	if len(rows) < want {
		more = !exhausted // the scan stopped at its bound, not at the end
	}
	if wantsCSV(r) {
		rows, _, _ = arrange(q, auditColumns, rows, "at", true)
		writeCSV(w, "audit", pg.s.clk.Now(), auditColumns, rows)
		return
	}
	shown, lv := list(r, uiPrefix+"/audit", auditColumns, rows, "at", true)
	v := auditView{Entries: shown, List: lv, Filter: f}
	keep := func(set map[string]string) string {
		u := url.Values{}
		for k, vs := range q {
			u[k] = slices.Clone(vs)
		}
		u.Del("page")
		for k, val := range set {
			if val == "" {
				u.Del(k)
			} else {
				u.Set(k, val)
			}
		}
		if s := u.Encode(); s != "" {
			return uiPrefix + "/audit?" + s
		}
		return uiPrefix + "/audit"
	}
	if more {
		v.Older = keep(map[string]string{"before": strconv.FormatInt(lastAt+1, 10), "skip": strconv.Itoa(same)})
	}
	if q.Get("before") != "" {
		v.Newest = keep(map[string]string{"before": "", "skip": ""})
	}
	d := pg.data(w, r, p, "audit", "Audit log")
	d.Data = v
	pg.render(w, "audit", http.StatusOK, d)
}
