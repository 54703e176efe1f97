package alert

import (
	"fmt"
	"slices"
	"time"
)

// Facts are what the rules look at: a site's state at trusted time Now.
type Facts struct {
	Now        time.Time
	Licenses   []License
	Pools      []Pool
	Credits    []Credit
	Collectors []Collector
	// ClockTampered says a master's clock is behind the trusted time.
	ClockTampered bool
	Upstream      Upstream
	Updates       Updates
}

// Updates is where the site's updates stand. Each field empty means no
// such condition.
type Updates struct {
	// Available is a newer release found and not downloaded (manual
	// download); Ready one downloaded and not installed (manual install).
	Available, Ready string
	// Installing is the version of the rollout under way, RolloutID its ID.
	Installing string
	RolloutID  string
	// Installed is the version of a rollout that finished less than a day
	// ago (InstalledID its ID); Halted is a halted rollout's reason.
	Installed, InstalledID string
	Halted                 string
	HaltedID               string
}

// License is a stored license as the rules see it.
type License struct {
	ID      string
	Product string
	// ExpiresAt is zero for a perpetual license; GraceEnd is when it stops
	// being accepted.
	ExpiresAt, GraceEnd time.Time
	// TrialEnd is when its trial period ends, zero without one.
	TrialEnd time.Time
	// Replaced says a newer license took its place: it warns of nothing.
	Replaced bool
}

// Pool is a seat pool: its seats and how many are held.
type Pool struct {
	Name        string
	Seats, Held int
}

// Credit is one license's usage credits.
type Credit struct {
	License, Unit  string
	Remaining      int64
	Low, Exhausted bool
}

// Collector is an enrolled collector and when it was last heard from.
type Collector struct {
	ID, Hostname string
	LastSeen     time.Time
}

// Upstream is the site's link to its hub.
type Upstream struct {
	// Activated says the site has a hub.
	Activated bool
	// Waiting says usage waits for the hub's acknowledgement; Since is
	// the last acknowledgement (or the activation, if none yet).
	Waiting bool
	Since   time.Time
	// LastCheckOK is the last successful license check (or the
	// activation).
	LastCheckOK time.Time
}

// Rules resolves the rule for a kind and subject: a subject's own rule if
// it has one, else the kind's, else the default's.
type Rules struct {
	byKind    map[Kind]Rule
	bySubject map[Kind]map[string]Rule
}

// NewRules builds the effective rules: set overrides Default, kind by kind
// and subject by subject. set is assumed normalized.
func NewRules(set []Rule) Rules {
	r := Rules{byKind: map[Kind]Rule{}, bySubject: map[Kind]map[string]Rule{}}
	for _, d := range Default() {
		r.byKind[d.Kind] = d
	}
	for _, x := range set {
		if x.Subject == "" {
			r.byKind[x.Kind] = x
			continue
		}
		if r.bySubject[x.Kind] == nil {
			r.bySubject[x.Kind] = map[string]Rule{}
		}
		r.bySubject[x.Kind][x.Subject] = x
	}
	return r
}

// For returns the rule for kind k about subject.
func (r Rules) For(k Kind, subject string) Rule {
	if x, ok := r.bySubject[k][subject]; ok {
		return x
	}
	return r.byKind[k]
}

// All returns the kinds' rules in Kinds order, then the subjects' rules
// sorted by kind and subject.
func (r Rules) All() []Rule {
	var out []Rule
	for _, k := range Kinds {
		out = append(out, r.byKind[k])
	}
	var subs []Rule
	for _, m := range r.bySubject {
		for _, x := range m {
			subs = append(subs, x)
		}
	}
	slices.SortFunc(subs, func(a, b Rule) int {
		if a.Kind != b.Kind {
			return slices.Index(Kinds, a.Kind) - slices.Index(Kinds, b.Kind)
		}
		if a.Subject < b.Subject {
			return -1
		}
		if a.Subject > b.Subject {
			return 1
		}
		return 0
	})
	return append(out, subs...)
}

// Evaluate returns the alerts that hold for f under rules, sorted by key.
// A license near its expiry holds only its tightest threshold, so a site
// walked day by day fires each threshold once, and one that comes back
// after weeks away fires the one that applies now, not every one it
// missed.
func Evaluate(rules Rules, f Facts) []Alert {
	var out []Alert
	on := func(k Kind, subject string) (Rule, bool) {
		r := rules.For(k, subject)
		return r, !r.Disabled
	}
	day := 24 * time.Hour
	for _, l := range f.Licenses {
		if l.Replaced {
			continue
		}
		if !l.ExpiresAt.IsZero() && f.Now.Before(l.ExpiresAt) {
			if r, ok := on(LicenseExpiry, l.ID); ok {
				left := int((l.ExpiresAt.Sub(f.Now) + day - 1) / day)
				if t, hit := tightestDays(r.Thresholds, left); hit {
					sev := Warning
					if t <= 5 {
						sev = Critical
					}
					out = append(out, newAlert(LicenseExpiry, l.ID, fmt.Sprintf("%dd", t), sev,
						"license %s (%s) expires in %s, on %s", l.ID, l.Product, daysText(left), l.ExpiresAt.UTC().Format(time.DateOnly)))
				}
			}
		}
		if !l.ExpiresAt.IsZero() && !f.Now.Before(l.ExpiresAt) {
			if _, ok := on(LicenseExpired, l.ID); ok {
				what := "its grace is over"
				if f.Now.Before(l.GraceEnd) {
					what = "in its grace until " + l.GraceEnd.UTC().Format(time.DateOnly)
				}
				out = append(out, newAlert(LicenseExpired, l.ID, "", Critical, "license %s (%s) expired on %s; %s",
					l.ID, l.Product, l.ExpiresAt.UTC().Format(time.DateOnly), what))
			}
		}
		if !l.TrialEnd.IsZero() && f.Now.Before(l.TrialEnd) {
			if r, ok := on(TrialEnd, l.ID); ok {
				left := int((l.TrialEnd.Sub(f.Now) + day - 1) / day)
				if t, hit := tightestDays(r.Thresholds, left); hit {
					out = append(out, newAlert(TrialEnd, l.ID, fmt.Sprintf("%dd", t), Warning,
						"the trial of license %s (%s) ends in %s", l.ID, l.Product, daysText(left)))
				}
			}
		}
	}
	for _, p := range f.Pools {
		if r, ok := on(PoolUsage, ""); ok && p.Seats > 0 {
			pct := p.Held * 100 / p.Seats
			for _, t := range r.Thresholds { // largest first
				if pct >= t {
					sev, what := Warning, fmt.Sprintf("%d%% of its seats", t)
					if t >= 100 {
						sev, what = Critical, "its limit"
					}
					out = append(out, newAlert(PoolUsage, p.Name, fmt.Sprintf("%d%%", t), sev,
						"pool %s is at %s: %d of %d seats held", p.Name, what, p.Held, p.Seats))
					break
				}
			}
		}
		if _, ok := on(PoolOverage, ""); ok && p.Held > p.Seats {
			out = append(out, newAlert(PoolOverage, p.Name, "", Warning,
				"pool %s is over its seats: %d held, %d sold", p.Name, p.Held, p.Seats))
		}
	}
	for _, c := range f.Credits {
		subject := c.License + ":" + c.Unit
		switch {
		case c.Exhausted:
			if _, ok := on(CreditsExhausted, ""); ok {
				out = append(out, newAlert(CreditsExhausted, subject, "", Critical, "the %s credits of license %s are used up", c.Unit, c.License))
			}
		case c.Low:
			if _, ok := on(CreditsLow, ""); ok {
				out = append(out, newAlert(CreditsLow, subject, "", Warning, "the %s credits of license %s are low: %d left", c.Unit, c.License, c.Remaining))
			}
		}
	}
	if r, ok := on(CollectorSilent, ""); ok {
		for _, c := range f.Collectors {
			if quiet := f.Now.Sub(c.LastSeen); !c.LastSeen.IsZero() && quiet >= time.Duration(r.After) {
				out = append(out, newAlert(CollectorSilent, c.ID, "", Warning, "collector %s (%s) has not been heard from for %s",
					c.ID, c.Hostname, Duration(quiet.Truncate(time.Minute))))
			}
		}
	}
	if _, ok := on(ClockTampered, ""); ok && f.ClockTampered {
		out = append(out, newAlert(ClockTampered, "cluster", "", Critical, "a master's clock is behind the cluster's trusted time: it was set back"))
	}
	u := f.Upstream
	if r, ok := on(UpstreamFailing, ""); ok && u.Activated && u.Waiting && f.Now.Sub(u.Since) >= time.Duration(r.After) {
		out = append(out, newAlert(UpstreamFailing, "hub", "", Warning, "the hub has acknowledged no usage for %s", Duration(f.Now.Sub(u.Since).Truncate(time.Minute))))
	}
	if r, ok := on(LicenseCheckFailing, ""); ok && u.Activated && f.Now.Sub(u.LastCheckOK) >= time.Duration(r.After) {
		out = append(out, newAlert(LicenseCheckFailing, "hub", "", Warning, "the daily license check has not succeeded for %s", Duration(f.Now.Sub(u.LastCheckOK).Truncate(time.Minute))))
	}
	out = append(out, updateAlerts(f.Updates, on)...)
	slices.SortFunc(out, func(a, b Alert) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return out
}

// tightestDays is the smallest threshold (days) that left has reached.
func tightestDays(thresholds []int, left int) (int, bool) {
	best, hit := 0, false
	for _, t := range thresholds {
		if left <= t && (!hit || t < best) {
			best, hit = t, true
		}
	}
	return best, hit
}

func daysText(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// updateAlerts are seed 001's update notifications.
func updateAlerts(u Updates, on func(Kind, string) (Rule, bool)) []Alert {
	var out []Alert
	if _, ok := on(UpdateAvailable, ""); ok && u.Available != "" {
		out = append(out, newAlert(UpdateAvailable, u.Available, "", Info, "version %s is available: download it to install it", u.Available))
	}
	if _, ok := on(UpdateReady, ""); ok && u.Ready != "" {
		out = append(out, newAlert(UpdateReady, u.Ready, "", Info, "version %s is downloaded and ready to install", u.Ready))
	}
	if _, ok := on(UpdateInstalling, ""); ok && u.Installing != "" {
		out = append(out, newAlert(UpdateInstalling, u.RolloutID, "", Info, "installing version %s: collectors first, then the masters one by one", u.Installing))
	}
	if _, ok := on(UpdateInstalled, ""); ok && u.Installed != "" {
		out = append(out, newAlert(UpdateInstalled, u.InstalledID, "", Info, "version %s is installed on every master and collector", u.Installed))
	}
	if _, ok := on(RolloutHalted, ""); ok && u.Halted != "" {
		out = append(out, newAlert(RolloutHalted, u.HaltedID, "", Critical, "the update stopped: %s", u.Halted))
	}
	return out
}
