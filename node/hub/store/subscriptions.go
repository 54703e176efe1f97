package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
)

// A subscription is not stored: it is read from the chain of licenses
// that share a subscription ID (a trial, its extensions, its conversion,
// seat packs and modules, each superseding the one before), so that it
// cannot disagree with the licenses the customer actually holds.

// SubscriptionStatus is where a subscription stands.
type SubscriptionStatus string

// Subscription statuses.
const (
	// SubscriptionCurrent: its license is in force.
	SubscriptionCurrent SubscriptionStatus = "current"
	// SubscriptionExpired: its license ran out and was not renewed.
	SubscriptionExpired SubscriptionStatus = "expired"
	// SubscriptionRevoked: its license was revoked.
	SubscriptionRevoked SubscriptionStatus = "revoked"
	// SubscriptionEnded: every license of it was superseded by a license
	// of another subscription, so none of its own is in force.
	SubscriptionEnded SubscriptionStatus = "ended"
)

// Subscription is one company's subscription to a product: what its
// current license grants, and the story of the chain behind it.
type Subscription struct {
	// ID is the licenses' subscription ID; a license issued without one is
	// a subscription of its own, known by the license's ID.
	ID      license.SubscriptionID
	Company CompanyID
	// SKU, ProductVersion, ProductName and AppVersion are the product
	// version the current license was issued under: what the customer has
	// installed.
	SKU            license.SKU
	ProductVersion int
	ProductName    string
	AppVersion     string
	// StartedAt is when its first license was issued.
	StartedAt time.Time
	// Current is its license in force: the newest one not superseded, or,
	// when every one was (SubscriptionEnded), the newest one.
	Current   LicenseID
	Type      license.Type
	Quantity  int
	ExpiresAt time.Time // zero for a perpetual license
	RevokedAt time.Time // zero unless the current license was revoked
	Status    SubscriptionStatus
	// Licenses is how many licenses it has had, the current one included.
	Licenses int
	// BeganAsTrial says its first license was a trial; ConvertedAt is then
	// when its first paid license was issued (zero while it is a trial).
	BeganAsTrial bool
	ConvertedAt  time.Time
}

// subscriptionStatus is where a subscription stands at now, from its
// current license.
func subscriptionStatus(revoked time.Time, ended bool, expires, now time.Time) SubscriptionStatus {
	switch {
	case !revoked.IsZero():
		return SubscriptionRevoked
	case ended:
		return SubscriptionEnded
	case !expires.IsZero() && !now.Before(expires):
		return SubscriptionExpired
	default:
		return SubscriptionCurrent
	}
}

// SubscriptionFilter selects one company's subscriptions, a page at a
// time.
type SubscriptionFilter struct {
	Company CompanyID
	// Limit bounds the page (default and at most 1000); After is the last
	// ID of the previous page, in the order they started.
	Limit int
	After license.SubscriptionID
}

// subscriptionsQuery reads each subscription of company $1 from its
// licenses in one pass of window functions over them: each license learns
// its chain's start, size, first paid issue and first license's type ($5
// is the trial type) from one ordering of the chain, and the head (the newest not superseded, else the
// newest) is the row kept. Licenses without a subscription ID are chains
// of one, keyed by their own ID. No join of the chain with itself: with a
// company's licenses freshly inserted PostgreSQL has no statistics on
// them yet and planned such joins as nested loops, 180 ms for 1,000.
const subscriptionsQuery = `
SELECT cur.sub, cur.sku, cur.product_version, p.name, p.app_version, cur.started_at, cur.id, cur.type, cur.quantity,
	cur.expires_at, cur.revoked_at, CASE WHEN cur.superseded_by IS NULL THEN 0 ELSE 1 END,
	cur.licenses, CASE WHEN cur.origin_type = $5 THEN 1 ELSE 0 END, cur.first_paid_at
FROM (
	SELECT chain.*,
		ROW_NUMBER() OVER (PARTITION BY sub ORDER BY CASE WHEN superseded_by IS NULL THEN 0 ELSE 1 END, issued_at DESC, id DESC) AS head,
		FIRST_VALUE(type) OVER chrono AS origin_type,
		FIRST_VALUE(issued_at) OVER chrono AS started_at,
		COUNT(*) OVER chrono AS licenses,
		MIN(CASE WHEN type <> $5 THEN issued_at END) OVER chrono AS first_paid_at
	FROM (
		SELECT id, sku, product_version, type, quantity, issued_at, expires_at, superseded_by, revoked_at,
			CASE WHEN subscription_id = '' THEN id ELSE subscription_id END AS sub
		FROM licenses WHERE company_id = $1
	) chain
	WINDOW chrono AS (PARTITION BY sub ORDER BY issued_at, id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
) cur
JOIN products p ON p.sku = cur.sku AND p.version = cur.product_version
WHERE cur.head = 1 AND (cur.started_at > $2 OR (cur.started_at = $2 AND cur.sub > $3))
ORDER BY cur.started_at, cur.sub
LIMIT $4`

// ListSubscriptions returns the subscriptions of f.Company, in the order
// they started, with their status at now.
func (t *Tx) ListSubscriptions(ctx context.Context, f SubscriptionFilter, now time.Time) ([]Subscription, error) {
	if !f.Company.Valid() {
		return nil, fmt.Errorf("%w: company ID %q", ErrInvalid, f.Company)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 1000
	}
	var afterStarted int64 = -1
	if f.After != "" {
		var at sql.NullInt64
		err := t.tx.QueryRowContext(ctx, `SELECT MIN(issued_at) FROM licenses
			WHERE company_id = $1 AND (subscription_id = $2 OR (subscription_id = '' AND id = $2))`, f.Company, string(f.After)).Scan(&at)
		if err != nil {
			return nil, t.wrap("page cursor "+string(f.After), err)
		}
		if !at.Valid {
			return nil, fmt.Errorf("%w: page cursor %s: no such subscription of company %s", ErrNotFound, f.After, f.Company)
		}
		afterStarted = at.Int64
	}
	rows, err := t.tx.QueryContext(ctx, subscriptionsQuery, string(f.Company), afterStarted, string(f.After), f.Limit, string(license.Trial))
	if err != nil {
		return nil, t.wrap("subscriptions of "+string(f.Company), err)
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (Subscription, error) {
		s := Subscription{Company: f.Company}
		var started, expires int64
		var revoked, firstPaid sql.NullInt64
		var ended, trialFirst int
		err := r.Scan(&s.ID, &s.SKU, &s.ProductVersion, &s.ProductName, &s.AppVersion, &started, &s.Current, &s.Type, &s.Quantity,
			&expires, &revoked, &ended, &s.Licenses, &trialFirst, &firstPaid)
		s.StartedAt, s.ExpiresAt, s.RevokedAt = fromMS(started), fromMS(expires), fromNullMS(revoked)
		s.BeganAsTrial = trialFirst == 1
		if s.BeganAsTrial {
			s.ConvertedAt = fromNullMS(firstPaid)
		}
		s.Status = subscriptionStatus(s.RevokedAt, ended == 1, s.ExpiresAt, now)
		return s, err
	})
}
