package license

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseExamplePayload(t *testing.T) {
	t.Parallel()
	p, err := ParsePayload(examplePayload(t))
	require.NoError(t, err)
	assert.Equal(t, Subscription, p.Type, "Type")
	if assert.NotNil(t, p.Subscription, "Subscription") {
		assert.Equal(t, Year, p.Subscription.RenewalPeriodUnit, "RenewalPeriodUnit")
		assert.True(t, p.Subscription.AutoRenew, "AutoRenew")
	}
	assert.Equal(t, Duration(14*day), p.Grace, "Grace")
	assert.Equal(t, testCluster, p.ClusterID, "ClusterID")
	if assert.NotNil(t, p.Credits, "Credits") {
		assert.Equal(t, int64(10000), p.Credits.Balance, "Credits.Balance")
	}
	assert.True(t, p.FeatureEnabled("orektic__timesheet"), "orektic__timesheet enabled")
	assert.False(t, p.FeatureEnabled("orektic__other"), "orektic__other enabled")
	end, ok := p.TrialEnd()
	if assert.True(t, ok, "no trial end") {
		assert.True(t, end.Equal(tStart.Add(30*day)), "trial ends %v, want %v", end, tStart.Add(30*day))
	}
}

// TestPayloadFieldErrors: each invalid field is named in a *FieldError.
func TestPayloadFieldErrors(t *testing.T) {
	t.Parallel()
	perpetual := func(m map[string]any) {
		m["type"] = "perpetual"
		delete(m, "subscription")
		delete(m, "expires_at")
		m["perpetual"] = map[string]any{"updates_until": "2027-01-01T00:00:00Z"}
	}
	tests := []struct {
		name    string
		change  func(m map[string]any)
		field   string
		problem string
	}{
		{"no license id", func(m map[string]any) { delete(m, "license_id") }, "license_id", "is empty"},
		{"bad license id", func(m map[string]any) { m["license_id"] = "-x" }, "license_id", "must start with a letter or digit"},
		{"no customer", func(m map[string]any) { delete(m, "customer") }, "customer.id", "is empty"},
		{"control in name", func(m map[string]any) { obj(m, "customer")["name"] = "Acme\x1b[2J" }, "customer.name", "control character U+001B"},
		{"bidi in name", func(m map[string]any) { obj(m, "customer")["name"] = "Acme\u202e" }, "customer.name", "U+202E"},
		{"blank name", func(m map[string]any) { obj(m, "product")["name"] = "   " }, "product.name", "is blank"},
		{"long name", func(m map[string]any) { obj(m, "product")["name"] = strings.Repeat("n", 201) }, "product.name", "201 bytes"},
		{"no application", func(m map[string]any) { delete(obj(m, "product"), "application") }, "product.application", "is empty"},
		{"bad version", func(m map[string]any) { obj(m, "product")["version"] = "2.3 beta" }, "product.version", "' ' at byte 3"},
		{"bad cluster", func(m map[string]any) { m["cluster_id"] = "lm/1" }, "cluster_id", "'/' at byte 2"},
		{"bad billing", func(m map[string]any) { m["billing"] = "weekly" }, "billing", `"weekly" is not monthly`},
		{"no type", func(m map[string]any) { delete(m, "type") }, "type", "is missing"},
		{"unknown type", func(m map[string]any) { m["type"] = "lifetime" }, "type", `"lifetime" is not`},
		{"subscription without terms", func(m map[string]any) { delete(m, "subscription") }, "subscription", "is required for a subscription license"},
		{"terms of another type", func(m map[string]any) { m["volume"] = map[string]any{"installations": 3} }, "volume", "only for volume licenses; this one is subscription"},
		{"renewal unit", func(m map[string]any) { obj(m, "subscription")["renewal_period_unit"] = "fortnight" }, "subscription.renewal_period_unit", `"fortnight" is not one of day, week, month, year`},
		{"renewal count", func(m map[string]any) { obj(m, "subscription")["renewal_period_count"] = 0 }, "subscription.renewal_period_count", "0 is out of range 1..1000"},
		{"trial unit year", func(m map[string]any) { obj(m, "trial")["period_unit"] = "year" }, "trial.period_unit", "not one of day, week, month"},
		{"trial unit missing", func(m map[string]any) { delete(obj(m, "trial"), "period_unit") }, "trial.period_unit", "is missing"},
		{"trial license without trial", func(m map[string]any) { m["type"] = "trial"; delete(m, "subscription"); delete(m, "trial") }, "trial", "is required for a trial license"},
		{"trial outlives its period", func(m map[string]any) { m["type"] = "trial"; delete(m, "subscription") }, "expires_at", "after the trial's end 2026-01-31T00:00:00Z"},
		{"trial outlives the license", func(m map[string]any) { m["trial"] = map[string]any{"period_count": 12, "period_unit": "month"} }, "trial", "ends 2027-01-01T00:00:00Z, not before the license expires"},
		{"volume installations", func(m map[string]any) {
			m["type"] = "volume"
			delete(m, "subscription")
			m["volume"] = map[string]any{"installations": 0}
		}, "volume.installations", "0 is out of range"},
		{"no issued_at", func(m map[string]any) { delete(m, "issued_at") }, "issued_at", "is missing"},
		{"ancient not_before", func(m map[string]any) { m["not_before"] = "1900-01-01T00:00:00Z" }, "not_before", "outside 1970..8999"},
		{"no expiry", func(m map[string]any) { delete(m, "expires_at") }, "expires_at", "is required for a subscription license"},
		{"expiry before start", func(m map[string]any) { m["expires_at"] = "2025-06-01T00:00:00Z" }, "expires_at", "2025-06-01T00:00:00Z is not after not_before 2026-01-01T00:00:00Z"},
		{"perpetual with expiry", func(m map[string]any) { perpetual(m); m["expires_at"] = "2030-01-01T00:00:00Z" }, "expires_at", "a perpetual license does not expire"},
		{"perpetual without updates_until", func(m map[string]any) { perpetual(m); m["perpetual"] = map[string]any{} }, "perpetual.updates_until", "is missing"},
		{"grace too long", func(m map[string]any) { m["grace"] = "400d" }, "grace", "400d is out of range 0..365d"},
		{"bad grace", func(m map[string]any) { m["grace"] = "two weeks" }, "grace", `"two weeks": want a duration like 72h or 14d`},
		{"negative grace", func(m map[string]any) { m["grace"] = "-1h" }, "grace", "must not be negative"},
		{"bad time", func(m map[string]any) { m["expires_at"] = "2027-01-01" }, "expires_at", "is not an RFC 3339 time"},
		{"quantity 0", func(m map[string]any) { m["quantity"] = 0 }, "quantity", "0 is out of range 1..1000000"},
		{"feature type", func(m map[string]any) { m["features"].([]any)[0].(map[string]any)["type"] = "slider" }, "features[0].type", `"slider" is not a known feature type`},
		{"feature scope", func(m map[string]any) { m["features"].([]any)[0].(map[string]any)["scope"] = "user" }, "features[0].scope", `"user" is not a known feature scope`},
		{"feature twice", func(m map[string]any) { m["features"] = append(m["features"].([]any), m["features"].([]any)[0]) }, "features[1].name", "is also the name of features[0]"},
		{"trial template without trial", func(m map[string]any) { delete(m, "trial") }, "trial_template", "no trial period"},
		{"template calculation", func(m map[string]any) {
			m["license_template"].([]any)[1].(map[string]any)["users_calculation"] = "per user"
		}, "license_template[1].users_calculation", `"per user" is neither "fixed" nor "per qty"`},
		{"template and pools", func(m map[string]any) {
			m["pools"] = []any{map[string]any{"name": "x", "seats": 1, "enforce": "hard"}}
		}, "pools", "either license_template or pools"},
		{"pool enforcement", func(m map[string]any) {
			delete(m, "license_template")
			m["pools"] = []any{map[string]any{"name": "x", "seats": 1}}
		}, "pools[0].enforce", "is missing; want hard or soft"},
		{"soft pool overage", func(m map[string]any) {
			delete(m, "license_template")
			m["pools"] = []any{map[string]any{"name": "x", "seats": 1, "enforce": "soft", "overage": 2}}
		}, "pools[0].overage", "hard pools only"},
		{"empty pool", func(m map[string]any) {
			delete(m, "license_template")
			m["pools"] = []any{map[string]any{"name": "x", "enforce": "hard"}}
		}, "pools[0].seats", "grants nothing"},
		{"offline grace too long", func(m map[string]any) {
			m["license_template"].([]any)[0].(map[string]any)["offline_grace"] = "31d"
		}, "license_template[0].offline_grace", "31d is out of range 0..30d"},
		{"offline grace in ms", func(m map[string]any) {
			delete(m, "license_template")
			m["pools"] = []any{map[string]any{"name": "x", "seats": 1, "enforce": "hard", "offline_grace": "1500ms"}}
		}, "pools[0].offline_grace", "not whole seconds"},
		{"borrow too long", func(m map[string]any) {
			delete(m, "license_template")
			m["pools"] = []any{map[string]any{"name": "x", "seats": 1, "enforce": "hard", "max_borrow": "91d"}}
		}, "pools[0].max_borrow", "91d is out of range 0..90d"},
		{"bad borrow", func(m map[string]any) {
			delete(m, "license_template")
			m["pools"] = []any{map[string]any{"name": "x", "seats": 1, "enforce": "hard", "max_borrow": "a week"}}
		}, "pools[0].max_borrow", "want a duration"},
		{"credits unit", func(m map[string]any) { obj(m, "credits")["unit"] = "" }, "credits.unit", "is empty"},
		{"credits balance", func(m map[string]any) { obj(m, "credits")["balance"] = 0 }, "credits.balance", "0 is out of range"},
		{"credits alert", func(m map[string]any) { obj(m, "credits")["low_alert_at"] = 10000 }, "credits.low_alert_at", "10000 is out of range 0..9999"},
		{"supersedes itself", func(m map[string]any) { m["supersedes"] = []any{"lic-2026-0001"} }, "supersedes[0]", "cannot supersede itself"},
		{"supersedes twice", func(m map[string]any) { m["supersedes"] = []any{"a", "a"} }, "supersedes[1]", "listed twice"},
		{"bad subscription id", func(m map[string]any) { m["subscription_id"] = "sub 7" }, "subscription_id", "' '"},
		{"format missing", func(m map[string]any) { delete(m, "format") }, "format", "is missing; want 1"},
		{"format not a number", func(m map[string]any) { m["format"] = "1" }, "format", `"\"1\"" is not a format number`},
	}
	for _, tt := range tests {
		_, err := ParsePayload(mutate(t, tt.change))
		var fe *FieldError
		if !assert.ErrorAs(t, err, &fe, tt.name) {
			continue
		}
		assert.ErrorIs(t, err, ErrInvalidField, "%s: FieldError does not wrap ErrInvalidField", tt.name)
		assert.Equal(t, tt.field, fe.Field, "%s: field", tt.name)
		assert.Contains(t, fe.Problem, tt.problem, "%s: problem", tt.name)
	}
}

// TestPayloadStrictJSON: what encoding/json would let through but another
// reader could read differently is refused.
func TestPayloadStrictJSON(t *testing.T) {
	t.Parallel()
	good := string(examplePayload(t))
	tests := []struct {
		name, json string
		want       error
		detail     string
	}{
		{"duplicate key", strings.Replace(good, `"quantity": 10`, `"quantity": 10, "quantity": 99`, 1), ErrInvalidPayload, "field quantity appears twice"},
		{"duplicate nested key", strings.Replace(good, `"sku": "timesheet-admin-user"`, `"sku": "a", "sku": "b"`, 1), ErrInvalidPayload, "field product.sku appears twice"},
		{"case-folded key", strings.Replace(good, `"quantity"`, `"Quantity"`, 1), ErrInvalidPayload, `unknown field "Quantity" in the payload`},
		{"unicode-folded key", strings.Replace(good, `"sku"`, `"\u017fku"`, 1), ErrInvalidPayload, `unknown field "ſku" in product`},
		{"unknown nested key", strings.Replace(good, `"enabled": true`, `"enabled": true, "seats": 1`, 1), ErrInvalidPayload, `unknown field "seats" in features[0]`},
		{"trailing data", good + `{}`, ErrInvalidPayload, "invalid character '{' after top-level value"},
		{"two objects", good + good, ErrInvalidPayload, "invalid character '{' after top-level value"},
		{"syntax", strings.Replace(good, `"quantity": 10,`, `"quantity": 10`, 1), ErrInvalidPayload, "JSON syntax error"},
		{"cut short", good[:len(good)/2], ErrInvalidPayload, ""},
		{"wrong type", strings.Replace(good, `"quantity": 10`, `"quantity": "10"`, 1), ErrInvalidPayload, "field quantity: want a whole number, got JSON string"},
		{"fraction", strings.Replace(good, `"quantity": 10`, `"quantity": 10.5`, 1), ErrInvalidPayload, "field quantity"},
		{"array payload", `[` + good + `]`, ErrInvalidPayload, "want an object"},
		{"invalid UTF-8", strings.Replace(good, "Acme", "Ac\xffme", 1), ErrInvalidPayload, "not valid UTF-8"},
		{"newer format", strings.Replace(good, `"format": 1`, `"format": 2`, 1), ErrUnsupportedFormat, "format 2"},
		{"empty", ``, ErrInvalidPayload, ""},
	}
	for _, tt := range tests {
		_, err := ParsePayload([]byte(tt.json))
		if assert.ErrorIs(t, err, tt.want, tt.name) {
			assert.ErrorContains(t, err, tt.detail, tt.name)
		}
	}
}

func TestLicenseTypes(t *testing.T) {
	t.Parallel()
	perpetual := mutate(t, func(m map[string]any) {
		m["type"] = "perpetual"
		delete(m, "subscription")
		delete(m, "expires_at")
		delete(m, "grace")
		m["perpetual"] = map[string]any{"updates_until": "2027-01-01T00:00:00Z"}
	})
	trial := mutate(t, func(m map[string]any) {
		m["type"] = "trial"
		delete(m, "subscription")
		m["expires_at"] = "2026-01-31T00:00:00Z"
		m["grace"] = "0s"
	})
	volume := mutate(t, func(m map[string]any) {
		m["type"] = "volume"
		delete(m, "subscription")
		m["volume"] = map[string]any{"installations": 25}
	})

	p := mustVerify(t, mustSeal(t, perpetual, vendorKey, testKeyID), time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC))
	s := Status(p, time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{})
	assert.Equal(t, Active, s.Phase, "perpetual in 2040: %+v", s)
	assert.False(t, s.Expires, "perpetual in 2040: %+v", s)
	assert.Nil(t, s.Alerts, "perpetual in 2040: %+v", s)
	assert.True(t, p.UpdatesUntil().Equal(tExpiry), "perpetual updates until %v", p.UpdatesUntil())

	tr := mustVerify(t, mustSeal(t, trial, vendorKey, testKeyID), tInTrial)
	s = Status(tr, tInTrial, time.Time{})
	assert.Equal(t, Active, s.Phase, "trial on day 10: %+v", s)
	assert.True(t, s.InTrial, "trial on day 10: %+v", s)
	assert.Equal(t, 20, s.TrialDaysLeft, "trial on day 10: %+v", s)
	assert.Equal(t, 20, s.DaysLeft, "trial on day 10: %+v", s)
	_, err := verifyAt(t, mustSeal(t, trial, vendorKey, testKeyID), tStart.Add(30*day))
	assert.ErrorIs(t, err, ErrExpired, "trial on day 30")

	v := mustVerify(t, mustSeal(t, volume, vendorKey, testKeyID), tAfter)
	if assert.NotNil(t, v.Volume, "volume") {
		assert.Equal(t, 25, v.Volume.Installations, "volume: %+v", v.Volume)
	}
}

func TestReplaces(t *testing.T) {
	t.Parallel()
	old, err := ParsePayload(examplePayload(t))
	require.NoError(t, err)
	renewal := *old
	renewal.ID = "lic-2027-0001"
	renewal.IssuedAt = old.IssuedAt.Add(300 * day)
	// A later license of the same subscription replaces the earlier one, not the reverse.
	assert.True(t, renewal.Replaces(old), "the renewal does not replace the old license")
	assert.False(t, old.Replaces(&renewal), "the old license replaces its renewal")
	other := renewal
	other.Customer.ID = "cust-43"
	assert.False(t, other.Replaces(old), "another customer's license with the same subscription ID replaces nothing")
	explicit := *old
	explicit.ID = "lic-x"
	explicit.SubscriptionID = ""
	explicit.Supersedes = []LicenseID{old.ID}
	assert.True(t, explicit.Replaces(old), "supersedes lists replace")
	assert.False(t, old.Replaces(old), "a license does not replace itself")
}

func TestDuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"14d": "14d", "36h": "36h0m0s", "48h": "2d", "0s": "0s", "0d": "0s", "90m": "1h30m0s"} {
		d, err := ParseDuration(in)
		if assert.NoError(t, err, "%q", in) {
			assert.Equal(t, want, d.String(), "%q", in)
		}
	}
	for _, bad := range []string{"", "d", "+3d", "-3d", "3 d", "1e3d", "99999999999999d", "3w", "-1h"} {
		_, err := ParseDuration(bad)
		assert.Error(t, err, "%q parsed", bad)
	}
}
