package hub

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/license"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// issue signs spec's license with the current vendor key and stores it,
// with the company's history event and the audit record, in tx.
func (a *api) issue(ctx context.Context, tx *store.Tx, p *principal, remote string, spec issueSpec, event, detail string) (store.License, error) {
	pl, err := spec.payload()
	if err != nil {
		return store.License{}, err
	}
	vk, err := tx.SigningKey(ctx)
	if err != nil {
		return store.License{}, fmt.Errorf("hub: no signing key: %w", err)
	}
	priv, err := a.s.signer(vk)
	if err != nil {
		return store.License{}, err
	}
	text, err := license.SealPayload(pl, priv, license.KeyID(vk.KeyID))
	if err != nil {
		return store.License{}, fmt.Errorf("hub: sign: %w", err)
	}
	l := store.License{
		ID: spec.ID, Company: spec.Company.ID, SubscriptionID: spec.SubscriptionID, SKU: spec.Product.SKU,
		ProductVersion: spec.Product.Version, Type: pl.Type, Quantity: pl.Quantity, IssuedAt: pl.IssuedAt,
		NotBefore: pl.NotBefore, ExpiresAt: pl.ExpiresAt, KeyID: vk.KeyID, IssuedBy: p.actor(), Text: string(text),
		ClusterID: pl.ClusterID,
	}
	if pl.Type == license.Perpetual {
		l.ExpiresAt = time.Time{}
	}
	if err := tx.CreateLicense(ctx, l, spec.Supersedes...); err != nil {
		return store.License{}, err
	}
	if err := companyChange(ctx, tx, p, remote, store.Event{Company: l.Company, At: spec.Now, Kind: event, License: l.ID, Detail: detail}); err != nil {
		return store.License{}, err
	}
	a.s.m.issued.WithLabelValues(string(pl.Type)).Inc()
	return l, nil
}

func newSubscriptionID() string {
	return strings.Replace(string(store.NewLicenseID()), "lic_", "sub_", 1)
}

// quantity checks a requested quantity.
func quantity(field string, q int64) (int, error) {
	if q < 1 || q > license.MaxQuantity {
		return 0, fmt.Errorf("%w: %s %d: between 1 and %d", ErrInvalidArgument, field, q, license.MaxQuantity)
	}
	return int(q), nil
}

func (a *api) IssueLicense(ctx context.Context, req *connect.Request[licmeshv1.IssueLicenseRequest]) (*connect.Response[licmeshv1.IssueLicenseResponse], error) {
	p, remote, err := who(ctx, actManageLicense)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	q, err := quantity("quantity", m.GetQuantity())
	if err != nil {
		return nil, a.fail("IssueLicense", err)
	}
	t, err := tailoringFromWire(m.GetTailoring())
	if err != nil {
		return nil, a.fail("IssueLicense", err)
	}
	now := a.s.clk.Now()
	var l store.License
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		c, err := companyFor(ctx, tx, p, store.CompanyID(m.GetCompanyId()))
		if err != nil {
			return err
		}
		prod, err := tx.Product(ctx, license.SKU(m.GetSku()), 0)
		if err != nil {
			return err
		}
		typ := prod.Type
		if m.GetType() != "" {
			typ = license.Type(m.GetType())
		}
		if typ == license.Trial {
			return fmt.Errorf("%w: type trial: use StartTrial", ErrInvalidArgument)
		}
		spec := issueSpec{ID: store.NewLicenseID(), Product: prod, Company: c, Type: typ, Quantity: q, Installations: int(m.GetInstallations()),
			Tailoring: t, SubscriptionID: newSubscriptionID(), Now: now}
		l, err = a.issue(ctx, tx, p, remote, spec, "license.issued", fmt.Sprintf("%s %s × %d", typ, prod.SKU, q))
		return err
	})
	if err != nil {
		return nil, a.fail("IssueLicense", err)
	}
	return res(&licmeshv1.IssueLicenseResponse{License: licenseToWire(l, now)}), nil
}

func (a *api) StartTrial(ctx context.Context, req *connect.Request[licmeshv1.StartTrialRequest]) (*connect.Response[licmeshv1.StartTrialResponse], error) {
	p, remote, err := who(ctx, actManageLicense, actReseller)
	if err != nil {
		return nil, err
	}
	now := a.s.clk.Now()
	var l store.License
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		l, err = a.startTrial(ctx, tx, p, remote, store.CompanyID(req.Msg.GetCompanyId()), license.SKU(req.Msg.GetSku()), "", now)
		if err != nil || !req.Msg.GetNotify() {
			return err
		}
		return a.s.mailTrial(ctx, tx, l, now)
	})
	if err != nil {
		return nil, a.fail("StartTrial", signupCode(err))
	}
	if req.Msg.GetNotify() {
		a.s.mail.nudge()
	}
	return res(&licmeshv1.StartTrialResponse{License: licenseToWire(l, now)}), nil
}

// startTrial issues the product's trial to a company that has had none of
// that product: one trial per company and product, extended rather than
// started again.
func (a *api) startTrial(ctx context.Context, tx *store.Tx, p *principal, remote string, company store.CompanyID, sku license.SKU, bind license.ClusterID, now time.Time) (store.License, error) {
	c, err := companyFor(ctx, tx, p, company)
	if err != nil {
		return store.License{}, err
	}
	prod, err := tx.Product(ctx, sku, 0)
	if err != nil {
		return store.License{}, err
	}
	prior, err := tx.ListLicenses(ctx, store.LicenseFilter{Company: c.ID, SKU: sku, Type: license.Trial})
	if err != nil {
		return store.License{}, err
	}
	if len(prior) > 0 {
		return store.License{}, fmt.Errorf("%w: company %s already had a trial of %s (%s): extend it instead", store.ErrConflict, c.ID, sku, prior[0].ID)
	}
	spec := issueSpec{ID: store.NewLicenseID(), Product: prod, Company: c, Type: license.Trial, Quantity: 1,
		SubscriptionID: newSubscriptionID(), Now: now, Tailoring: tailoring{ClusterID: bind}}
	return a.issue(ctx, tx, p, remote, spec, "trial.created", fmt.Sprintf("%s, %d %s", prod.SKU, prod.TrialCount, prod.TrialUnit))
}

// current returns license id for changing: it must be p's to see, not
// revoked, not superseded.
func currentLicense(ctx context.Context, tx *store.Tx, p *principal, id store.LicenseID) (store.License, store.Company, error) {
	if !id.Valid() {
		return store.License{}, store.Company{}, fmt.Errorf("%w: license ID %q", ErrInvalidArgument, id)
	}
	l, err := tx.License(ctx, id)
	if err != nil {
		return store.License{}, store.Company{}, err
	}
	c, err := companyFor(ctx, tx, p, l.Company)
	if err != nil {
		return store.License{}, store.Company{}, fmt.Errorf("%w: license %s", store.ErrNotFound, id)
	}
	switch {
	case !l.RevokedAt.IsZero():
		return store.License{}, store.Company{}, fmt.Errorf("%w: license %s was revoked", ErrInvalidArgument, id)
	case l.SupersededBy != "":
		return store.License{}, store.Company{}, fmt.Errorf("%w: license %s was superseded by %s: change that one", ErrInvalidArgument, id, l.SupersededBy)
	}
	return l, c, nil
}

// reissue makes the license that replaces l with change applied to its
// signed terms, keeping its subscription.
func (a *api) reissue(ctx context.Context, tx *store.Tx, p *principal, remote string, l store.License, c store.Company, now time.Time,
	change func(spec *issueSpec, old *license.Payload) error, event, detail string) (store.License, error) {
	old, err := parseStored(l)
	if err != nil {
		return store.License{}, err
	}
	prod, err := tx.Product(ctx, l.SKU, l.ProductVersion)
	if err != nil {
		return store.License{}, err
	}
	spec := issueSpec{ID: store.NewLicenseID(), Product: prod, Company: c, Type: old.Type, Quantity: old.Quantity,
		SubscriptionID: l.SubscriptionID, Supersedes: []store.LicenseID{l.ID}, NotBefore: old.NotBefore, ExpiresAt: old.ExpiresAt,
		After: l.IssuedAt, Now: now}
	if old.Volume != nil {
		spec.Installations = old.Volume.Installations
	}
	spec.Tailoring = tailoringOf(old, prod)
	if err := change(&spec, old); err != nil {
		return store.License{}, err
	}
	return a.issue(ctx, tx, p, remote, spec, event, detail)
}

// tailoringOf recovers what was tailored in a signed license, so that a
// reissue keeps it.
func tailoringOf(old *license.Payload, prod store.Product) tailoring {
	t := tailoring{Pools: old.Pools, ClusterID: old.ClusterID, Grace: old.Grace}
	if old.Credits != nil {
		t.Credits, t.CreditUnit = old.Credits.Balance, old.Credits.Unit
	}
	for _, f := range old.Features {
		if !f.Enabled && slices.ContainsFunc(prod.Features, func(pf license.Feature) bool { return pf.Name == f.Name }) {
			t.DisableFeatures = append(t.DisableFeatures, f.Name)
		}
	}
	return t
}

// parseStored reads the payload of a license the hub signed.
func parseStored(l store.License) (*license.Payload, error) {
	env, err := license.Open([]byte(l.Text))
	if err != nil {
		return nil, fmt.Errorf("hub: stored license %s: %w", l.ID, err)
	}
	return license.ParsePayload(env.Payload)
}

func (a *api) ExtendLicense(ctx context.Context, req *connect.Request[licmeshv1.ExtendLicenseRequest]) (*connect.Response[licmeshv1.ExtendLicenseResponse], error) {
	p, remote, err := who(ctx, actManageLicense)
	if err != nil {
		return nil, err
	}
	var by license.Duration
	if s := req.Msg.GetBy(); s != "" {
		if by, err = license.ParseDuration(s); err != nil || by <= 0 {
			return nil, a.fail("ExtendLicense", fmt.Errorf("%w: by %q: a duration like 14d or 720h", ErrInvalidArgument, s))
		}
	}
	now := a.s.clk.Now()
	var l store.License
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		cur, c, err := currentLicense(ctx, tx, p, store.LicenseID(req.Msg.GetLicenseId()))
		if err != nil {
			return err
		}
		l, err = a.reissue(ctx, tx, p, remote, cur, c, now, func(spec *issueSpec, old *license.Payload) error {
			if old.Type == license.Perpetual {
				return fmt.Errorf("%w: a perpetual license does not expire", ErrInvalidArgument)
			}
			ext := time.Duration(by)
			if ext == 0 {
				if old.Type != license.Trial {
					return fmt.Errorf("%w: by: how much longer (e.g. 1y is 365d)", ErrInvalidArgument)
				}
				ext = spec.Product.TrialUnit.Add(old.ExpiresAt, spec.Product.TrialCount).Sub(old.ExpiresAt)
			}
			// An expired license is extended from now, not from its old end.
			from := old.ExpiresAt
			if from.Before(now) {
				from = now
			}
			spec.ExpiresAt = from.Add(ext)
			return nil
		}, "license.extended", "")
		return err
	})
	if err != nil {
		return nil, a.fail("ExtendLicense", err)
	}
	return res(&licmeshv1.ExtendLicenseResponse{License: licenseToWire(l, now)}), nil
}

func (a *api) ConvertTrial(ctx context.Context, req *connect.Request[licmeshv1.ConvertTrialRequest]) (*connect.Response[licmeshv1.ConvertTrialResponse], error) {
	p, remote, err := who(ctx, actManageLicense)
	if err != nil {
		return nil, err
	}
	q, err := quantity("quantity", req.Msg.GetQuantity())
	if err != nil {
		return nil, a.fail("ConvertTrial", err)
	}
	now := a.s.clk.Now()
	var l store.License
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		cur, c, err := currentLicense(ctx, tx, p, store.LicenseID(req.Msg.GetLicenseId()))
		if err != nil {
			return err
		}
		if cur.Type != license.Trial {
			return fmt.Errorf("%w: license %s is a %s, not a trial", ErrInvalidArgument, cur.ID, cur.Type)
		}
		// The paid license is issued from the product's latest version: a
		// conversion buys what is sold now.
		prod, err := tx.Product(ctx, cur.SKU, 0)
		if err != nil {
			return err
		}
		// A trial bound to a cluster (the trial button) converts to a
		// license bound to the same cluster, which its license check
		// then brings.
		spec := issueSpec{ID: store.NewLicenseID(), Product: prod, Company: c, Type: prod.Type, Quantity: q, Installations: 1,
			SubscriptionID: cur.SubscriptionID, Supersedes: []store.LicenseID{cur.ID}, After: cur.IssuedAt, Now: now,
			Tailoring: tailoring{ClusterID: cur.ClusterID}}
		l, err = a.issue(ctx, tx, p, remote, spec, "trial.converted", fmt.Sprintf("%s × %d", prod.Type, q))
		return err
	})
	if err != nil {
		return nil, a.fail("ConvertTrial", err)
	}
	return res(&licmeshv1.ConvertTrialResponse{License: licenseToWire(l, now)}), nil
}

func (a *api) AddToLicense(ctx context.Context, req *connect.Request[licmeshv1.AddToLicenseRequest]) (*connect.Response[licmeshv1.AddToLicenseResponse], error) {
	p, remote, err := who(ctx, actManageLicense, actReseller)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	if m.GetAddQuantity() < 0 || (m.GetAddQuantity() == 0 && len(m.GetEnableFeatures()) == 0) {
		return nil, a.fail("AddToLicense", fmt.Errorf("%w: add_quantity (a seat pack, > 0) or enable_features (modules)", ErrInvalidArgument))
	}
	if p.Role == store.RoleReseller && len(m.GetEnableFeatures()) > 0 {
		return nil, a.fail("AddToLicense", fmt.Errorf("%w: a reseller adds seat packs; modules are the vendor's", ErrPermission))
	}
	now := a.s.clk.Now()
	var l store.License
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		cur, c, err := currentLicense(ctx, tx, p, store.LicenseID(m.GetLicenseId()))
		if err != nil {
			return err
		}
		var parts []string
		if m.GetAddQuantity() > 0 {
			parts = append(parts, fmt.Sprintf("+%d seats pack", m.GetAddQuantity()))
		}
		if len(m.GetEnableFeatures()) > 0 {
			parts = append(parts, "modules "+strings.Join(m.GetEnableFeatures(), ", "))
		}
		l, err = a.reissue(ctx, tx, p, remote, cur, c, now, func(spec *issueSpec, old *license.Payload) error {
			if old.Type == license.Trial && m.GetAddQuantity() > 0 {
				return fmt.Errorf("%w: a trial has a fixed size; convert it first", ErrInvalidArgument)
			}
			q, err := quantity("quantity after the pack", int64(old.Quantity)+m.GetAddQuantity())
			if err != nil {
				return err
			}
			spec.Quantity = q
			for _, f := range m.GetEnableFeatures() {
				if !slices.ContainsFunc(spec.Product.Features, func(pf license.Feature) bool { return pf.Name == f }) {
					return fmt.Errorf("%w: enable_features: %q is not a module of %s", ErrInvalidArgument, f, spec.Product.SKU)
				}
				spec.Tailoring.DisableFeatures = slices.DeleteFunc(spec.Tailoring.DisableFeatures, func(d string) bool { return d == f })
			}
			return nil
		}, "license.added", strings.Join(parts, "; "))
		return err
	})
	if err != nil {
		return nil, a.fail("AddToLicense", err)
	}
	return res(&licmeshv1.AddToLicenseResponse{License: licenseToWire(l, now)}), nil
}

func (a *api) RevokeLicense(ctx context.Context, req *connect.Request[licmeshv1.RevokeLicenseRequest]) (*connect.Response[licmeshv1.RevokeLicenseResponse], error) {
	p, remote, err := who(ctx, actManageLicense)
	if err != nil {
		return nil, err
	}
	now := a.s.clk.Now()
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		cur, _, err := currentLicense(ctx, tx, p, store.LicenseID(req.Msg.GetLicenseId()))
		if err != nil {
			return err
		}
		if err := tx.RevokeLicense(ctx, cur.ID, now); err != nil {
			return err
		}
		return companyChange(ctx, tx, p, remote, store.Event{Company: cur.Company, At: now, Kind: "license.revoked", License: cur.ID})
	})
	if err != nil {
		return nil, a.fail("RevokeLicense", err)
	}
	return res(&licmeshv1.RevokeLicenseResponse{}), nil
}

func (a *api) ListIssuedLicenses(ctx context.Context, req *connect.Request[licmeshv1.ListIssuedLicensesRequest]) (*connect.Response[licmeshv1.ListIssuedLicensesResponse], error) {
	p, _, err := who(ctx, actRead, actReseller, actPortal)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	f := store.LicenseFilter{Company: store.CompanyID(m.GetCompanyId()), SKU: license.SKU(m.GetSku()), Type: license.Type(m.GetType()),
		Current: m.GetCurrent(), Limit: int(m.GetLimit()), After: store.LicenseID(m.GetAfter())}
	now := a.s.clk.Now()
	var out licmeshv1.ListIssuedLicensesResponse
	err = a.s.store.Read(ctx, func(tx *store.Tx) error {
		switch {
		case p.Role == store.RoleCustomer:
			f.Company = p.Company
		case p.Role == store.RoleReseller && f.Company == "":
			return fmt.Errorf("%w: a reseller lists one customer's licenses at a time (company_id)", ErrInvalidArgument)
		}
		if f.Company != "" {
			if _, err := companyFor(ctx, tx, p, f.Company); err != nil {
				return err
			}
		}
		ls, err := tx.ListLicenses(ctx, f)
		for _, l := range ls {
			out.Licenses = append(out.Licenses, licenseToWire(l, now))
		}
		return err
	})
	if err != nil {
		return nil, a.fail("ListIssuedLicenses", err)
	}
	return res(&out), nil
}

func (a *api) GetIssuedLicense(ctx context.Context, req *connect.Request[licmeshv1.GetIssuedLicenseRequest]) (*connect.Response[licmeshv1.GetIssuedLicenseResponse], error) {
	p, _, err := who(ctx)
	if err != nil {
		return nil, err
	}
	now := a.s.clk.Now()
	var out licmeshv1.GetIssuedLicenseResponse
	err = a.s.store.Read(ctx, func(tx *store.Tx) error {
		id := store.LicenseID(req.Msg.GetId())
		if !id.Valid() {
			return fmt.Errorf("%w: license ID %q", ErrInvalidArgument, id)
		}
		l, err := tx.License(ctx, id)
		if err != nil {
			return err
		}
		if _, err := companyFor(ctx, tx, p, l.Company); err != nil {
			return fmt.Errorf("%w: license %s", store.ErrNotFound, id)
		}
		out.License = licenseToWire(l, now)
		return nil
	})
	if err != nil {
		return nil, a.fail("GetIssuedLicense", err)
	}
	return res(&out), nil
}
