package license

import (
	"fmt"
	"strconv"
	"time"
)

// Bounds on payload times: anything outside is a typo or an attack, and
// keeping years below 9000 leaves room for period arithmetic that still
// encodes as RFC 3339.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Validate checks every field of p and their consistency, returning the
// first problem found: a *FieldError naming the field, or
// ErrUnsupportedFormat. It does not look at the clock: a payload is as
// valid tomorrow as today; whether it is in force is Verify's and
// Status's business.
func (p *Payload) Validate() error {
	if p.Format != FormatVersion {
		return fmt.Errorf("%w: format %d; this build reads format %d", ErrUnsupportedFormat, p.Format, FormatVersion)
	}
	checks := []func() error{p.checkIdentity, p.checkType, p.checkDates, p.checkGrants, p.checkLinks}
	for _, c := range checks {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}

func (p *Payload) checkIdentity() error {
	for _, c := range []struct{ field, problem string }{
		{"license_id", checkID(string(p.ID), MaxIDLen)},
		{"customer.id", checkID(string(p.Customer.ID), MaxIDLen)},
		{"customer.name", checkText(p.Customer.Name, MaxNameLen)},
		{"product.sku", checkID(string(p.Product.SKU), MaxIDLen)},
		{"product.name", checkText(p.Product.Name, MaxNameLen)},
		{"product.application", checkID(p.Product.Application, MaxIDLen)},
		{"product.version", checkVersion(p.Product.Version)},
	} {
		if c.problem != "" {
			return fieldErr(c.field, c.problem)
		}
	}
	if p.ClusterID != "" {
		if pr := checkID(string(p.ClusterID), MaxIDLen); pr != "" {
			return fieldErr("cluster_id", pr)
		}
	}
	switch p.Billing {
	case "", Monthly, Quarterly, Annually:
	default:
		return fieldErr("billing", fmt.Sprintf("%s is not monthly, quarterly or annually", quote(string(p.Billing))))
	}
	return nil
}

// checkType checks the type and that exactly its terms block is present.
func (p *Payload) checkType() error {
	blocks := []struct {
		name    string
		typ     Type
		present bool
	}{
		{"subscription", Subscription, p.Subscription != nil},
		{"perpetual", Perpetual, p.Perpetual != nil},
		{"volume", Volume, p.Volume != nil},
	}
	switch p.Type {
	case Subscription, Perpetual, Volume, Trial:
	case "":
		return fieldErr("type", "is missing; want subscription, perpetual, trial or volume")
	default:
		return fieldErr("type", fmt.Sprintf("%s is not subscription, perpetual, trial or volume", quote(string(p.Type))))
	}
	for _, b := range blocks {
		switch {
		case b.typ == p.Type && !b.present:
			return fieldErr(b.name, fmt.Sprintf("is required for a %s license", p.Type))
		case b.typ != p.Type && b.present:
			return fieldErr(b.name, fmt.Sprintf("is only for %s licenses; this one is %s", b.typ, p.Type))
		}
	}
	if p.Type == Trial && p.Trial == nil {
		return fieldErr("trial", "is required for a trial license")
	}
	if s := p.Subscription; s != nil {
		if f, pr := checkPeriod(s.RenewalPeriodCount, s.RenewalPeriodUnit, Day, Week, Month, Year); pr != "" {
			return fieldErr("subscription.renewal_period_"+f, pr)
		}
	}
	if t := p.Trial; t != nil {
		if f, pr := checkPeriod(t.PeriodCount, t.PeriodUnit, Day, Week, Month); pr != "" {
			return fieldErr("trial.period_"+f, pr)
		}
	}
	if v := p.Volume; v != nil && (v.Installations < 1 || v.Installations > MaxSeats) {
		return fieldErr("volume.installations", fmt.Sprintf("%d is out of range 1..%d", v.Installations, MaxSeats))
	}
	return nil
}

func checkTime(field string, t time.Time) error {
	switch {
	case t.IsZero():
		return fieldErr(field, "is missing")
	case t.Before(minTime) || !t.Before(maxTime):
		return fieldErr(field, fmt.Sprintf("%s is outside %d..%d", stamp(t), minTime.Year(), maxTime.Year()-1))
	}
	return nil
}

func (p *Payload) checkDates() error {
	if err := checkTime("issued_at", p.IssuedAt); err != nil {
		return err
	}
	if err := checkTime("not_before", p.NotBefore); err != nil {
		return err
	}
	if p.Type == Perpetual {
		if !p.ExpiresAt.IsZero() {
			return fieldErr("expires_at", "a perpetual license does not expire; remove expires_at (perpetual.updates_until limits updates)")
		}
		if err := checkTime("perpetual.updates_until", p.Perpetual.UpdatesUntil); err != nil {
			return err
		}
		if p.Perpetual.UpdatesUntil.Before(p.NotBefore) {
			return fieldErr("perpetual.updates_until", fmt.Sprintf("%s is before not_before %s", stamp(p.Perpetual.UpdatesUntil), stamp(p.NotBefore)))
		}
	} else {
		if err := checkTime("expires_at", p.ExpiresAt); err != nil {
			if p.ExpiresAt.IsZero() {
				return fieldErr("expires_at", fmt.Sprintf("is required for a %s license", p.Type))
			}
			return err
		}
		if !p.ExpiresAt.After(p.NotBefore) {
			return fieldErr("expires_at", fmt.Sprintf("%s is not after not_before %s", stamp(p.ExpiresAt), stamp(p.NotBefore)))
		}
	}
	if end, ok := p.TrialEnd(); ok {
		switch {
		case p.Type == Trial && p.ExpiresAt.After(end):
			return fieldErr("expires_at", fmt.Sprintf("%s is after the trial's end %s; a trial ends with its trial period", stamp(p.ExpiresAt), stamp(end)))
		case p.Type != Trial && p.Type != Perpetual && !end.Before(p.ExpiresAt):
			return fieldErr("trial", fmt.Sprintf("ends %s, not before the license expires %s; make it a trial license", stamp(end), stamp(p.ExpiresAt)))
		}
	}
	if p.Grace < 0 || p.Grace > MaxGrace {
		return fieldErr("grace", fmt.Sprintf("%s is out of range 0..%s", p.Grace, MaxGrace))
	}
	return nil
}

// checkGrants checks what the license grants: quantity, features, pools
// (evaluating both templates, so a verified license never fails to give
// its pools) and credits.
func (p *Payload) checkGrants() error {
	if p.Quantity < 1 || p.Quantity > MaxQuantity {
		return fieldErr("quantity", fmt.Sprintf("%d is out of range 1..%d", p.Quantity, MaxQuantity))
	}
	if err := checkFeatures(p.Features); err != nil {
		return err
	}
	if len(p.TrialTemplate) > 0 && p.Trial == nil {
		return fieldErr("trial_template", "is given but the license has no trial period")
	}
	if _, err := evaluate(p.TrialTemplate, p.Quantity, "trial_template"); err != nil {
		return err
	}
	if len(p.LicenseTemplate) > 0 && len(p.Pools) > 0 {
		return fieldErr("pools", "give either license_template or pools, not both")
	}
	if _, err := evaluate(p.LicenseTemplate, p.Quantity, "license_template"); err != nil {
		return err
	}
	if err := checkPools(p.Pools); err != nil {
		return err
	}
	if c := p.Credits; c != nil {
		if f, pr := c.check(); pr != "" {
			return fieldErr("credits."+f, pr)
		}
	}
	return nil
}

func checkFeatures(fs []Feature) error {
	if len(fs) > MaxEntries {
		return fieldErr("features", fmt.Sprintf("has %d entries, at most %d allowed", len(fs), MaxEntries))
	}
	seen := make(map[string]int, len(fs))
	for i, f := range fs {
		at := "features[" + strconv.Itoa(i) + "]"
		if pr := checkID(f.Name, MaxItemNameLen); pr != "" {
			return fieldErr(at+".name", pr)
		}
		if j, dup := seen[f.Name]; dup {
			return fieldErr(at+".name", fmt.Sprintf("%s is also the name of features[%d]", quote(f.Name), j))
		}
		seen[f.Name] = i
		if f.Type != Checkbox {
			return fieldErr(at+".type", fmt.Sprintf("%s is not a known feature type (checkbox)", quote(string(f.Type))))
		}
		if f.Scope != Instance {
			return fieldErr(at+".scope", fmt.Sprintf("%s is not a known feature scope (instance)", quote(string(f.Scope))))
		}
	}
	return nil
}

func checkPools(ps []Pool) error {
	if len(ps) > MaxEntries {
		return fieldErr("pools", fmt.Sprintf("has %d entries, at most %d allowed", len(ps), MaxEntries))
	}
	seen := make(map[string]int, len(ps))
	for i, pool := range ps {
		at := "pools[" + strconv.Itoa(i) + "]"
		if j, dup := seen[pool.Name]; dup {
			return fieldErr(at+".name", fmt.Sprintf("%s is also the name of pools[%d]", quote(pool.Name), j))
		}
		seen[pool.Name] = i
		if f, pr := pool.check(); pr != "" {
			return fieldErr(at+"."+f, pr)
		}
	}
	return nil
}

func (p *Payload) checkLinks() error {
	if p.SubscriptionID != "" {
		if pr := checkID(string(p.SubscriptionID), MaxIDLen); pr != "" {
			return fieldErr("subscription_id", pr)
		}
	}
	if len(p.Supersedes) > MaxEntries {
		return fieldErr("supersedes", fmt.Sprintf("has %d entries, at most %d allowed", len(p.Supersedes), MaxEntries))
	}
	seen := make(map[LicenseID]bool, len(p.Supersedes))
	for i, id := range p.Supersedes {
		at := "supersedes[" + strconv.Itoa(i) + "]"
		if pr := checkID(string(id), MaxIDLen); pr != "" {
			return fieldErr(at, pr)
		}
		if id == p.ID {
			return fieldErr(at, "a license cannot supersede itself")
		}
		if seen[id] {
			return fieldErr(at, fmt.Sprintf("%s is listed twice", quote(string(id))))
		}
		seen[id] = true
	}
	return nil
}

// stamp formats a time for messages: RFC 3339 in UTC, to the second.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
