package hub

import (
	"context"
	"time"

	lalert "github.com/licmesh/licmesh/licensing/alert"
	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/node/hub/store"
)

// The vendor's alerts (seed 001, development team side): renewal reminders
// on the expiry schedule, trials nearing their end, installations reaching
// their user limits (from the seats their sites sync), installations that
// sync online gone silent. The same rules as a site's (licensing/alert),
// mailed once per alert to the internal list (alert_emails) and posted to
// the vendor's webhook (alert_webhook_url, alert_webhook.go): firing and
// queueing commit in one transaction, and a key fires once however many
// hub processes evaluate it.

// vendorAlertLoop runs the vendor's rules every alert_interval until ctx
// ends.
func (s *Server) vendorAlertLoop(ctx context.Context) {
	if (len(s.cfg.AlertEmails) == 0 || s.mail == nil) && s.hook == nil {
		return
	}
	t := time.NewTicker(s.cfg.AlertInterval)
	defer t.Stop()
	for {
		if err := s.evaluateVendorAlerts(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("hub: vendor alerts failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// vendorRules are the site rules, an installation counted silent after
// alert_silent_after.
func (s *Server) vendorRules() lalert.Rules {
	return lalert.NewRules([]lalert.Rule{{Kind: lalert.CollectorSilent, After: lalert.Duration(s.cfg.AlertSilentAfter)}})
}

// evaluateVendorAlerts runs the rules once: it fires what holds and is not
// firing, with a mail to each address of the list, and resolves what
// cleared.
func (s *Server) evaluateVendorAlerts(ctx context.Context) error {
	now := s.clk.Now()
	var facts lalert.Facts
	if err := s.store.Read(ctx, func(tx *store.Tx) error {
		var err error
		facts, err = vendorFacts(ctx, tx, now)
		return err
	}); err != nil {
		return err
	}
	holds := lalert.Evaluate(s.vendorRules(), facts)
	var fired []string
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		fired = fired[:0]
		active, err := tx.ListVendorAlerts(ctx, true, 0)
		if err != nil {
			return err
		}
		firing := map[string]bool{}
		for _, a := range active {
			firing[a.Key] = true
		}
		held := map[string]bool{}
		for _, a := range holds {
			held[a.Key] = true
			if firing[a.Key] {
				continue
			}
			ok, err := tx.FireVendorAlert(ctx, a, now)
			if err != nil || !ok {
				return err
			}
			fired = append(fired, a.Key)
			if s.hook != nil {
				if err := s.enqueueWebhook(ctx, tx, a, now); err != nil {
					return err
				}
			}
			for _, to := range s.cfg.AlertEmails {
				d := mailData{Alert: &mailAlert{Key: a.Key, Severity: string(a.Severity), Summary: a.Summary}}
				if err := s.enqueueMail(ctx, tx, mailVendorAlert, to, d, now); err != nil {
					return err
				}
			}
		}
		for k := range firing {
			if !held[k] {
				if err := tx.ResolveVendorAlert(ctx, k, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range fired {
		s.log.Info("hub: vendor alert", "key", k)
	}
	if len(fired) > 0 {
		s.nudgeOutbox()
	}
	return nil
}

// vendorFacts reads what the vendor's rules look at.
func vendorFacts(ctx context.Context, tx *store.Tx, now time.Time) (lalert.Facts, error) {
	f := lalert.Facts{Now: now}
	cos, err := tx.ListCompanies(ctx, "")
	if err != nil {
		return f, err
	}
	names := map[store.CompanyID]string{}
	for _, c := range cos {
		names[c.ID] = c.Name
	}
	after := store.LicenseID("")
	for {
		ls, err := tx.ListLicenses(ctx, store.LicenseFilter{Current: true, Limit: 1000, After: after})
		if err != nil {
			return f, err
		}
		for _, l := range ls {
			al := lalert.License{ID: string(l.ID), Product: string(l.SKU) + " for " + names[l.Company]}
			if l.Type == license.Trial {
				al.TrialEnd = l.ExpiresAt
			} else if !l.ExpiresAt.IsZero() {
				al.ExpiresAt, al.GraceEnd = l.ExpiresAt, l.ExpiresAt
			}
			f.Licenses = append(f.Licenses, al)
		}
		if len(ls) < 1000 {
			break
		}
		after = ls[len(ls)-1].ID
	}
	seats, err := tx.AllSeats(ctx)
	if err != nil {
		return f, err
	}
	for _, p := range seats {
		f.Pools = append(f.Pools, lalert.Pool{Name: string(p.ClusterID) + ":" + p.Pool, Seats: int(p.Seats.Seats), Held: int(p.Held)})
	}
	rows, err := tx.ListInstallations(ctx, store.InstallationFilter{})
	if err != nil {
		return f, err
	}
	for _, r := range rows {
		if r.LastOnlineAt.IsZero() {
			continue // a site that sends files reports when someone carries one
		}
		f.Collectors = append(f.Collectors, lalert.Collector{ID: string(r.ClusterID) + "/" + string(r.Installation), Hostname: r.CompanyName, LastSeen: r.LastReportAt})
	}
	return f, nil
}
