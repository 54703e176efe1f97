package hub

import (
	"fmt"
	"time"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

func msOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func templateToWire(es []license.TemplateEntry) []*licmeshv1.TemplateEntry {
	out := make([]*licmeshv1.TemplateEntry, 0, len(es))
	for _, e := range es {
		w := &licmeshv1.TemplateEntry{Name: e.Name, Users: int64(e.Users), UsersCalculation: string(e.UsersCalculation),
			Amount: e.Amount, AmountCalculation: string(e.AmountCalculation), Overage: int64(e.Overage)}
		if e.Enforce != 0 {
			w.Enforce = e.Enforce.String()
		}
		out = append(out, w)
	}
	return out
}

// templateFromWire converts template entries; field names the request
// field in errors.
func templateFromWire(field string, ws []*licmeshv1.TemplateEntry) ([]license.TemplateEntry, error) {
	out := make([]license.TemplateEntry, 0, len(ws))
	for i, w := range ws {
		e := license.TemplateEntry{Name: w.GetName(), Users: int(w.GetUsers()), UsersCalculation: license.Calculation(w.GetUsersCalculation()),
			Amount: w.GetAmount(), AmountCalculation: license.Calculation(w.GetAmountCalculation()), Overage: int(w.GetOverage())}
		if w.GetEnforce() != "" {
			enf, err := lease.ParseEnforcement(w.GetEnforce())
			if err != nil {
				return nil, fmt.Errorf("%w: %s[%d].enforce: %q: hard or soft", ErrInvalidArgument, field, i, w.GetEnforce())
			}
			e.Enforce = enf
		}
		out = append(out, e)
	}
	return out, nil
}

func featuresToWire(fs []license.Feature) []*licmeshv1.Feature {
	out := make([]*licmeshv1.Feature, 0, len(fs))
	for _, f := range fs {
		out = append(out, &licmeshv1.Feature{Name: f.Name, Type: string(f.Type), Scope: string(f.Scope), Enabled: f.Enabled})
	}
	return out
}

func productToWire(p store.Product) *licmeshv1.Product {
	return &licmeshv1.Product{
		Sku: string(p.SKU), Version: int64(p.Version), Name: p.Name, Application: p.Application, AppVersion: p.AppVersion,
		Type: string(p.Type), Billing: string(p.Billing), TrialPeriodCount: int64(p.TrialCount), TrialPeriodUnit: string(p.TrialUnit),
		TrialTemplate: templateToWire(p.TrialTemplate), LicenseTemplate: templateToWire(p.LicenseTemplate),
		Features: featuresToWire(p.Features), CreatedAtMs: msOf(p.CreatedAt),
	}
}

func productFromWire(w *licmeshv1.Product) (store.Product, error) {
	if w == nil {
		return store.Product{}, fmt.Errorf("%w: product is required", ErrInvalidArgument)
	}
	trial, err := templateFromWire("trial_template", w.GetTrialTemplate())
	if err != nil {
		return store.Product{}, err
	}
	lic, err := templateFromWire("license_template", w.GetLicenseTemplate())
	if err != nil {
		return store.Product{}, err
	}
	p := store.Product{
		SKU: license.SKU(w.GetSku()), Name: w.GetName(), Application: w.GetApplication(), AppVersion: w.GetAppVersion(),
		Type: license.Type(w.GetType()), Billing: license.Billing(w.GetBilling()), TrialCount: int(w.GetTrialPeriodCount()),
		TrialUnit: license.Unit(w.GetTrialPeriodUnit()), TrialTemplate: trial, LicenseTemplate: lic,
	}
	for _, f := range w.GetFeatures() {
		p.Features = append(p.Features, license.Feature{Name: f.GetName(), Type: license.FeatureType(f.GetType()), Scope: license.Scope(f.GetScope())})
	}
	return p, nil
}

func companyToWire(c store.Company) *licmeshv1.Company {
	return &licmeshv1.Company{Id: string(c.ID), Name: c.Name, Email: c.Email, ResellerId: string(c.Reseller),
		CreatedAtMs: msOf(c.CreatedAt), ErasedAtMs: msOf(c.ErasedAt)}
}

func accountToWire(a store.Account) *licmeshv1.Account {
	return &licmeshv1.Account{Id: string(a.ID), Email: a.Email, Name: a.Name, Role: string(a.Role), CompanyId: string(a.Company),
		ResellerId: string(a.Reseller), CreatedAtMs: msOf(a.CreatedAt), DisabledAtMs: msOf(a.DisabledAt)}
}

// licenseStatus is where a license stands at now.
func licenseStatus(l store.License, now time.Time) string {
	switch {
	case !l.RevokedAt.IsZero():
		return "revoked"
	case l.SupersededBy != "":
		return "superseded"
	case !l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt):
		return "expired"
	default:
		return "current"
	}
}

func licenseToWire(l store.License, now time.Time) *licmeshv1.HubLicense {
	return &licmeshv1.HubLicense{
		Id: string(l.ID), CompanyId: string(l.Company), SubscriptionId: l.SubscriptionID, Sku: string(l.SKU),
		ProductVersion: int64(l.ProductVersion), Type: string(l.Type), Quantity: int64(l.Quantity),
		IssuedAtMs: msOf(l.IssuedAt), NotBeforeMs: msOf(l.NotBefore), ExpiresAtMs: msOf(l.ExpiresAt), KeyId: l.KeyID,
		SupersededBy: string(l.SupersededBy), RevokedAtMs: msOf(l.RevokedAt), IssuedBy: l.IssuedBy, Text: l.Text,
		Status: licenseStatus(l, now), ClusterId: string(l.ClusterID),
	}
}

func tailoringFromWire(w *licmeshv1.Tailoring) (tailoring, error) {
	var t tailoring
	if w == nil {
		return t, nil
	}
	for i, p := range w.GetPools() {
		enf, err := lease.ParseEnforcement(p.GetEnforce())
		if err != nil {
			return t, fmt.Errorf("%w: tailoring.pools[%d].enforce: %q: hard or soft", ErrInvalidArgument, i, p.GetEnforce())
		}
		t.Pools = append(t.Pools, license.Pool{Name: p.GetName(), Seats: int(p.GetSeats()), Enforce: enf, Overage: int(p.GetOverage()), Amount: p.GetAmount()})
	}
	t.EnableFeatures, t.DisableFeatures = w.GetEnableFeatures(), w.GetDisableFeatures()
	for _, d := range []struct {
		field string
		in    string
		out   *license.Duration
	}{{"duration", w.GetDuration(), &t.Duration}, {"grace", w.GetGrace(), &t.Grace}} {
		if d.in == "" {
			continue
		}
		v, err := license.ParseDuration(d.in)
		if err != nil || v <= 0 {
			return t, fmt.Errorf("%w: tailoring.%s: %q: a duration like 90d or 720h", ErrInvalidArgument, d.field, d.in)
		}
		*d.out = v
	}
	t.Credits, t.CreditUnit, t.ClusterID = w.GetCredits(), w.GetCreditUnit(), license.ClusterID(w.GetClusterId())
	if t.Credits < 0 {
		return t, fmt.Errorf("%w: tailoring.credits: %d is negative", ErrInvalidArgument, t.Credits)
	}
	if t.Credits > 0 && t.CreditUnit == "" {
		return t, fmt.Errorf("%w: tailoring.credit_unit: credits need a unit (case, api_call...)", ErrInvalidArgument)
	}
	return t, nil
}
