package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Role is what an account may do at the hub.
type Role string

// Roles: the vendor's staff, resellers (their own customers only), and
// customers' users (their own company only, in the portal).
const (
	RoleAdmin          Role = "admin"
	RoleLicenseManager Role = "license_manager"
	RoleReleaseManager Role = "release_manager"
	RoleSales          Role = "sales"
	RoleReseller       Role = "reseller"
	RoleCustomer       Role = "customer"
)

// Roles lists every role, staff first.
var Roles = []Role{RoleAdmin, RoleLicenseManager, RoleReleaseManager, RoleSales, RoleReseller, RoleCustomer}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Account is a person who signs in to the hub.
type Account struct {
	ID    AccountID
	Email string
	Name  string
	Role  Role
	// Company is set for a customer's user: the company it sees.
	Company CompanyID
	// Reseller is set for a reseller's user: whose customers it sees.
	Reseller ResellerID
	// PasswordHash is the encoded password hash (never the password).
	PasswordHash string
	CreatedAt    time.Time
	DisabledAt   time.Time
}

// NormalizeEmail returns the address in the form the hub stores and
// matches: the bare address, lower case. It refuses anything that is not
// one address.
func NormalizeEmail(s string) (string, error) {
	a, err := mail.ParseAddress(strings.TrimSpace(s))
	if err != nil || a.Name != "" || len(a.Address) > 254 {
		return "", fmt.Errorf("%w: email %q: not one plain address", ErrInvalid, s)
	}
	return strings.ToLower(a.Address), nil
}

func (a *Account) validate() error {
	email, err := NormalizeEmail(a.Email)
	if err != nil {
		return err
	}
	a.Email = email
	switch {
	case !a.ID.Valid():
		return fmt.Errorf("%w: account ID %q", ErrInvalid, a.ID)
	case strings.TrimSpace(a.Name) == "" || len(a.Name) > 200:
		return fmt.Errorf("%w: account name: 1 to 200 characters", ErrInvalid)
	case !a.Role.Valid():
		return fmt.Errorf("%w: role %q: one of %v", ErrInvalid, a.Role, Roles)
	case (a.Role == RoleCustomer) != (a.Company != ""):
		return fmt.Errorf("%w: a customer account, and only one, belongs to a company", ErrInvalid)
	case (a.Role == RoleReseller) != (a.Reseller != ""):
		return fmt.Errorf("%w: a reseller account, and only one, belongs to a reseller", ErrInvalid)
	case a.PasswordHash == "":
		return fmt.Errorf("%w: account without a password hash", ErrInvalid)
	}
	return nil
}

const accountCols = `id, email, name, role, COALESCE(company_id, ''), COALESCE(reseller_id, ''), password_hash, created_at, disabled_at`

func scanAccount(row interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var created int64
	var disabled sql.NullInt64
	err := row.Scan(&a.ID, &a.Email, &a.Name, &a.Role, &a.Company, &a.Reseller, &a.PasswordHash, &created, &disabled)
	a.CreatedAt, a.DisabledAt = fromMS(created), fromNullMS(disabled)
	return a, err
}

func nullString[T ~string](s T) sql.NullString {
	return sql.NullString{String: string(s), Valid: s != ""}
}

// CreateAccount adds a; its email must be new.
func (t *Tx) CreateAccount(ctx context.Context, a Account) (Account, error) {
	if err := a.validate(); err != nil {
		return Account{}, err
	}
	_, err := t.exec(ctx, "account "+a.Email, `INSERT INTO accounts (id, email, name, role, company_id, reseller_id, password_hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		a.ID, a.Email, a.Name, a.Role, nullString(a.Company), nullString(a.Reseller), a.PasswordHash, ms(a.CreatedAt))
	return a, err
}

// Account returns the account id.
func (t *Tx) Account(ctx context.Context, id AccountID) (Account, error) {
	a, err := scanAccount(t.tx.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1`, id))
	if err != nil {
		return Account{}, t.wrap("account "+string(id), err)
	}
	return a, nil
}

// AccountByEmail returns the account with that email (any case).
func (t *Tx) AccountByEmail(ctx context.Context, email string) (Account, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return Account{}, err
	}
	a, err := scanAccount(t.tx.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE email = $1`, e))
	if err != nil {
		return Account{}, t.wrap("account "+e, err)
	}
	return a, nil
}

// AccountFilter narrows ListAccounts.
type AccountFilter struct {
	Role     Role
	Company  CompanyID
	Reseller ResellerID
}

// ListAccounts returns the accounts f selects, by email.
func (t *Tx) ListAccounts(ctx context.Context, f AccountFilter) ([]Account, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts
		WHERE ($1 = '' OR role = $1) AND ($2 = '' OR company_id = $2) AND ($3 = '' OR reseller_id = $3)
		ORDER BY email`, string(f.Role), string(f.Company), string(f.Reseller))
	if err != nil {
		return nil, t.wrap("accounts", err)
	}
	return collect(rows, scanAccount)
}

// SetPassword replaces an account's password hash.
func (t *Tx) SetPassword(ctx context.Context, id AccountID, hash string) error {
	if hash == "" {
		return fmt.Errorf("%w: empty password hash", ErrInvalid)
	}
	r, err := t.exec(ctx, "password of "+string(id), `UPDATE accounts SET password_hash = $1 WHERE id = $2`, hash, id)
	if err != nil {
		return err
	}
	return affectedOne(r, "account "+string(id))
}

// DisableAccount stops an account from signing in, and ends its sessions
// and API keys.
func (t *Tx) DisableAccount(ctx context.Context, id AccountID, at time.Time) error {
	r, err := t.exec(ctx, "disable "+string(id), `UPDATE accounts SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL`, ms(at), id)
	if err != nil {
		return err
	}
	if err := affectedOne(r, "enabled account "+string(id)); err != nil {
		return err
	}
	if _, err := t.exec(ctx, "sessions of "+string(id), `DELETE FROM sessions WHERE account_id = $1`, id); err != nil {
		return err
	}
	_, err = t.exec(ctx, "keys of "+string(id), `UPDATE api_keys SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL`, ms(at), id)
	return err
}

// collect scans every row.
func collect[T any](rows *sql.Rows, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("store: scan: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: rows: %w", err)
	}
	return out, nil
}
