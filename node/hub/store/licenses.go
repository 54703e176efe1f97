package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
)

// License is a signed license the hub issued: the armored text the
// customer installs, and the fields the hub lists and filters by.
type License struct {
	ID             LicenseID
	Company        CompanyID
	SubscriptionID string
	SKU            license.SKU
	ProductVersion int
	Type           license.Type
	Quantity       int
	IssuedAt       time.Time
	NotBefore      time.Time
	ExpiresAt      time.Time // zero for a perpetual license
	KeyID          string
	SupersededBy   LicenseID
	RevokedAt      time.Time
	IssuedBy       string
	Text           string
	// ClusterID is the cluster the license is bound to, if any.
	ClusterID license.ClusterID
}

const licenseCols = `id, company_id, subscription_id, sku, product_version, type, quantity, issued_at, not_before, expires_at, key_id, COALESCE(superseded_by, ''), revoked_at, issued_by, text, COALESCE(cluster_id, '')`

func scanLicense(r interface{ Scan(...any) error }) (License, error) {
	var l License
	var issued, nb, exp int64
	var revoked sql.NullInt64
	err := r.Scan(&l.ID, &l.Company, &l.SubscriptionID, &l.SKU, &l.ProductVersion, &l.Type, &l.Quantity, &issued, &nb, &exp, &l.KeyID, &l.SupersededBy, &revoked, &l.IssuedBy, &l.Text, &l.ClusterID)
	l.IssuedAt, l.NotBefore, l.ExpiresAt, l.RevokedAt = fromMS(issued), fromMS(nb), fromMS(exp), fromNullMS(revoked)
	return l, err
}

// CreateLicense stores an issued license; if it supersedes others, they
// are marked superseded by it in the same transaction.
func (t *Tx) CreateLicense(ctx context.Context, l License, supersedes ...LicenseID) error {
	if !l.ID.Valid() || !l.Company.Valid() || l.Text == "" || l.KeyID == "" || l.Quantity < 0 {
		return fmt.Errorf("%w: license %q", ErrInvalid, l.ID)
	}
	_, err := t.exec(ctx, "license "+string(l.ID), `INSERT INTO licenses (id, company_id, subscription_id, sku, product_version, type, quantity,
		issued_at, not_before, expires_at, key_id, issued_by, text, cluster_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		l.ID, l.Company, l.SubscriptionID, l.SKU, l.ProductVersion, l.Type, l.Quantity, ms(l.IssuedAt), ms(l.NotBefore), ms(l.ExpiresAt), l.KeyID, l.IssuedBy, l.Text,
		nullString(l.ClusterID))
	if err != nil {
		return err
	}
	for _, old := range supersedes {
		r, err := t.exec(ctx, "supersede "+string(old), `UPDATE licenses SET superseded_by = $1 WHERE id = $2 AND company_id = $3 AND superseded_by IS NULL`, l.ID, old, l.Company)
		if err != nil {
			return err
		}
		if err := affectedOne(r, "current license "+string(old)+" of the company"); err != nil {
			return err
		}
	}
	return nil
}

// License returns the license id.
func (t *Tx) License(ctx context.Context, id LicenseID) (License, error) {
	l, err := scanLicense(t.tx.QueryRowContext(ctx, `SELECT `+licenseCols+` FROM licenses WHERE id = $1`, id))
	if err != nil {
		return License{}, t.wrap("license "+string(id), err)
	}
	return l, nil
}

// LicenseFilter narrows ListLicenses; zero fields do not filter.
type LicenseFilter struct {
	Company CompanyID
	SKU     license.SKU
	Type    license.Type
	// Current leaves out superseded and revoked licenses.
	Current bool
	// Limit bounds the page (default and at most 1000); After is the last
	// ID of the previous page, in issue order.
	Limit int
	After LicenseID
}

// ListLicenses returns the licenses f selects in the order they were
// issued, one page at a time.
func (t *Tx) ListLicenses(ctx context.Context, f LicenseFilter) ([]License, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 1000
	}
	var afterIssued int64 = -1
	if f.After != "" {
		var at int64
		err := t.tx.QueryRowContext(ctx, `SELECT issued_at FROM licenses WHERE id = $1`, f.After).Scan(&at)
		if err != nil {
			return nil, t.wrap("page cursor "+string(f.After), err)
		}
		afterIssued = at
	}
	current := btoi(f.Current)
	rows, err := t.tx.QueryContext(ctx, `SELECT `+licenseCols+` FROM licenses
		WHERE ($1 = '' OR company_id = $1) AND ($2 = '' OR sku = $2) AND ($3 = '' OR type = $3)
		  AND ($4 = 0 OR (superseded_by IS NULL AND revoked_at IS NULL))
		  AND (issued_at > $5 OR (issued_at = $5 AND id > $6))
		ORDER BY issued_at, id LIMIT $7`,
		string(f.Company), string(f.SKU), string(f.Type), current, afterIssued, string(f.After), f.Limit)
	if err != nil {
		return nil, t.wrap("licenses", err)
	}
	return collect(rows, scanLicense)
}

// RevokeLicense marks a license revoked at at.
func (t *Tx) RevokeLicense(ctx context.Context, id LicenseID, at time.Time) error {
	r, err := t.exec(ctx, "revoke "+string(id), `UPDATE licenses SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, ms(at), id)
	if err != nil {
		return err
	}
	return affectedOne(r, "unrevoked license "+string(id))
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
