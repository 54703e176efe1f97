package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Reseller is a partner who sells to its own customers through the API.
type Reseller struct {
	ID        ResellerID
	Name      string
	CreatedAt time.Time
}

// CreateReseller adds r; its name must be new.
func (t *Tx) CreateReseller(ctx context.Context, r Reseller) error {
	if !r.ID.Valid() || strings.TrimSpace(r.Name) == "" || len(r.Name) > 200 {
		return fmt.Errorf("%w: reseller: an ID and a name of 1 to 200 characters", ErrInvalid)
	}
	_, err := t.exec(ctx, "reseller "+r.Name, `INSERT INTO resellers (id, name, created_at) VALUES ($1, $2, $3)`, r.ID, r.Name, ms(r.CreatedAt))
	return err
}

// ListResellers returns every reseller by name.
func (t *Tx) ListResellers(ctx context.Context) ([]Reseller, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT id, name, created_at FROM resellers ORDER BY name`)
	if err != nil {
		return nil, t.wrap("resellers", err)
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (Reseller, error) {
		var x Reseller
		var at int64
		err := r.Scan(&x.ID, &x.Name, &at)
		x.CreatedAt = fromMS(at)
		return x, err
	})
}

// Company is a customer.
type Company struct {
	ID    CompanyID
	Name  string
	Email string
	// Reseller is who sold to it, if anyone: that reseller, and no other,
	// sees it.
	Reseller  ResellerID
	CreatedAt time.Time
	// ErasedAt is set once its personal data was erased on request: the
	// name and email are then pseudonyms.
	ErasedAt time.Time
}

const companyCols = `id, name, email, COALESCE(reseller_id, ''), created_at, erased_at`

func scanCompany(r interface{ Scan(...any) error }) (Company, error) {
	var c Company
	var created int64
	var erased sql.NullInt64
	err := r.Scan(&c.ID, &c.Name, &c.Email, &c.Reseller, &created, &erased)
	c.CreatedAt, c.ErasedAt = fromMS(created), fromNullMS(erased)
	return c, err
}

// CreateCompany adds c.
func (t *Tx) CreateCompany(ctx context.Context, c Company) (Company, error) {
	email, err := NormalizeEmail(c.Email)
	if err != nil {
		return Company{}, err
	}
	c.Email = email
	if !c.ID.Valid() || strings.TrimSpace(c.Name) == "" || len(c.Name) > 200 {
		return Company{}, fmt.Errorf("%w: company: an ID and a name of 1 to 200 characters", ErrInvalid)
	}
	_, err = t.exec(ctx, "company "+c.Name, `INSERT INTO companies (id, name, email, reseller_id, created_at) VALUES ($1, $2, $3, $4, $5)`,
		c.ID, c.Name, c.Email, nullString(c.Reseller), ms(c.CreatedAt))
	return c, err
}

// Company returns the company id.
func (t *Tx) Company(ctx context.Context, id CompanyID) (Company, error) {
	c, err := scanCompany(t.tx.QueryRowContext(ctx, `SELECT `+companyCols+` FROM companies WHERE id = $1`, id))
	if err != nil {
		return Company{}, t.wrap("company "+string(id), err)
	}
	return c, nil
}

// ListCompanies returns the companies a reseller sees (every company for
// an empty reseller), by name.
func (t *Tx) ListCompanies(ctx context.Context, reseller ResellerID) ([]Company, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+companyCols+` FROM companies WHERE ($1 = '' OR reseller_id = $1) ORDER BY name, id`, string(reseller))
	if err != nil {
		return nil, t.wrap("companies", err)
	}
	return collect(rows, scanCompany)
}

// EraseCompany replaces a company's personal data (its name, email and
// its users' names and emails) with pseudonyms, and disables its users:
// licenses and usage stay, no longer naming anyone. What else names its
// people goes: their sign-in and sign-up records, their sign-up links and
// any mail still queued for them.
func (t *Tx) EraseCompany(ctx context.Context, id CompanyID, at time.Time) error {
	c, err := t.Company(ctx, id)
	if err != nil {
		return err
	}
	r, err := t.exec(ctx, "erase "+string(id), `UPDATE companies SET name = $1, email = $2, erased_at = $3 WHERE id = $4 AND erased_at IS NULL`,
		"erased "+string(id), string(id)+"@erased.invalid", ms(at), id)
	if err != nil {
		return err
	}
	if err := affectedOne(r, "company "+string(id)+" not yet erased"); err != nil {
		return err
	}
	accounts, err := t.ListAccounts(ctx, AccountFilter{Company: id})
	if err != nil {
		return err
	}
	emails := []string{c.Email}
	for _, a := range accounts {
		emails = append(emails, a.Email)
		if _, err := t.exec(ctx, "sign-up links of "+string(a.ID), `DELETE FROM signup_tokens WHERE account_id = $1`, a.ID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "sign-ups of "+string(a.ID), `DELETE FROM signups WHERE account_id = $1`, a.ID); err != nil {
			return err
		}
	}
	for _, e := range emails {
		if _, err := t.exec(ctx, "sign-ups", `DELETE FROM signups WHERE email = $1`, e); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "queued mail", `DELETE FROM mail_outbox WHERE rcpt = $1`, e); err != nil {
			return err
		}
	}
	for _, a := range accounts {
		if _, err := t.exec(ctx, "erase "+string(a.ID), `UPDATE accounts SET email = $1, name = $2, password_hash = $3, disabled_at = COALESCE(disabled_at, $4) WHERE id = $5`,
			string(a.ID)+"@erased.invalid", "erased", "!", ms(at), a.ID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "sessions of "+string(a.ID), `DELETE FROM sessions WHERE account_id = $1`, a.ID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "keys of "+string(a.ID), `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE account_id = $2`, ms(at), a.ID); err != nil {
			return err
		}
	}
	_, err = t.exec(ctx, "sign-ins of "+string(id), `DELETE FROM signins WHERE account_id IN (SELECT id FROM accounts WHERE company_id = $1)`, id)
	return err
}

// Event is one entry of a company's history: trials, upgrades, user
// totals, each time a limit was reached.
type Event struct {
	Company CompanyID
	At      time.Time
	Kind    string // e.g. "trial.created", "license.issued", "limit.reached"
	License LicenseID
	Detail  string
}

// RecordEvent adds e to its company's history.
func (t *Tx) RecordEvent(ctx context.Context, e Event) error {
	if !e.Company.Valid() || e.Kind == "" {
		return fmt.Errorf("%w: event without company or kind", ErrInvalid)
	}
	_, err := t.exec(ctx, "event "+e.Kind, `INSERT INTO history (id, company_id, at, kind, license_id, detail) VALUES ($1, $2, $3, $4, $5, $6)`,
		newID("ev"), e.Company, ms(e.At), e.Kind, nullString(e.License), e.Detail)
	return err
}

// History returns a company's events, newest first.
func (t *Tx) History(ctx context.Context, id CompanyID) ([]Event, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT company_id, at, kind, COALESCE(license_id, ''), detail FROM history WHERE company_id = $1 ORDER BY at DESC, id DESC`, id)
	if err != nil {
		return nil, t.wrap("history", err)
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (Event, error) {
		var e Event
		var at int64
		err := r.Scan(&e.Company, &at, &e.Kind, &e.License, &e.Detail)
		e.At = fromMS(at)
		return e, err
	})
}
