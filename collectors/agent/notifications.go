package agent

import (
	"time"

	"github.com/licmesh/licmesh/licensing/alert"
)

// Notifications are the notices the product shows its users (seed 001:
// "push alerts about license expiration (30/15/5/3/1 day)" in the app),
// judged here from the signed entitlements at trusted time, so they keep
// coming while every master is down.
type Notifications struct {
	// JudgedAt is the trusted time they were judged at.
	JudgedAt      time.Time      `json:"judged_at"`
	Notifications []Notification `json:"notifications"`
}

// Notification is one notice. Key is stable: a product shows each key
// once to each user (its own bookkeeping), and a notice that still holds
// keeps its key.
type Notification struct {
	Key      string         `json:"key"`
	Kind     alert.Kind     `json:"kind"`
	Severity alert.Severity `json:"severity"`
	Summary  string         `json:"summary"`
}

// Notifications evaluates the site's alert rules of the notice kinds
// (alert.NoticeKinds), as the masters signed them into the entitlements,
// and licmesh's defaults where the site set none, against the entitlements
// this collector holds. ErrNoEntitlements before the first document.
func (a *Agent) Notifications() (Notifications, error) {
	a.ents.mu.Lock()
	d := a.ents.doc
	at := a.ents.trustedNow(a.clock.Now())
	a.ents.mu.Unlock()
	if d == nil {
		return Notifications{}, ErrNoEntitlements
	}
	f := alert.Facts{Now: at}
	for _, e := range d.Entitlements {
		if !e.Covered {
			continue
		}
		f.Licenses = append(f.Licenses, alert.License{ID: e.License, Product: e.Product.Name, ExpiresAt: e.ExpiresAt, GraceEnd: e.GraceEnd, TrialEnd: e.TrialEnd})
		if c := e.Credits; c != nil {
			f.Credits = append(f.Credits, alert.Credit{License: e.License, Unit: c.Unit, Remaining: c.Remaining, Low: c.Low, Exhausted: c.Exhausted})
		}
	}
	out := Notifications{JudgedAt: at.UTC(), Notifications: []Notification{}}
	for _, x := range alert.Evaluate(alert.NewRules(d.NoticeRules), f) {
		if x.Kind.Notice() {
			out.Notifications = append(out.Notifications, Notification{Key: x.Key, Kind: x.Kind, Severity: x.Severity, Summary: x.Summary})
		}
	}
	return out, nil
}
