package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/licmesh/licmesh/licensing/alert"
)

// VendorAlert is one of the vendor's alerts as the hub keeps it.
type VendorAlert struct {
	alert.Alert
	FiredAt time.Time
	// ResolvedAt is zero while its condition holds.
	ResolvedAt time.Time
	Episodes   int
}

// FireVendorAlert fires a unless it is firing already, and reports whether
// it fired: a resolved alert fires again as a new episode. Two hub
// processes that fire the same key at once both run this; only one finds
// a row to change, so only one sends the mail it goes with.
func (t *Tx) FireVendorAlert(ctx context.Context, a alert.Alert, now time.Time) (bool, error) {
	r, err := t.exec(ctx, "vendor alert "+a.Key, `UPDATE vendor_alerts SET severity = $2, summary = $3, fired_at = $4, resolved_at = NULL,
		episodes = episodes + 1 WHERE key = $1 AND resolved_at IS NOT NULL`, a.Key, string(a.Severity), a.Summary, ms(now))
	if err != nil {
		return false, err
	}
	if n, _ := r.RowsAffected(); n == 1 {
		return true, nil
	}
	r, err = t.exec(ctx, "vendor alert "+a.Key, `INSERT INTO vendor_alerts (key, kind, subject, severity, summary, fired_at, resolved_at, episodes)
		VALUES ($1, $2, $3, $4, $5, $6, NULL, 1) ON CONFLICT (key) DO NOTHING`, a.Key, string(a.Kind), a.Subject, string(a.Severity), a.Summary, ms(now))
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

// ResolveVendorAlert marks a firing alert resolved at now.
func (t *Tx) ResolveVendorAlert(ctx context.Context, key string, now time.Time) error {
	_, err := t.exec(ctx, "vendor alert "+key, `UPDATE vendor_alerts SET resolved_at = $2 WHERE key = $1 AND resolved_at IS NULL`, key, ms(now))
	return err
}

// ListVendorAlerts returns the vendor's alerts, the latest fired first;
// active keeps those firing.
func (t *Tx) ListVendorAlerts(ctx context.Context, active bool, limit int) ([]VendorAlert, error) {
	if limit <= 0 || limit > 10_000 {
		limit = 10_000
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT key, kind, subject, severity, summary, fired_at, resolved_at, episodes FROM vendor_alerts
		WHERE ($1 = 0 OR resolved_at IS NULL) ORDER BY fired_at DESC, key LIMIT $2`, btoi(active), limit)
	if err != nil {
		return nil, t.wrap("vendor alerts", err)
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (VendorAlert, error) {
		var v VendorAlert
		var kind, sev string
		var fired int64
		var resolved sql.NullInt64
		err := r.Scan(&v.Key, &kind, &v.Subject, &sev, &v.Summary, &fired, &resolved, &v.Episodes)
		v.Kind, v.Severity, v.FiredAt = alert.Kind(kind), alert.Severity(sev), time.UnixMilli(fired).UTC()
		if resolved.Valid {
			v.ResolvedAt = time.UnixMilli(resolved.Int64).UTC()
		}
		return v, err
	})
}

// AllSeats returns every site's pools, in one read.
func (t *Tx) AllSeats(ctx context.Context) ([]SeatRow, error) {
	return t.seats(ctx, "")
}
