package hub

import (
	"fmt"
	"slices"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/node/hub/store"
)

// defaultGrace is how long a paid license is still accepted after it
// expires, while the customer renews.
const defaultGrace = license.Duration(14 * 24 * time.Hour)

// tailoring adjusts one license to one customer (seed 001): explicit pools
// instead of the product's template, modules on or off, its length, usage
// credits, the cluster it is bound to, the grace.
type tailoring struct {
	Pools           []license.Pool
	EnableFeatures  []string
	DisableFeatures []string
	Duration        license.Duration // 0: the product's term
	Credits         int64
	CreditUnit      string
	ClusterID       license.ClusterID
	Grace           license.Duration // 0: defaultGrace
}

// issueSpec is what a license is made from.
type issueSpec struct {
	ID             store.LicenseID
	Product        store.Product
	Company        store.Company
	Type           license.Type
	Quantity       int
	Installations  int
	Tailoring      tailoring
	SubscriptionID string
	Supersedes     []store.LicenseID
	NotBefore      time.Time
	// ExpiresAt, when set, is the end (an extension keeps the start and
	// moves the end); otherwise the term follows from the type.
	ExpiresAt time.Time
	// After is the issue time of the license this one replaces: masters
	// keep the latest license of a subscription by issue time, at the
	// second, so a replacement is stamped strictly later even when both
	// are made within one second.
	After time.Time
	Now   time.Time
}

// billingPeriod is one renewal period of a billing type.
func billingPeriod(b license.Billing) (int, license.Unit) {
	switch b {
	case license.Monthly:
		return 1, license.Month
	case license.Quarterly:
		return 3, license.Month
	default:
		return 1, license.Year
	}
}

// payload builds the license spec describes, validated by the same rules
// the masters verify it with: a payload this returns is one a master
// accepts, and an error names the field that is wrong.
func (spec issueSpec) payload() (*license.Payload, error) {
	p, t, now := spec.Product, spec.Tailoring, spec.Now.UTC().Truncate(time.Second)
	issued := now
	if !issued.After(spec.After) {
		issued = spec.After.UTC().Truncate(time.Second).Add(time.Second)
	}
	start := spec.NotBefore
	if start.IsZero() {
		start = now
	}
	start = start.UTC().Truncate(time.Second)
	pl := &license.Payload{
		Format:         license.FormatVersion,
		ID:             license.LicenseID(spec.ID),
		Customer:       license.Customer{ID: license.CustomerID(spec.Company.ID), Name: spec.Company.Name},
		Product:        license.Product{SKU: p.SKU, Name: p.Name, Application: p.Application, Version: p.AppVersion},
		Type:           spec.Type,
		IssuedAt:       issued,
		NotBefore:      start,
		ClusterID:      t.ClusterID,
		Quantity:       spec.Quantity,
		SubscriptionID: license.SubscriptionID(spec.SubscriptionID),
	}
	for _, id := range spec.Supersedes {
		pl.Supersedes = append(pl.Supersedes, license.LicenseID(id))
	}
	for _, f := range p.Features {
		f.Enabled = !slices.Contains(t.DisableFeatures, f.Name)
		pl.Features = append(pl.Features, f)
	}
	for _, name := range slices.Concat(t.EnableFeatures, t.DisableFeatures) {
		if !slices.ContainsFunc(p.Features, func(f license.Feature) bool { return f.Name == name }) {
			return nil, fmt.Errorf("%w: feature %q: product %s has no such module", ErrInvalidArgument, name, p.SKU)
		}
	}
	end := func(count int, unit license.Unit) time.Time {
		if !spec.ExpiresAt.IsZero() {
			return spec.ExpiresAt.UTC().Truncate(time.Second)
		}
		if t.Duration > 0 {
			return start.Add(time.Duration(t.Duration))
		}
		return unit.Add(start, count)
	}
	grace := t.Grace
	if grace == 0 {
		grace = defaultGrace
	}
	switch spec.Type {
	case license.Trial:
		if p.TrialCount == 0 {
			return nil, fmt.Errorf("%w: product %s has no trial period", ErrInvalidArgument, p.SKU)
		}
		pl.Trial = &license.TrialPeriod{PeriodCount: p.TrialCount, PeriodUnit: p.TrialUnit}
		pl.TrialTemplate = p.TrialTemplate
		pl.ExpiresAt = end(p.TrialCount, p.TrialUnit)
		if trialEnd, _ := pl.TrialEnd(); pl.ExpiresAt.After(trialEnd) {
			// An extended trial: the trial period is as long as the
			// license, so its template applies throughout.
			pl.Trial = extendedTrial(start, pl.ExpiresAt)
		}
	case license.Subscription:
		count, unit := billingPeriod(p.Billing)
		pl.Subscription = &license.SubscriptionTerms{RenewalPeriodCount: count, RenewalPeriodUnit: unit, AutoRenew: true}
		pl.Billing, pl.Grace = p.Billing, grace
		pl.ExpiresAt = end(count, unit)
	case license.Perpetual:
		pl.Perpetual = &license.PerpetualTerms{UpdatesUntil: end(1, license.Year)}
		pl.Billing = p.Billing
	case license.Volume:
		pl.Volume = &license.VolumeTerms{Installations: spec.Installations}
		pl.Billing, pl.Grace = p.Billing, grace
		pl.ExpiresAt = end(1, license.Year)
	default:
		return nil, fmt.Errorf("%w: type %q: subscription, perpetual, volume or trial", ErrInvalidArgument, spec.Type)
	}
	if spec.Type != license.Trial {
		if len(t.Pools) > 0 {
			pl.Pools = t.Pools
		} else {
			pl.LicenseTemplate = p.LicenseTemplate
		}
	}
	if t.Credits > 0 {
		pl.Credits = &license.Credits{Unit: t.CreditUnit, Balance: t.Credits, LowAlertAt: t.Credits / 10}
	}
	if err := pl.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	return pl, nil
}

// extendedTrial is the trial period from start to end in whole days
// (rounded up), the unit a trial's length is counted in.
func extendedTrial(start, end time.Time) *license.TrialPeriod {
	days := int((end.Sub(start) + 24*time.Hour - 1) / (24 * time.Hour))
	return &license.TrialPeriod{PeriodCount: days, PeriodUnit: license.Day}
}
