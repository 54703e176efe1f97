// Package alert is what licmesh warns people about, as pure rules: the
// kinds of alert, their default schedule and thresholds (seed 001's 30,
// 15, 5, 3 and 1 days before a license expires, seed 003's configurable
// thresholds), and Evaluate, which says which alerts hold for a site's
// state at a moment. It keeps no state and sends nothing: the masters
// record which alerts fired, once each, in Raft (node/fsm), and deliver
// them (node/master).
//
// An alert is identified by its key, kind/subject/threshold: a license
// 15 days from its expiry, a pool at 80% of its seats. The same key fires
// once; it fires again only after it resolved (its condition cleared) and
// came back.
package alert

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
)

// Kind is what an alert is about.
type Kind string

// The kinds of alert. Thresholds are days for LicenseExpiry and TrialEnd,
// a percentage of seats for PoolUsage; the others take a duration (After)
// or nothing.
const (
	// LicenseExpiry: a license in force is Threshold days or less from its
	// expiry (the tightest threshold reached fires).
	LicenseExpiry Kind = "license_expiry"
	// LicenseExpired: a license has expired (it may still be in its grace).
	LicenseExpired Kind = "license_expired"
	// TrialEnd: a trial period is Threshold days or less from its end.
	TrialEnd Kind = "trial_end"
	// PoolUsage: a pool holds Threshold percent of its seats or more
	// (100: at its limit; seed 001's "user limits being reached").
	PoolUsage Kind = "pool_usage"
	// PoolOverage: a pool granted past its seats (a soft pool, or a hard
	// pool's allowed overage, or a fail-open collector's offline seats).
	PoolOverage Kind = "pool_overage"
	// CreditsLow and CreditsExhausted: a license's usage credits at or
	// below its alert level, and at zero.
	CreditsLow       Kind = "credits_low"
	CreditsExhausted Kind = "credits_exhausted"
	// CollectorSilent: a collector not heard from for After.
	CollectorSilent Kind = "collector_silent"
	// ClockTampered: a master's clock is behind the trusted time.
	ClockTampered Kind = "clock_tampered"
	// UpstreamFailing: the hub has acknowledged no usage for After while
	// some waits.
	UpstreamFailing Kind = "upstream_failing"
	// LicenseCheckFailing: the daily license check has not succeeded for
	// After.
	LicenseCheckFailing Kind = "license_check_failing"
	// Updates (seed 001's update notifications): UpdateAvailable, a newer
	// release found while downloads are manual; UpdateReady, a release
	// downloaded while installs are manual; UpdateInstalling, a rollout
	// under way (auto-install says when it starts); UpdateInstalled, a
	// rollout that finished (for a day); RolloutHalted, a rollout that
	// stopped on a failed wave.
	UpdateAvailable  Kind = "update_available"
	UpdateReady      Kind = "update_ready"
	UpdateInstalling Kind = "update_installing"
	UpdateInstalled  Kind = "update_installed"
	RolloutHalted    Kind = "rollout_halted"
)

// Kinds lists every kind, in the order rules are shown.
var Kinds = []Kind{LicenseExpiry, LicenseExpired, TrialEnd, PoolUsage, PoolOverage, CreditsLow, CreditsExhausted,
	CollectorSilent, ClockTampered, UpstreamFailing, LicenseCheckFailing,
	UpdateAvailable, UpdateReady, UpdateInstalling, UpdateInstalled, RolloutHalted}

// NoticeKinds are the alerts a product's users hear about through their
// collector (seed 001's in-app notices): their licenses, trials and
// credits, not the site's operations.
var NoticeKinds = []Kind{LicenseExpiry, LicenseExpired, TrialEnd, CreditsLow, CreditsExhausted}

// Notice reports whether k is one of NoticeKinds.
func (k Kind) Notice() bool { return slices.Contains(NoticeKinds, k) }

// KindNames lists every kind's name, comma-separated, for messages.
func KindNames() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// Severity orders alerts for people: warning, then critical.
type Severity string

// Severities.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// Rule is how one kind of alert is raised. Rules are per kind; a rule may
// name one license (Subject) to give it its own schedule.
type Rule struct {
	Kind Kind `json:"kind"`
	// Subject, when set, makes the rule apply to that subject only (a
	// license ID for LicenseExpiry and TrialEnd), overriding the kind's
	// rule for it.
	Subject string `json:"subject,omitempty"`
	// Disabled turns the rule off.
	Disabled bool `json:"disabled,omitempty"`
	// Thresholds are days (LicenseExpiry, TrialEnd) or percent of seats
	// (PoolUsage), any order; kept sorted, largest first.
	Thresholds []int `json:"thresholds,omitempty"`
	// After is how long a condition lasts before it is an alert
	// (CollectorSilent, UpstreamFailing, LicenseCheckFailing).
	After Duration `json:"after,omitempty"`
}

// Limits of a rule.
const (
	MaxThresholds = 10
	MaxDays       = 365
	MaxAfter      = 90 * 24 * time.Hour
	maxSubjectLen = 128
)

// Errors of this package.
var (
	// ErrInvalidRule means a rule is malformed; the message names the
	// field.
	ErrInvalidRule = errors.New("alert: invalid rule")
)

// Duration is a rule's duration, written as Go writes one ("36h", "90m")
// or in whole days ("3d"): a license's.
type Duration = license.Duration

// ParseDuration reads "36h", "90m" or "3d".
func ParseDuration(s string) (Duration, error) { return license.ParseDuration(s) }

// Default returns the rules a site starts with: seed 001's expiry schedule
// and seed 003's limits.
func Default() []Rule {
	return []Rule{
		{Kind: LicenseExpiry, Thresholds: license.AlertDays()},
		{Kind: LicenseExpired},
		{Kind: TrialEnd, Thresholds: []int{7, 3, 1}},
		{Kind: PoolUsage, Thresholds: []int{100, 80}},
		{Kind: PoolOverage},
		{Kind: CreditsLow},
		{Kind: CreditsExhausted},
		{Kind: CollectorSilent, After: Duration(time.Hour)},
		{Kind: ClockTampered},
		{Kind: UpstreamFailing, After: Duration(24 * time.Hour)},
		{Kind: LicenseCheckFailing, After: Duration(48 * time.Hour)},
		{Kind: UpdateAvailable},
		{Kind: UpdateReady},
		{Kind: UpdateInstalling},
		{Kind: UpdateInstalled},
		{Kind: RolloutHalted},
	}
}

// Known reports whether k is a kind this version knows.
func (k Kind) Known() bool { return slices.Contains(Kinds, k) }

// thresholdUnit says what a kind's thresholds count, "" if it takes none.
func (k Kind) thresholdUnit() string {
	switch k {
	case LicenseExpiry, TrialEnd:
		return "days"
	case PoolUsage:
		return "percent"
	}
	return ""
}

// takesAfter reports whether a kind waits After before it fires.
func (k Kind) takesAfter() bool {
	return k == CollectorSilent || k == UpstreamFailing || k == LicenseCheckFailing
}

// Normalize checks r and returns it with its thresholds sorted, largest
// first, without repeats. Errors wrap ErrInvalidRule and name the field.
func (r Rule) Normalize() (Rule, error) {
	bad := func(field, format string, args ...any) (Rule, error) {
		return Rule{}, fmt.Errorf("%w: %s: %s", ErrInvalidRule, field, fmt.Sprintf(format, args...))
	}
	if !r.Kind.Known() {
		names := make([]string, len(Kinds))
		for i, k := range Kinds {
			names[i] = string(k)
		}
		return bad("kind", "%q is not one of %s", clip(string(r.Kind)), strings.Join(names, ", "))
	}
	if len(r.Subject) > maxSubjectLen || strings.ContainsFunc(r.Subject, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
		return bad("subject", "at most %d printable bytes", maxSubjectLen)
	}
	if r.Subject != "" && r.Kind != LicenseExpiry && r.Kind != TrialEnd {
		return bad("subject", "only license_expiry and trial_end rules name a license")
	}
	unit := r.Kind.thresholdUnit()
	switch {
	case unit == "" && len(r.Thresholds) > 0:
		return bad("thresholds", "%s takes none", r.Kind)
	case unit != "" && len(r.Thresholds) == 0 && !r.Disabled:
		return bad("thresholds", "%s needs at least one (%s)", r.Kind, unit)
	case len(r.Thresholds) > MaxThresholds:
		return bad("thresholds", "%d given, at most %d", len(r.Thresholds), MaxThresholds)
	}
	for _, t := range r.Thresholds {
		switch {
		case unit == "days" && (t < 0 || t > MaxDays):
			return bad("thresholds", "%d days is out of range 0..%d", t, MaxDays)
		case unit == "percent" && (t < 1 || t > 1000):
			return bad("thresholds", "%d%% is out of range 1..1000", t)
		}
	}
	switch {
	case !r.Kind.takesAfter() && r.After != 0:
		return bad("after", "%s takes none", r.Kind)
	case r.Kind.takesAfter() && (r.After <= 0 || time.Duration(r.After) > MaxAfter) && !r.Disabled:
		return bad("after", "%s is out of range (0, %s]", time.Duration(r.After), Duration(MaxAfter))
	}
	out := r
	out.Thresholds = slices.Clone(r.Thresholds)
	slices.Sort(out.Thresholds)
	out.Thresholds = slices.Compact(out.Thresholds)
	slices.Reverse(out.Thresholds)
	return out, nil
}

// Alert is one alert that holds: what it is about, and why, in a line.
type Alert struct {
	// Key is kind/subject[/threshold]: the same key fires once.
	Key       string   `json:"key"`
	Kind      Kind     `json:"kind"`
	Subject   string   `json:"subject"`
	Threshold string   `json:"threshold,omitempty"`
	Severity  Severity `json:"severity"`
	Summary   string   `json:"summary"`
}

func newAlert(k Kind, subject, threshold string, sev Severity, format string, args ...any) Alert {
	key := string(k) + "/" + subject
	if threshold != "" {
		key += "/" + threshold
	}
	return Alert{Key: key, Kind: k, Subject: subject, Threshold: threshold, Severity: sev, Summary: fmt.Sprintf(format, args...)}
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
