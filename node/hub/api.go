package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/license"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// api implements HubService. Each call: who may make it, what it reads or
// changes in one transaction with its audit record, and its answer.
type api struct{ s *Server }

func res[T any](m *T) *connect.Response[T] { return connect.NewResponse(m) }

// fail converts err for the client, logging it first when it is the
// hub's own fault (the client then sees only "internal error").
func (a *api) fail(procedure string, err error) error {
	ce := toConnect(err)
	if connect.CodeOf(ce) == connect.CodeInternal {
		a.s.log.Error("hub: call failed", "procedure", procedure, "err", err)
	}
	return ce
}

// audit writes the audit record of a change by p.
func audit(ctx context.Context, tx *store.Tx, p *principal, remote string, at time.Time, action, target, detail string) error {
	return tx.Audit(ctx, store.AuditEntry{At: at, Actor: p.actor(), Action: action, Target: target, Detail: detail, Remote: remote})
}

// companyChange records a change to a company's history and, under the
// same action name, in the audit log (its target the license, or the
// company when ev has none).
func companyChange(ctx context.Context, tx *store.Tx, p *principal, remote string, ev store.Event) error {
	if err := tx.RecordEvent(ctx, ev); err != nil {
		return err
	}
	target := string(ev.License)
	if target == "" {
		target = string(ev.Company)
	}
	return audit(ctx, tx, p, remote, ev.At, ev.Kind, target, ev.Detail)
}

func (a *api) WhoAmI(ctx context.Context, _ *connect.Request[licmeshv1.WhoAmIRequest]) (*connect.Response[licmeshv1.WhoAmIResponse], error) {
	p, _, err := who(ctx)
	if err != nil {
		return nil, err
	}
	return res(&licmeshv1.WhoAmIResponse{AccountId: string(p.ID), Email: p.Email, Name: p.Name, Role: string(p.Role),
		CompanyId: string(p.Company), ResellerId: string(p.Reseller)}), nil
}

// --- products ---

// checkProduct validates a product by issuing, in memory, the licenses it
// would make: a product saved here is one whose licenses masters accept.
func (a *api) checkProduct(p store.Product) error {
	switch p.Type {
	case license.Subscription, license.Perpetual, license.Volume:
	default:
		return fmt.Errorf("%w: product.type %q: subscription, perpetual or volume", ErrInvalidArgument, p.Type)
	}
	switch p.Billing {
	case license.Monthly, license.Quarterly, license.Annually:
	default:
		return fmt.Errorf("%w: product.billing %q: monthly, quarterly or annually", ErrInvalidArgument, p.Billing)
	}
	if len(p.LicenseTemplate) == 0 {
		return fmt.Errorf("%w: product.license_template: at least one entry", ErrInvalidArgument)
	}
	co := store.Company{ID: store.NewCompanyID(), Name: "check"}
	spec := issueSpec{ID: store.NewLicenseID(), Product: p, Company: co, Type: p.Type, Quantity: 1, Installations: 1, Now: a.s.clk.Now()}
	if _, err := spec.payload(); err != nil {
		return fmt.Errorf("product: %w", err)
	}
	if p.TrialCount > 0 || p.TrialUnit != "" {
		if len(p.TrialTemplate) == 0 {
			return fmt.Errorf("%w: product.trial_template: a product with a trial period needs one", ErrInvalidArgument)
		}
		spec.Type = license.Trial
		if _, err := spec.payload(); err != nil {
			return fmt.Errorf("product trial: %w", err)
		}
	}
	return nil
}

func (a *api) SaveProduct(ctx context.Context, req *connect.Request[licmeshv1.SaveProductRequest]) (*connect.Response[licmeshv1.SaveProductResponse], error) {
	p, remote, err := who(ctx, actManageLicense)
	if err != nil {
		return nil, err
	}
	prod, err := productFromWire(req.Msg.GetProduct())
	if err == nil {
		err = a.checkProduct(prod)
	}
	if err != nil {
		return nil, a.fail("SaveProduct", err)
	}
	now := a.s.clk.Now()
	prod.CreatedAt = now
	var saved store.Product
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if saved, err = tx.SaveProduct(ctx, prod); err != nil {
			return err
		}
		return audit(ctx, tx, p, remote, now, "product.save", string(saved.SKU), fmt.Sprintf("version %d", saved.Version))
	})
	if err != nil {
		return nil, a.fail("SaveProduct", err)
	}
	return res(&licmeshv1.SaveProductResponse{Product: productToWire(saved)}), nil
}

func (a *api) ListProducts(ctx context.Context, _ *connect.Request[licmeshv1.ListProductsRequest]) (*connect.Response[licmeshv1.ListProductsResponse], error) {
	if _, _, err := who(ctx, actRead, actReseller); err != nil {
		return nil, err
	}
	var out licmeshv1.ListProductsResponse
	err := a.s.store.Read(ctx, func(tx *store.Tx) error {
		ps, err := tx.ListProducts(ctx)
		for _, p := range ps {
			out.Products = append(out.Products, productToWire(p))
		}
		return err
	})
	if err != nil {
		return nil, a.fail("ListProducts", err)
	}
	return res(&out), nil
}

func (a *api) GetProduct(ctx context.Context, req *connect.Request[licmeshv1.GetProductRequest]) (*connect.Response[licmeshv1.GetProductResponse], error) {
	if _, _, err := who(ctx, actRead, actReseller); err != nil {
		return nil, err
	}
	var out licmeshv1.GetProductResponse
	err := a.s.store.Read(ctx, func(tx *store.Tx) error {
		p, err := tx.Product(ctx, license.SKU(req.Msg.GetSku()), int(req.Msg.GetVersion()))
		if err != nil {
			return err
		}
		out.Product = productToWire(p)
		vs, err := tx.ProductVersions(ctx, p.SKU)
		for _, v := range vs {
			out.Versions = append(out.Versions, productToWire(v))
		}
		return err
	})
	if err != nil {
		return nil, a.fail("GetProduct", err)
	}
	return res(&out), nil
}

// --- resellers and companies ---

func (a *api) CreateReseller(ctx context.Context, req *connect.Request[licmeshv1.CreateResellerRequest]) (*connect.Response[licmeshv1.CreateResellerResponse], error) {
	p, remote, err := who(ctx, actAdmin)
	if err != nil {
		return nil, err
	}
	now := a.s.clk.Now()
	r := store.Reseller{ID: store.NewResellerID(), Name: strings.TrimSpace(req.Msg.GetName()), CreatedAt: now}
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateReseller(ctx, r); err != nil {
			return err
		}
		return audit(ctx, tx, p, remote, now, "reseller.create", string(r.ID), r.Name)
	})
	if err != nil {
		return nil, a.fail("CreateReseller", err)
	}
	return res(&licmeshv1.CreateResellerResponse{Reseller: &licmeshv1.Reseller{Id: string(r.ID), Name: r.Name, CreatedAtMs: msOf(now)}}), nil
}

func (a *api) ListResellers(ctx context.Context, _ *connect.Request[licmeshv1.ListResellersRequest]) (*connect.Response[licmeshv1.ListResellersResponse], error) {
	if _, _, err := who(ctx, actAdmin, actRead); err != nil {
		return nil, err
	}
	var out licmeshv1.ListResellersResponse
	err := a.s.store.Read(ctx, func(tx *store.Tx) error {
		rs, err := tx.ListResellers(ctx)
		for _, r := range rs {
			out.Resellers = append(out.Resellers, &licmeshv1.Reseller{Id: string(r.ID), Name: r.Name, CreatedAtMs: msOf(r.CreatedAt)})
		}
		return err
	})
	if err != nil {
		return nil, a.fail("ListResellers", err)
	}
	return res(&out), nil
}

func (a *api) CreateCompany(ctx context.Context, req *connect.Request[licmeshv1.CreateCompanyRequest]) (*connect.Response[licmeshv1.CreateCompanyResponse], error) {
	p, remote, err := who(ctx, actManageLicense, actReseller)
	if err != nil {
		return nil, err
	}
	now := a.s.clk.Now()
	c := store.Company{ID: store.NewCompanyID(), Name: strings.TrimSpace(req.Msg.GetName()), Email: req.Msg.GetEmail(),
		Reseller: store.ResellerID(req.Msg.GetResellerId()), CreatedAt: now}
	if p.Role == store.RoleReseller {
		if c.Reseller != "" && c.Reseller != p.Reseller {
			return nil, a.fail("CreateCompany", fmt.Errorf("%w: a reseller creates its own customers only", ErrPermission))
		}
		c.Reseller = p.Reseller
	} else if c.Reseller != "" && !c.Reseller.Valid() {
		return nil, a.fail("CreateCompany", fmt.Errorf("%w: reseller_id %q is not a reseller ID", ErrInvalidArgument, c.Reseller))
	}
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if c, err = tx.CreateCompany(ctx, c); err != nil {
			return err
		}
		if err := tx.RecordEvent(ctx, store.Event{Company: c.ID, At: now, Kind: "company.created", Detail: "by " + p.actor()}); err != nil {
			return err
		}
		return audit(ctx, tx, p, remote, now, "company.create", string(c.ID), c.Name)
	})
	if err != nil {
		return nil, a.fail("CreateCompany", err)
	}
	return res(&licmeshv1.CreateCompanyResponse{Company: companyToWire(c)}), nil
}

// company returns the company id if p may see it: staff who read see
// every company, a reseller its own customers, a customer its own company.
// Anything else is NotFound, so that IDs of others' customers are not
// confirmed either.
func companyFor(ctx context.Context, tx *store.Tx, p *principal, id store.CompanyID) (store.Company, error) {
	if !id.Valid() {
		return store.Company{}, fmt.Errorf("%w: company ID %q", ErrInvalidArgument, id)
	}
	c, err := tx.Company(ctx, id)
	if err != nil {
		return store.Company{}, err
	}
	switch {
	case p.may(actRead), p.Role == store.RoleAdmin, p.Role == store.RoleLicenseManager:
		return c, nil
	case p.Role == store.RoleReseller && c.Reseller == p.Reseller:
		return c, nil
	case p.Role == store.RoleCustomer && c.ID == p.Company:
		return c, nil
	}
	return store.Company{}, fmt.Errorf("%w: company %s", store.ErrNotFound, id)
}

func (a *api) ListCompanies(ctx context.Context, _ *connect.Request[licmeshv1.ListCompaniesRequest]) (*connect.Response[licmeshv1.ListCompaniesResponse], error) {
	p, _, err := who(ctx, actRead, actReseller)
	if err != nil {
		return nil, err
	}
	scope := store.ResellerID("")
	if p.Role == store.RoleReseller {
		scope = p.Reseller
	}
	var out licmeshv1.ListCompaniesResponse
	err = a.s.store.Read(ctx, func(tx *store.Tx) error {
		cs, err := tx.ListCompanies(ctx, scope)
		for _, c := range cs {
			out.Companies = append(out.Companies, companyToWire(c))
		}
		return err
	})
	if err != nil {
		return nil, a.fail("ListCompanies", err)
	}
	return res(&out), nil
}

func (a *api) GetCompany(ctx context.Context, req *connect.Request[licmeshv1.GetCompanyRequest]) (*connect.Response[licmeshv1.GetCompanyResponse], error) {
	p, _, err := who(ctx)
	if err != nil {
		return nil, err
	}
	now := a.s.clk.Now()
	var out licmeshv1.GetCompanyResponse
	err = a.s.store.Read(ctx, func(tx *store.Tx) error {
		c, err := companyFor(ctx, tx, p, store.CompanyID(req.Msg.GetId()))
		if err != nil {
			return err
		}
		out.Company = companyToWire(c)
		if req.Msg.GetSummary() {
			return nil
		}
		ls, err := tx.ListLicenses(ctx, store.LicenseFilter{Company: c.ID})
		if err != nil {
			return err
		}
		for _, l := range ls {
			out.Licenses = append(out.Licenses, licenseToWire(l, now))
		}
		h, err := tx.History(ctx, c.ID)
		if err != nil {
			return err
		}
		for _, e := range h {
			out.History = append(out.History, &licmeshv1.HistoryEvent{AtMs: msOf(e.At), Kind: e.Kind, LicenseId: string(e.License), Detail: e.Detail})
		}
		users, err := tx.ListAccounts(ctx, store.AccountFilter{Company: c.ID})
		for _, u := range users {
			out.Users = append(out.Users, accountToWire(u))
		}
		return err
	})
	if err != nil {
		return nil, a.fail("GetCompany", err)
	}
	return res(&out), nil
}

func (a *api) ExportCompanyData(ctx context.Context, req *connect.Request[licmeshv1.ExportCompanyDataRequest]) (*connect.Response[licmeshv1.ExportCompanyDataResponse], error) {
	p, remote, err := who(ctx, actAdmin)
	if err != nil {
		return nil, err
	}
	now := a.s.clk.Now()
	type person struct {
		Email     string    `json:"email"`
		Name      string    `json:"name"`
		Role      string    `json:"role"`
		CreatedAt time.Time `json:"created_at"`
	}
	type export struct {
		Company   string    `json:"company"`
		Email     string    `json:"email"`
		CreatedAt time.Time `json:"created_at"`
		Users     []person  `json:"users"`
		Exported  time.Time `json:"exported_at"`
	}
	var out export
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		c, err := companyFor(ctx, tx, p, store.CompanyID(req.Msg.GetId()))
		if err != nil {
			return err
		}
		out = export{Company: c.Name, Email: c.Email, CreatedAt: c.CreatedAt, Exported: now, Users: []person{}}
		users, err := tx.ListAccounts(ctx, store.AccountFilter{Company: c.ID})
		if err != nil {
			return err
		}
		for _, u := range users {
			out.Users = append(out.Users, person{Email: u.Email, Name: u.Name, Role: string(u.Role), CreatedAt: u.CreatedAt})
		}
		return audit(ctx, tx, p, remote, now, "company.export", string(c.ID), "personal data exported")
	})
	if err != nil {
		return nil, a.fail("ExportCompanyData", err)
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	return res(&licmeshv1.ExportCompanyDataResponse{Json: string(b)}), nil
}

func (a *api) EraseCompany(ctx context.Context, req *connect.Request[licmeshv1.EraseCompanyRequest]) (*connect.Response[licmeshv1.EraseCompanyResponse], error) {
	p, remote, err := who(ctx, actAdmin)
	if err != nil {
		return nil, err
	}
	now := a.s.clk.Now()
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		c, err := companyFor(ctx, tx, p, store.CompanyID(req.Msg.GetId()))
		if err != nil {
			return err
		}
		if err := tx.EraseCompany(ctx, c.ID, now); err != nil {
			return err
		}
		return companyChange(ctx, tx, p, remote, store.Event{Company: c.ID, At: now, Kind: "company.erased", Detail: "personal data erased on request"})
	})
	if err != nil {
		return nil, a.fail("EraseCompany", err)
	}
	return res(&licmeshv1.EraseCompanyResponse{}), nil
}

// --- accounts and keys ---

func (a *api) CreateAccount(ctx context.Context, req *connect.Request[licmeshv1.CreateAccountRequest]) (*connect.Response[licmeshv1.CreateAccountResponse], error) {
	p, remote, err := who(ctx, actAdmin, actManageLicense, actReseller)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	role := store.Role(m.GetRole())
	// Admins make any account; license managers and resellers only the
	// users of customers they may see.
	if p.Role != store.RoleAdmin && role != store.RoleCustomer {
		return nil, a.fail("CreateAccount", fmt.Errorf("%w: role %s may create customer accounts only", ErrPermission, p.Role))
	}
	password := newPassword()
	hash, err := hashPassword(password)
	if err != nil {
		return nil, a.fail("CreateAccount", err)
	}
	now := a.s.clk.Now()
	acc := store.Account{ID: store.NewAccountID(), Email: m.GetEmail(), Name: strings.TrimSpace(m.GetName()), Role: role,
		Company: store.CompanyID(m.GetCompanyId()), Reseller: store.ResellerID(m.GetResellerId()), PasswordHash: hash, CreatedAt: now}
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		if acc.Company != "" {
			if _, err := companyFor(ctx, tx, p, acc.Company); err != nil {
				return err
			}
		}
		var err error
		if acc, err = tx.CreateAccount(ctx, acc); err != nil {
			return err
		}
		return audit(ctx, tx, p, remote, now, "account.create", string(acc.ID), fmt.Sprintf("%s as %s", acc.Email, acc.Role))
	})
	if err != nil {
		return nil, a.fail("CreateAccount", err)
	}
	return res(&licmeshv1.CreateAccountResponse{Account: accountToWire(acc), Password: password}), nil
}

func (a *api) ListAccounts(ctx context.Context, req *connect.Request[licmeshv1.ListAccountsRequest]) (*connect.Response[licmeshv1.ListAccountsResponse], error) {
	p, _, err := who(ctx, actAdmin, actManageLicense)
	if err != nil {
		return nil, err
	}
	f := store.AccountFilter{Role: store.Role(req.Msg.GetRole()), Company: store.CompanyID(req.Msg.GetCompanyId())}
	if p.Role != store.RoleAdmin {
		f.Role = store.RoleCustomer // license managers see customers' users only
	}
	var out licmeshv1.ListAccountsResponse
	err = a.s.store.Read(ctx, func(tx *store.Tx) error {
		as, err := tx.ListAccounts(ctx, f)
		for _, acc := range as {
			out.Accounts = append(out.Accounts, accountToWire(acc))
		}
		return err
	})
	if err != nil {
		return nil, a.fail("ListAccounts", err)
	}
	return res(&out), nil
}

func (a *api) DisableAccount(ctx context.Context, req *connect.Request[licmeshv1.DisableAccountRequest]) (*connect.Response[licmeshv1.DisableAccountResponse], error) {
	p, remote, err := who(ctx, actAdmin)
	if err != nil {
		return nil, err
	}
	id := store.AccountID(req.Msg.GetId())
	if id == p.ID {
		return nil, a.fail("DisableAccount", fmt.Errorf("%w: an admin cannot disable its own account", ErrInvalidArgument))
	}
	now := a.s.clk.Now()
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.DisableAccount(ctx, id, now); err != nil {
			return err
		}
		return audit(ctx, tx, p, remote, now, "account.disable", string(id), "")
	})
	if err != nil {
		return nil, a.fail("DisableAccount", err)
	}
	return res(&licmeshv1.DisableAccountResponse{}), nil
}

func (a *api) CreateAPIKey(ctx context.Context, req *connect.Request[licmeshv1.CreateAPIKeyRequest]) (*connect.Response[licmeshv1.CreateAPIKeyResponse], error) {
	p, remote, err := who(ctx)
	if err != nil {
		return nil, err
	}
	now := a.s.clk.Now()
	text, k := newAPIKey(p.ID, strings.TrimSpace(req.Msg.GetName()), now)
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateAPIKey(ctx, k); err != nil {
			return err
		}
		return audit(ctx, tx, p, remote, now, "api_key.create", string(k.ID), k.Name)
	})
	if err != nil {
		return nil, a.fail("CreateAPIKey", err)
	}
	return res(&licmeshv1.CreateAPIKeyResponse{Key: &licmeshv1.APIKey{Id: string(k.ID), Name: k.Name, CreatedAtMs: msOf(now)}, Secret: text}), nil
}

func (a *api) ListAPIKeys(ctx context.Context, _ *connect.Request[licmeshv1.ListAPIKeysRequest]) (*connect.Response[licmeshv1.ListAPIKeysResponse], error) {
	p, _, err := who(ctx)
	if err != nil {
		return nil, err
	}
	var out licmeshv1.ListAPIKeysResponse
	err = a.s.store.Read(ctx, func(tx *store.Tx) error {
		ks, err := tx.ListAPIKeys(ctx, p.ID)
		for _, k := range ks {
			out.Keys = append(out.Keys, &licmeshv1.APIKey{Id: string(k.ID), Name: k.Name, CreatedAtMs: msOf(k.CreatedAt),
				LastUsedAtMs: msOf(k.LastUsedAt), RevokedAtMs: msOf(k.RevokedAt)})
		}
		return err
	})
	if err != nil {
		return nil, a.fail("ListAPIKeys", err)
	}
	return res(&out), nil
}

func (a *api) RevokeAPIKey(ctx context.Context, req *connect.Request[licmeshv1.RevokeAPIKeyRequest]) (*connect.Response[licmeshv1.RevokeAPIKeyResponse], error) {
	p, remote, err := who(ctx)
	if err != nil {
		return nil, err
	}
	now := a.s.clk.Now()
	id := store.APIKeyID(req.Msg.GetId())
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.RevokeAPIKey(ctx, p.ID, id, now); err != nil {
			return err
		}
		return audit(ctx, tx, p, remote, now, "api_key.revoke", string(id), "")
	})
	if err != nil {
		return nil, a.fail("RevokeAPIKey", err)
	}
	return res(&licmeshv1.RevokeAPIKeyResponse{}), nil
}

// --- audit and keys ---

func (a *api) ListAudit(ctx context.Context, req *connect.Request[licmeshv1.ListAuditRequest]) (*connect.Response[licmeshv1.ListAuditResponse], error) {
	if _, _, err := who(ctx, actAdmin); err != nil {
		return nil, err
	}
	limit := int(req.Msg.GetLimit())
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	var before time.Time
	if ms := req.Msg.GetBeforeMs(); ms > 0 {
		before = time.UnixMilli(ms)
	}
	var out licmeshv1.ListAuditResponse
	err := a.s.store.Read(ctx, func(tx *store.Tx) error {
		es, err := tx.AuditLog(ctx, before, limit)
		for _, e := range es {
			out.Entries = append(out.Entries, &licmeshv1.AuditEntry{AtMs: msOf(e.At), Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail, Remote: e.Remote})
		}
		return err
	})
	if err != nil {
		return nil, a.fail("ListAudit", err)
	}
	return res(&out), nil
}

func (a *api) ListVendorKeys(ctx context.Context, _ *connect.Request[licmeshv1.ListVendorKeysRequest]) (*connect.Response[licmeshv1.ListVendorKeysResponse], error) {
	if _, _, err := who(ctx); err != nil {
		return nil, err
	}
	var out licmeshv1.ListVendorKeysResponse
	err := a.s.store.Read(ctx, func(tx *store.Tx) error {
		ks, err := tx.VendorKeys(ctx)
		for _, k := range ks {
			out.Keys = append(out.Keys, &licmeshv1.VendorKey{KeyId: k.KeyID, PublicKey: k.PublicKey, CreatedAtMs: msOf(k.CreatedAt), RetiredAtMs: msOf(k.RetiredAt)})
		}
		return err
	})
	if err != nil {
		return nil, a.fail("ListVendorKeys", err)
	}
	return res(&out), nil
}
