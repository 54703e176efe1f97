package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
)

// Product is one version of a product (seed 002): a SKU made from one
// application version, with its type, billing, trial period and the
// templates and features a license for it is issued from. A version that
// a license was issued under never changes: a change makes a new version.
type Product struct {
	SKU             license.SKU
	Version         int
	Name            string
	Application     string
	AppVersion      string
	Type            license.Type
	Billing         license.Billing
	TrialCount      int
	TrialUnit       license.Unit
	TrialTemplate   []license.TemplateEntry
	LicenseTemplate []license.TemplateEntry
	Features        []license.Feature
	CreatedAt       time.Time
}

// sameTerms reports whether p and q would issue the same licenses.
func (p Product) sameTerms(q Product) bool {
	a, _ := json.Marshal(p.terms())
	b, _ := json.Marshal(q.terms())
	return string(a) == string(b)
}

func (p Product) terms() any {
	p.Version, p.CreatedAt = 0, time.Time{}
	return p
}

const productCols = `sku, version, name, application, app_version, type, billing, trial_count, trial_unit, trial_template, license_template, features, created_at`

func scanProduct(r interface{ Scan(...any) error }) (Product, error) {
	var p Product
	var trial, lic, feats string
	var created int64
	err := r.Scan(&p.SKU, &p.Version, &p.Name, &p.Application, &p.AppVersion, &p.Type, &p.Billing, &p.TrialCount, &p.TrialUnit, &trial, &lic, &feats, &created)
	if err != nil {
		return Product{}, err
	}
	p.CreatedAt = fromMS(created)
	for _, f := range []struct {
		s string
		v any
	}{{trial, &p.TrialTemplate}, {lic, &p.LicenseTemplate}, {feats, &p.Features}} {
		if err := json.Unmarshal([]byte(f.s), f.v); err != nil {
			return Product{}, fmt.Errorf("product %s v%d: stored JSON: %w", p.SKU, p.Version, err)
		}
	}
	return p, nil
}

// SaveProduct publishes p (its Version is ignored): the first version of a
// new SKU, or a change to one. A change to a version no license was issued
// under edits it in place; otherwise it becomes the next version. Saving
// the same terms again changes nothing. The product is validated by the
// caller (the hub checks it against the licensing rules first).
func (t *Tx) SaveProduct(ctx context.Context, p Product) (Product, error) {
	latest, err := t.Product(ctx, p.SKU, 0)
	switch {
	case err == nil && latest.sameTerms(p):
		return latest, nil
	case err == nil:
		var issued int
		if err := t.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM licenses WHERE sku = $1 AND product_version = $2`, p.SKU, latest.Version).Scan(&issued); err != nil {
			return Product{}, t.wrap("licenses of "+string(p.SKU), err)
		}
		if issued == 0 {
			p.Version, p.CreatedAt = latest.Version, latest.CreatedAt
			if _, err := t.exec(ctx, "delete product "+string(p.SKU), `DELETE FROM products WHERE sku = $1 AND version = $2`, p.SKU, p.Version); err != nil {
				return Product{}, err
			}
		} else {
			p.Version = latest.Version + 1
		}
	case isNotFound(err):
		p.Version = 1
	default:
		return Product{}, err
	}
	js := func(v any) string {
		b, _ := json.Marshal(v) // the types marshal without error
		return string(b)
	}
	_, err = t.exec(ctx, "product "+string(p.SKU), `INSERT INTO products (`+productCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		p.SKU, p.Version, p.Name, p.Application, p.AppVersion, p.Type, p.Billing, p.TrialCount, p.TrialUnit,
		js(orEmpty(p.TrialTemplate)), js(orEmpty(p.LicenseTemplate)), js(orEmpty(p.Features)), ms(p.CreatedAt))
	return p, err
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Product returns version of sku; version 0 means the latest.
func (t *Tx) Product(ctx context.Context, sku license.SKU, version int) (Product, error) {
	q := `SELECT ` + productCols + ` FROM products WHERE sku = $1 AND version = $2`
	args := []any{sku, version}
	if version == 0 {
		q = `SELECT ` + productCols + ` FROM products WHERE sku = $1 ORDER BY version DESC LIMIT 1`
		args = args[:1]
	}
	p, err := scanProduct(t.tx.QueryRowContext(ctx, q, args...))
	if err != nil {
		return Product{}, t.wrap(fmt.Sprintf("product %s", sku), err)
	}
	return p, nil
}

// ListProducts returns the latest version of every product, by SKU.
func (t *Tx) ListProducts(ctx context.Context) ([]Product, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+productCols+` FROM products p
		WHERE version = (SELECT MAX(version) FROM products q WHERE q.sku = p.sku) ORDER BY sku`)
	if err != nil {
		return nil, t.wrap("products", err)
	}
	return collect(rows, scanProduct)
}

// ProductVersions returns every version of sku, oldest first.
func (t *Tx) ProductVersions(ctx context.Context, sku license.SKU) ([]Product, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+productCols+` FROM products WHERE sku = $1 ORDER BY version`, sku)
	if err != nil {
		return nil, t.wrap("product versions", err)
	}
	return collect(rows, scanProduct)
}
