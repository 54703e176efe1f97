package license

import (
	"slices"
	"time"
)

// TrialEnd is when the trial period ends (NotBefore plus the period), and
// whether the license has one.
func (p *Payload) TrialEnd() (time.Time, bool) {
	if p.Trial == nil || p.NotBefore.IsZero() {
		return time.Time{}, false
	}
	return p.Trial.PeriodUnit.Add(p.NotBefore, p.Trial.PeriodCount), true
}

// InTrial reports whether t falls in the trial period, [NotBefore,
// TrialEnd). Pass trusted time (TrustedNow), not the local clock: then a
// clock set forward past the trial and back again finds the trial over.
func (p *Payload) InTrial(t time.Time) bool {
	end, ok := p.TrialEnd()
	return ok && !t.Before(p.NotBefore) && t.Before(end)
}

// PoolsAt gives the pools in force at t (trusted time): the trial
// template's during the trial period if there is one, otherwise the
// license template's, or the explicit pools. It does not judge expiry;
// ask Status for that. For a verified license it cannot fail, since
// Validate evaluated both templates; the error is for payloads built by
// hand.
func (p *Payload) PoolsAt(t time.Time) ([]Pool, error) {
	if p.InTrial(t) && len(p.TrialTemplate) > 0 {
		return EvaluateTemplate(p.TrialTemplate, p.Quantity)
	}
	if len(p.Pools) > 0 {
		return slices.Clone(p.Pools), nil
	}
	return EvaluateTemplate(p.LicenseTemplate, p.Quantity)
}

// FeatureEnabled reports whether the license enables the named feature.
func (p *Payload) FeatureEnabled(name string) bool {
	for _, f := range p.Features {
		if f.Name == name {
			return f.Enabled
		}
	}
	return false
}

// GraceEnd is when the license stops being accepted: ExpiresAt plus the
// grace period. It is zero for a perpetual license.
func (p *Payload) GraceEnd() time.Time {
	if p.ExpiresAt.IsZero() {
		return time.Time{}
	}
	return p.ExpiresAt.Add(time.Duration(p.Grace))
}

// UpdatesUntil is the last release date the license covers: a perpetual
// license's updates_until, or the expiry of any other.
func (p *Payload) UpdatesUntil() time.Time {
	if p.Perpetual != nil {
		return p.Perpetual.UpdatesUntil
	}
	return p.ExpiresAt
}

// Replaces reports whether p replaces older: p lists older's ID in
// supersedes, or both belong to the same subscription of the same
// customer and p was issued later (a renewal).
func (p *Payload) Replaces(older *Payload) bool {
	if older == nil || p.ID == older.ID {
		return false
	}
	if slices.Contains(p.Supersedes, older.ID) {
		return true
	}
	return p.SubscriptionID != "" && p.SubscriptionID == older.SubscriptionID &&
		p.Customer.ID == older.Customer.ID && p.IssuedAt.After(older.IssuedAt)
}
