package alert

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)

func keys(as []Alert) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Key
	}
	return out
}

// TestExpirySchedule: a license walked day by day from 31 days before its
// expiry meets seed 001's schedule, each threshold on its day; the
// tightest one reached is the one that holds.
func TestExpirySchedule(t *testing.T) {
	rules := NewRules(nil)
	expires := t0.Add(31 * 24 * time.Hour)
	f := Facts{Licenses: []License{{ID: "lic-1", Product: "Timesheet", ExpiresAt: expires, GraceEnd: expires.Add(7 * 24 * time.Hour)}}}
	seen := map[string]int{}
	var order []string
	for day := 0; day <= 31; day++ {
		f.Now = t0.Add(time.Duration(day) * 24 * time.Hour)
		for _, a := range Evaluate(rules, f) {
			if a.Kind == LicenseExpiry {
				if seen[a.Key] == 0 {
					order = append(order, a.Key)
				}
				seen[a.Key]++
			}
		}
	}
	assert.Equal(t, []string{"license_expiry/lic-1/30d", "license_expiry/lic-1/15d", "license_expiry/lic-1/5d",
		"license_expiry/lic-1/3d", "license_expiry/lic-1/1d"}, order)
	f.Now = expires
	as := Evaluate(rules, f)
	require.Len(t, as, 1)
	assert.Equal(t, "license_expired/lic-1", as[0].Key)
	assert.Contains(t, as[0].Summary, "in its grace until")

	// Back after weeks away, 4 days left: the 5-day alert alone.
	f.Now = expires.Add(-4 * 24 * time.Hour)
	assert.Equal(t, []string{"license_expiry/lic-1/5d"}, keys(Evaluate(rules, f)))
	// A replaced license, or a perpetual one, warns of nothing.
	f.Licenses = []License{{ID: "old", ExpiresAt: expires, Replaced: true}, {ID: "perp"}}
	assert.Empty(t, Evaluate(rules, f))
}

// TestRulesOverride: a kind's rule and a license's own rule change the
// schedule; a disabled rule raises nothing.
func TestRulesOverride(t *testing.T) {
	expires := t0.Add(10 * 24 * time.Hour)
	f := Facts{Now: t0, Licenses: []License{{ID: "a", ExpiresAt: expires}, {ID: "b", ExpiresAt: expires}},
		Pools: []Pool{{Name: "p", Seats: 10, Held: 9}}}
	assert.Equal(t, []string{"license_expiry/a/15d", "license_expiry/b/15d", "pool_usage/p/80%"}, keys(Evaluate(NewRules(nil), f)))
	rules := NewRules([]Rule{
		{Kind: LicenseExpiry, Thresholds: []int{60, 10}},
		{Kind: LicenseExpiry, Subject: "b", Disabled: true},
		{Kind: PoolUsage, Thresholds: []int{95}},
	})
	assert.Equal(t, []string{"license_expiry/a/10d"}, keys(Evaluate(rules, f)))
	f.Pools[0].Held = 10
	assert.Contains(t, keys(Evaluate(rules, f)), "pool_usage/p/95%")
	assert.Contains(t, keys(Evaluate(NewRules(nil), f)), "pool_usage/p/100%", "at its limit, the tightest threshold")
}

// TestConditions: overage, credits, silence, clock, upstream and the
// license check raise their alerts when their condition holds, and only
// then.
func TestConditions(t *testing.T) {
	rules := NewRules(nil)
	f := Facts{
		Now:           t0,
		Pools:         []Pool{{Name: "soft", Seats: 2, Held: 3}, {Name: "quiet", Seats: 5, Held: 1}},
		Credits:       []Credit{{License: "l", Unit: "case", Remaining: 10, Low: true}, {License: "m", Unit: "page", Exhausted: true}},
		Collectors:    []Collector{{ID: "c1", Hostname: "h1", LastSeen: t0.Add(-2 * time.Hour)}, {ID: "c2", LastSeen: t0.Add(-time.Minute)}},
		ClockTampered: true,
		Upstream:      Upstream{Activated: true, Waiting: true, Since: t0.Add(-25 * time.Hour), LastCheckOK: t0.Add(-49 * time.Hour)},
	}
	assert.Equal(t, []string{"clock_tampered/cluster", "collector_silent/c1", "credits_exhausted/m:page", "credits_low/l:case",
		"license_check_failing/hub", "pool_overage/soft", "pool_usage/soft/100%", "upstream_failing/hub"}, keys(Evaluate(rules, f)))
	f = Facts{Now: t0, Upstream: Upstream{Activated: true, Since: t0.Add(-100 * time.Hour), LastCheckOK: t0.Add(-time.Hour)}}
	assert.Empty(t, Evaluate(rules, f), "nothing waits for the hub, and the check succeeded an hour ago")
	f.Upstream.Activated = false
	f.Upstream.LastCheckOK = time.Time{}
	assert.Empty(t, Evaluate(rules, f), "a site with no hub")
}

// TestNormalize refuses bad rules by field and sorts thresholds.
func TestNormalize(t *testing.T) {
	r, err := Rule{Kind: LicenseExpiry, Thresholds: []int{1, 30, 5, 5}}.Normalize()
	require.NoError(t, err)
	assert.Equal(t, []int{30, 5, 1}, r.Thresholds)
	for name, c := range map[string]struct {
		r     Rule
		field string
	}{
		"unknown kind":       {Rule{Kind: "expiry"}, "kind: \"expiry\" is not one of license_expiry"},
		"negative threshold": {Rule{Kind: LicenseExpiry, Thresholds: []int{-1}}, "thresholds: -1 days"},
		"no thresholds":      {Rule{Kind: PoolUsage}, "thresholds: pool_usage needs at least one"},
		"zero percent":       {Rule{Kind: PoolUsage, Thresholds: []int{0}}, "thresholds: 0%"},
		"threshold on kind":  {Rule{Kind: ClockTampered, Thresholds: []int{1}}, "thresholds: clock_tampered takes none"},
		"no after":           {Rule{Kind: CollectorSilent}, "after:"},
		"after on kind":      {Rule{Kind: PoolOverage, After: Duration(time.Hour)}, "after: pool_overage takes none"},
		"subject on kind":    {Rule{Kind: PoolUsage, Subject: "p", Thresholds: []int{50}}, "subject: only license_expiry"},
		"too many":           {Rule{Kind: LicenseExpiry, Thresholds: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}, "thresholds: 11 given"},
	} {
		_, err := c.r.Normalize()
		require.ErrorIs(t, err, ErrInvalidRule, name)
		assert.Contains(t, err.Error(), c.field, name)
	}
	for _, d := range Default() {
		_, err := d.Normalize()
		require.NoError(t, err, "default rule %s", d.Kind)
	}
}

func TestDurationText(t *testing.T) {
	var r Rule
	require.NoError(t, json.Unmarshal([]byte(`{"kind":"collector_silent","after":"3d"}`), &r))
	assert.Equal(t, Duration(72*time.Hour), r.After)
	b, err := json.Marshal(Rule{Kind: CollectorSilent, After: Duration(90 * time.Minute)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"kind":"collector_silent","after":"1h30m0s"}`, string(b))
	assert.Error(t, json.Unmarshal([]byte(`{"kind":"collector_silent","after":"-3d"}`), &r))
}
