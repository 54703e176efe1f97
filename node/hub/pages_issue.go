package hub

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// issueForm is the form to issue a license, as typed.
type issueForm struct {
	CompanyID, SKU, Type, Quantity, Installations   string
	Duration, Grace, Credits, CreditUnit, ClusterID string
	Disabled                                        []string
	Companies                                       []*licmeshv1.Company
	Products                                        []*licmeshv1.Product
	Modules                                         []string // of the chosen product
	Types                                           []string
}

func (pg *pages) issueForm(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	f := issueForm{CompanyID: q.Get("company_id"), SKU: q.Get("sku"), Type: q.Get("type"), Quantity: q.Get("quantity"), Installations: "1"}
	if f.Quantity == "" {
		f.Quantity = "1"
	}
	pg.showIssueForm(w, r, p, http.StatusOK, f, nil)
}

func (pg *pages) showIssueForm(w http.ResponseWriter, r *http.Request, p *principal, status int, f issueForm, prob *problem) {
	if err := p.require(actManageLicense); err != nil {
		pg.failed(w, r, p, toConnect(err))
		return
	}
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
	f.Companies, f.Products, f.Types = cs.Msg.GetCompanies(), prods.Msg.GetProducts(), productTypes
	for _, pr := range f.Products {
		if pr.GetSku() == f.SKU {
			for _, ft := range pr.GetFeatures() {
				f.Modules = append(f.Modules, ft.GetName())
			}
		}
	}
	d := pg.data(w, r, p, "licenses", "Issue a license")
	d.Problem, d.Data = prob, f
	pg.render(w, "issue", status, d)
}

// issueLicense issues a license tailored by the form through the API.
func (pg *pages) issueLicense(w http.ResponseWriter, r *http.Request, p *principal) {
	pf := r.PostForm
	f := issueForm{CompanyID: pf.Get("company_id"), SKU: pf.Get("sku"), Type: pf.Get("type"), Quantity: strings.TrimSpace(pf.Get("quantity")),
		Installations: strings.TrimSpace(pf.Get("installations")), Duration: strings.TrimSpace(pf.Get("duration")), Grace: strings.TrimSpace(pf.Get("grace")),
		Credits: strings.TrimSpace(pf.Get("credits")), CreditUnit: strings.TrimSpace(pf.Get("credit_unit")), ClusterID: strings.TrimSpace(pf.Get("cluster_id")),
		Disabled: pf["disable_features"]}
	fail := func(status int, field, msg string) {
		pg.showIssueForm(w, r, p, status, f, &problem{Form: "issue", Field: field, Message: msg})
	}
	number := func(field, s string, dflt int64) (int64, bool) {
		if s == "" {
			return dflt, true
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fail(http.StatusBadRequest, field, fmt.Sprintf("%s: %q is not a whole number.", field, s))
			return 0, false
		}
		return n, true
	}
	switch {
	case f.CompanyID == "":
		fail(http.StatusBadRequest, "company_id", "company_id: choose the company the license is for.")
		return
	case f.SKU == "":
		fail(http.StatusBadRequest, "sku", "sku: choose the product.")
		return
	}
	q, ok := number("quantity", f.Quantity, 0)
	if !ok {
		return
	}
	inst, ok := number("installations", f.Installations, 1)
	if !ok {
		return
	}
	credits, ok := number("credits", f.Credits, 0)
	if !ok {
		return
	}
	m := &licmeshv1.IssueLicenseRequest{CompanyId: f.CompanyID, Sku: f.SKU, Type: f.Type, Quantity: q, Installations: inst}
	if f.Duration != "" || f.Grace != "" || credits != 0 || f.CreditUnit != "" || f.ClusterID != "" || len(f.Disabled) > 0 {
		m.Tailoring = &licmeshv1.Tailoring{Duration: f.Duration, Grace: f.Grace, Credits: credits, CreditUnit: f.CreditUnit, ClusterId: f.ClusterID,
			DisableFeatures: slices.DeleteFunc(slices.Clone(f.Disabled), func(s string) bool { return s == "" })}
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.IssueLicense(ctx, req(m))
	if err != nil {
		if status, ok := inputProblem(err); ok {
			msg := message(err)
			fail(status, fieldIn(msg, "quantity", "installations", "duration", "grace", "credit_unit", "credits", "cluster_id", "company", "type", "feature", "sku"), msg)
			return
		}
		if connect.CodeOf(err) == connect.CodeNotFound {
			msg, field := message(err), "sku"
			if strings.Contains(msg, "company") {
				field = "company_id"
			}
			fail(http.StatusBadRequest, field, msg)
			return
		}
		pg.failed(w, r, p, err)
		return
	}
	l := res.Msg.GetLicense()
	pg.done(w, r, uiPrefix+"/licenses/"+l.GetId(), fmt.Sprintf("License %s issued (%s %s × %d).", l.GetId(), l.GetType(), l.GetSku(), l.GetQuantity()))
}
