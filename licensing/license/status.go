package license

import (
	"time"
)

// Phase is where a license stands at a moment of trusted time.
type Phase string

// Phases, in the order a license goes through them.
const (
	NotYetValid Phase = "not_yet_valid"
	Active      Phase = "active"
	InGrace     Phase = "in_grace"
	Expired     Phase = "expired"
)

// State is a license's standing at one moment, for dashboards, alerts and
// `meshctl license verify`.
type State struct {
	Phase Phase
	// At is the trusted time it was judged at: TrustedNow(now, mark).
	At time.Time
	// Tampered says the local clock is more than TamperTolerance behind
	// the mark.
	Tampered bool
	// Expires is false for a perpetual license; then ExpiresAt, GraceEnd,
	// DaysLeft and GraceDaysLeft are zero.
	Expires   bool
	ExpiresAt time.Time
	GraceEnd  time.Time
	// DaysLeft is the number of days, rounded up, until ExpiresAt (seed
	// 001's "days left"); 0 once it has passed.
	DaysLeft int
	// GraceDaysLeft is the days, rounded up, until the grace ends.
	GraceDaysLeft int
	// InTrial says At falls in the trial period, which ends at TrialEnd
	// in TrialDaysLeft days.
	InTrial       bool
	TrialEnd      time.Time
	TrialDaysLeft int
	// Alerts are the expiry alerts due at At (see AlertsDue).
	Alerts []int
}

// Status judges l at the local time now against the trusted-time mark.
// Everything is computed at TrustedNow(now, mark), so a clock set back
// (Tampered) extends neither the license nor its trial.
func Status(l *License, now, mark time.Time) State {
	at := TrustedNow(now, mark)
	s := State{At: at, Tampered: Tampered(now, mark)}
	if end, ok := l.TrialEnd(); ok {
		s.TrialEnd = end
		s.InTrial = l.InTrial(at)
		s.TrialDaysLeft = daysUntil(at, end)
	}
	s.Expires = !l.ExpiresAt.IsZero()
	if s.Expires {
		s.ExpiresAt = l.ExpiresAt
		s.GraceEnd = l.GraceEnd()
		s.DaysLeft = daysUntil(at, s.ExpiresAt)
		s.GraceDaysLeft = daysUntil(at, s.GraceEnd)
		s.Alerts = AlertsDue(s.ExpiresAt, at)
	}
	switch {
	case at.Before(l.NotBefore):
		s.Phase = NotYetValid
	case !s.Expires || at.Before(s.ExpiresAt):
		s.Phase = Active
	case at.Before(s.GraceEnd):
		s.Phase = InGrace
	default:
		s.Phase = Expired
	}
	return s
}

// daysUntil is the whole days, rounded up, from at to t; 0 if t is not
// after at.
func daysUntil(at, t time.Time) int {
	d := t.Sub(at)
	if d <= 0 {
		return 0
	}
	return int((d + day - 1) / day)
}

// AlertDays are the days before expiry at which seed 001 alerts: 30, 15,
// 5, 3 and 1.
func AlertDays() []int { return []int{30, 15, 5, 3, 1} }

// AlertsDue lists the alert days (of AlertDays) whose moment has come at
// now for a license expiring at expiry, in the order they came due: with 4
// days left it is [30 15 5]. A notifier sends the last one it has not sent
// yet. Nothing is due once the license has expired (that is its own
// alert) or when it never expires.
func AlertsDue(expiry, now time.Time) []int {
	if expiry.IsZero() || !now.Before(expiry) {
		return nil
	}
	var due []int
	for _, d := range AlertDays() {
		if !now.Before(expiry.Add(-time.Duration(d) * day)) {
			due = append(due, d)
		}
	}
	return due
}
