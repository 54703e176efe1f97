package hub

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/licmesh/licmesh/licensing/license"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

var productColumns = []column[*licmeshv1.Product]{
	{Key: "sku", Label: "SKU", Text: (*licmeshv1.Product).GetSku},
	{Key: "name", Label: "Name", Text: (*licmeshv1.Product).GetName},
	{Key: "application", Label: "Application", Text: func(p *licmeshv1.Product) string { return p.GetApplication() + " " + p.GetAppVersion() }},
	{Key: "type", Label: "Type", Text: (*licmeshv1.Product).GetType},
	{Key: "billing", Label: "Billing", Text: (*licmeshv1.Product).GetBilling},
	{Key: "trial", Label: "Trial", Text: trialText, Num: func(p *licmeshv1.Product) int64 {
		days := map[string]int64{"day": 1, "week": 7, "month": 30, "year": 365}[p.GetTrialPeriodUnit()]
		return p.GetTrialPeriodCount() * days
	}},
	{Key: "version", Label: "Version", Text: func(p *licmeshv1.Product) string { return strconv.FormatInt(p.GetVersion(), 10) }, Num: (*licmeshv1.Product).GetVersion, Right: true},
	{Key: "created", Label: "Saved", Text: func(p *licmeshv1.Product) string { return msText(p.GetCreatedAtMs()) }, Num: (*licmeshv1.Product).GetCreatedAtMs},
}

func trialText(p *licmeshv1.Product) string {
	if p.GetTrialPeriodCount() == 0 {
		return "none"
	}
	return fmt.Sprintf("%d-%s", p.GetTrialPeriodCount(), p.GetTrialPeriodUnit())
}

type productsView struct {
	Products []*licmeshv1.Product
	List     listView
	Types    []string
	Type     string
	Q        string
}

func (pg *pages) productsPage(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.ListProducts(ctx, req(&licmeshv1.ListProductsRequest{}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	q := r.URL.Query()
	rows := res.Msg.GetProducts()
	if t := q.Get("type"); t != "" {
		rows = filter(rows, func(p *licmeshv1.Product) bool { return p.GetType() == t })
	}
	shown, lv, isCSV := csvOrList(w, r, "products", pg.s.clk.Now(), uiPrefix+"/products", productColumns, rows, "sku", false)
	if isCSV {
		return
	}
	d := pg.data(w, r, p, "products", "Products")
	d.Data = productsView{Products: shown, List: lv, Types: productTypes, Type: q.Get("type"), Q: q.Get("q")}
	pg.render(w, "products", http.StatusOK, d)
}

var (
	productTypes = []string{string(license.Subscription), string(license.Perpetual), string(license.Volume)}
	billings     = []string{string(license.Monthly), string(license.Quarterly), string(license.Annually)}
	units        = []string{"", string(license.Day), string(license.Week), string(license.Month), string(license.Year)}
	calculations = []string{"", string(license.Fixed), string(license.PerQty)}
	enforcements = []string{"", "hard", "soft"}
)

type productView struct {
	Product  *licmeshv1.Product
	Versions []*licmeshv1.Product
	Latest   int64
}

func (pg *pages) productPage(w http.ResponseWriter, r *http.Request, p *principal) {
	version, _ := strconv.ParseInt(r.URL.Query().Get("version"), 10, 64)
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.GetProduct(ctx, req(&licmeshv1.GetProductRequest{Sku: r.PathValue("sku"), Version: version}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	v := productView{Product: res.Msg.GetProduct(), Versions: res.Msg.GetVersions()}
	for _, pv := range v.Versions {
		v.Latest = max(v.Latest, pv.GetVersion())
	}
	d := pg.data(w, r, p, "products", v.Product.GetName())
	d.Data = v
	pg.render(w, "product", http.StatusOK, d)
}

// entryForm is one template row of the product form, as typed.
type entryForm struct {
	Name, Users, UsersCalculation, Amount, AmountCalculation, Overage, Enforce string
}

// productForm is the product form, as typed (so a refused form comes back
// as it was sent).
type productForm struct {
	Editing                                 bool
	SKU, Name, Application, AppVersion      string
	Type, Billing, TrialCount, TrialUnit    string
	LicenseTemplate, TrialTemplate          []entryForm
	Features                                []string
	Types, Billings, Units, Calcs, Enforces []string
}

func (f *productForm) options() {
	f.Types, f.Billings, f.Units, f.Calcs, f.Enforces = productTypes, billings, units, calculations, enforcements
}

// withBlankRows gives each section one empty row to type into.
func (f productForm) withBlankRows() productForm {
	f.LicenseTemplate = append(f.LicenseTemplate[:len(f.LicenseTemplate):len(f.LicenseTemplate)], entryForm{})
	f.TrialTemplate = append(f.TrialTemplate[:len(f.TrialTemplate):len(f.TrialTemplate)], entryForm{})
	f.Features = append(f.Features[:len(f.Features):len(f.Features)], "")
	return f
}

func entriesOf(es []*licmeshv1.TemplateEntry) []entryForm {
	var out []entryForm
	num := func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	for _, e := range es {
		out = append(out, entryForm{Name: e.GetName(), Users: num(e.GetUsers()), UsersCalculation: e.GetUsersCalculation(),
			Amount: num(e.GetAmount()), AmountCalculation: e.GetAmountCalculation(), Overage: num(e.GetOverage()), Enforce: e.GetEnforce()})
	}
	return out
}

// productForm shows the form for a new product, or for a change to one
// (which the hub saves as its next version once a license was issued
// under the current one).
func (pg *pages) productForm(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := p.require(actManageLicense); err != nil {
		pg.failed(w, r, p, toConnect(err))
		return
	}
	f := productForm{Type: string(license.Subscription), Billing: string(license.Annually)}
	if sku := r.PathValue("sku"); sku != "" {
		ctx, cancel := callCtx(r)
		defer cancel()
		res, err := pg.api.GetProduct(ctx, req(&licmeshv1.GetProductRequest{Sku: sku}))
		if err != nil {
			pg.failed(w, r, p, err)
			return
		}
		pr := res.Msg.GetProduct()
		f = productForm{Editing: true, SKU: pr.GetSku(), Name: pr.GetName(), Application: pr.GetApplication(), AppVersion: pr.GetAppVersion(),
			Type: pr.GetType(), Billing: pr.GetBilling(), TrialUnit: pr.GetTrialPeriodUnit(),
			LicenseTemplate: entriesOf(pr.GetLicenseTemplate()), TrialTemplate: entriesOf(pr.GetTrialTemplate())}
		if n := pr.GetTrialPeriodCount(); n > 0 {
			f.TrialCount = strconv.FormatInt(n, 10)
		}
		for _, ft := range pr.GetFeatures() {
			f.Features = append(f.Features, ft.GetName())
		}
	}
	pg.showProductForm(w, r, p, http.StatusOK, f.withBlankRows(), nil)
}

func (pg *pages) showProductForm(w http.ResponseWriter, r *http.Request, p *principal, status int, f productForm, prob *problem) {
	f.options()
	title := "New product"
	if f.Editing {
		title = "Edit " + f.SKU
	}
	d := pg.data(w, r, p, "products", title)
	d.Problem, d.Data = prob, f
	pg.render(w, "productform", status, d)
}

// readProductForm reads the posted form: the rows as typed, and the
// product they make, or the first field that is not even a number.
func readProductForm(form url.Values) (productForm, *licmeshv1.Product, *problem) {
	f := productForm{Editing: form.Get("editing") != "", SKU: strings.TrimSpace(form.Get("sku")), Name: strings.TrimSpace(form.Get("name")),
		Application: strings.TrimSpace(form.Get("application")), AppVersion: strings.TrimSpace(form.Get("app_version")),
		Type: form.Get("type"), Billing: form.Get("billing"), TrialCount: strings.TrimSpace(form.Get("trial_period_count")), TrialUnit: form.Get("trial_period_unit")}
	rows := func(section string) []entryForm {
		col := func(name string) []string { return form[section+"."+name] }
		n := len(col("name"))
		var out []entryForm
		for i := range n {
			at := func(name string) string {
				if vs := col(name); i < len(vs) {
					return strings.TrimSpace(vs[i])
				}
				return ""
			}
			e := entryForm{Name: at("name"), Users: at("users"), UsersCalculation: at("users_calculation"), Amount: at("amount"),
				AmountCalculation: at("amount_calculation"), Overage: at("overage"), Enforce: at("enforce")}
			if e != (entryForm{}) {
				out = append(out, e)
			}
		}
		return out
	}
	f.LicenseTemplate, f.TrialTemplate = rows("license_template"), rows("trial_template")
	for _, name := range form["features.name"] {
		if name = strings.TrimSpace(name); name != "" {
			f.Features = append(f.Features, name)
		}
	}
	pr := &licmeshv1.Product{Sku: f.SKU, Name: f.Name, Application: f.Application, AppVersion: f.AppVersion, Type: f.Type, Billing: f.Billing, TrialPeriodUnit: f.TrialUnit}
	var prob *problem
	number := func(field, s string) int64 {
		if s == "" || prob != nil {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			prob = &problem{Form: "product", Field: field, Message: fmt.Sprintf("%s: %q is not a whole number of 0 or more.", field, s)}
		}
		return n
	}
	pr.TrialPeriodCount = number("trial_period_count", f.TrialCount)
	entries := func(section string, es []entryForm) []*licmeshv1.TemplateEntry {
		var out []*licmeshv1.TemplateEntry
		for i, e := range es {
			at := func(name string) string { return fmt.Sprintf("%s[%d].%s", section, i, name) }
			if e.Name == "" && prob == nil {
				prob = &problem{Form: "product", Field: section + ".name", Message: at("name") + ": every row needs the pool's name."}
			}
			out = append(out, &licmeshv1.TemplateEntry{Name: e.Name, Users: number(at("users"), e.Users), UsersCalculation: e.UsersCalculation,
				Amount: number(at("amount"), e.Amount), AmountCalculation: e.AmountCalculation, Overage: number(at("overage"), e.Overage), Enforce: e.Enforce})
		}
		return out
	}
	pr.LicenseTemplate = entries("license_template", f.LicenseTemplate)
	pr.TrialTemplate = entries("trial_template", f.TrialTemplate)
	for _, name := range f.Features {
		pr.Features = append(pr.Features, &licmeshv1.Feature{Name: name, Type: string(license.Checkbox), Scope: string(license.Instance)})
	}
	switch {
	case prob != nil:
	case f.SKU == "":
		prob = &problem{Form: "product", Field: "sku", Message: "sku: the product's identifier is required (letters, digits, . _ -)."}
	case f.SKU == "new":
		prob = &problem{Form: "product", Field: "sku", Message: `sku: "new" is the address of this form; choose another SKU.`}
	case f.Name == "":
		prob = &problem{Form: "product", Field: "name", Message: "name: the product's name is required."}
	}
	return f, pr, prob
}

// saveProduct saves the posted product through the API, or adds an empty
// row to one section of the form when that button was pressed.
func (pg *pages) saveProduct(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := p.require(actManageLicense); err != nil {
		pg.failed(w, r, p, toConnect(err))
		return
	}
	f, pr, prob := readProductForm(r.PostForm)
	if section := r.PostForm.Get("add_row"); section != "" {
		switch section {
		case "license_template":
			f.LicenseTemplate = append(f.LicenseTemplate, entryForm{})
		case "trial_template":
			f.TrialTemplate = append(f.TrialTemplate, entryForm{})
		case "features":
			f.Features = append(f.Features, "")
		}
		pg.showProductForm(w, r, p, http.StatusOK, f.withBlankRows(), nil)
		return
	}
	if prob != nil {
		pg.showProductForm(w, r, p, http.StatusBadRequest, f.withBlankRows(), prob)
		return
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.SaveProduct(ctx, req(&licmeshv1.SaveProductRequest{Product: pr}))
	if err != nil {
		if status, ok := inputProblem(err); ok {
			msg := message(err)
			pg.showProductForm(w, r, p, status, f.withBlankRows(), &problem{Form: "product", Field: fieldIn(msg, productFields...), Message: msg})
			return
		}
		pg.failed(w, r, p, err)
		return
	}
	saved := res.Msg.GetProduct()
	pg.done(w, r, uiPrefix+"/products/"+url.PathEscape(saved.GetSku()), fmt.Sprintf("Product %s saved as version %d.", saved.GetSku(), saved.GetVersion()))
}

var productFields = []string{"license_template", "trial_template", "trial_period_count", "trial_period_unit", "app_version", "application", "billing", "type", "sku", "name", "features"}

// fieldIn returns the first of fields that msg names, for the form to
// mark; the message itself names it for the reader.
func fieldIn(msg string, fields ...string) string {
	for _, f := range fields {
		if strings.Contains(msg, f) {
			return f
		}
	}
	return ""
}

// filter keeps the items keep says yes to.
func filter[T any](items []T, keep func(T) bool) []T {
	var out []T
	for _, it := range items {
		if keep(it) {
			out = append(out, it)
		}
	}
	return out
}
