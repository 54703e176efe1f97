package license

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/lease"
)

// Seed 002's Timesheet Admin User product.
var (
	// [{name: "orektic__timehseetAdminUser", users: 5}]
	seedTrialTemplate = []TemplateEntry{
		{Name: "orektic__timehseetAdminUser", Users: 5},
	}
	// [{name: "orektic__timehseetAdminUser", users: 1, usersCalculation: 'fixed'},
	//  {name: "orektic__timehseetProjects", users: 1, usersCalculation: 'per qty',
	//   amount: 5, amountCalculation: 'fixed'}]
	seedLicenseTemplate = []TemplateEntry{
		{Name: "orektic__timehseetAdminUser", Users: 1, UsersCalculation: Fixed},
		{Name: "orektic__timehseetProjects", Users: 1, UsersCalculation: PerQty, Amount: 5, AmountCalculation: Fixed},
	}
)

// TestEvaluateSeedTemplates works seed 002's templates out by hand:
//
//   - Trial template, any quantity: users 5 with no calculation is fixed,
//     so the admin-user pool has 5 seats whatever was bought.
//   - License template, quantity 1: admin user 1 (fixed); projects 1 user
//     per qty × 1 = 1 seat, amount 5 fixed = 5 projects.
//   - License template, quantity 10: admin user still 1 (fixed: one
//     administrator however many are bought); projects 1 × 10 = 10 seats;
//     amount stays 5 (fixed).
//   - The same with amount "per qty" at quantity 10: 5 × 10 = 50 projects.
func TestEvaluateSeedTemplates(t *testing.T) {
	t.Parallel()
	admin := func(seats int) Pool {
		return Pool{Name: "orektic__timehseetAdminUser", Seats: seats, Enforce: lease.Hard}
	}
	projects := func(seats int, amount int64) Pool {
		return Pool{Name: "orektic__timehseetProjects", Seats: seats, Enforce: lease.Hard, Amount: amount}
	}
	perQtyAmount := []TemplateEntry{seedLicenseTemplate[0], seedLicenseTemplate[1]}
	perQtyAmount[1].AmountCalculation = PerQty

	tests := []struct {
		name     string
		template []TemplateEntry
		quantity int
		want     []Pool
	}{
		{"trial, quantity 1", seedTrialTemplate, 1, []Pool{admin(5)}},
		{"trial, quantity 10", seedTrialTemplate, 10, []Pool{admin(5)}},
		{"license, quantity 1", seedLicenseTemplate, 1, []Pool{admin(1), projects(1, 5)}},
		{"license, quantity 10", seedLicenseTemplate, 10, []Pool{admin(1), projects(10, 5)}},
		{"license, quantity 250", seedLicenseTemplate, 250, []Pool{admin(1), projects(250, 5)}},
		{"amount per qty, quantity 10", perQtyAmount, 10, []Pool{admin(1), projects(10, 50)}},
		{"empty template", nil, 3, nil},
		{"hard with overage, soft, allowance only", []TemplateEntry{
			{Name: "designer", Users: 2, UsersCalculation: PerQty, Enforce: lease.Hard, Overage: 3},
			{Name: "viewer", Users: 10, Enforce: lease.Soft},
			{Name: "cases", Amount: 1000, AmountCalculation: PerQty},
		}, 4, []Pool{
			{Name: "designer", Seats: 8, Enforce: lease.Hard, Overage: 3},
			{Name: "viewer", Seats: 10, Enforce: lease.Soft},
			{Name: "cases", Enforce: lease.Hard, Amount: 4000},
		}},
	}
	for _, tt := range tests {
		got, err := EvaluateTemplate(tt.template, tt.quantity)
		if assert.NoError(t, err, tt.name) {
			assert.Equal(t, tt.want, got, tt.name)
		}
	}
}

func TestEvaluateTemplateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		template []TemplateEntry
		quantity int
		field    string
		problem  string
	}{
		{"quantity 0", seedLicenseTemplate, 0, "quantity", "0 is out of range 1..1000000"},
		{"bad calculation", []TemplateEntry{{Name: "a", Users: 1, UsersCalculation: "per_qty"}}, 1, "template[0].users_calculation", `"per_qty" is neither "fixed" nor "per qty"`},
		{"negative users", []TemplateEntry{{Name: "a", Users: -1}}, 1, "template[0].users", "-1 is out of range"},
		{"too many seats", []TemplateEntry{{Name: "a", Users: 2, UsersCalculation: PerQty}}, 600_000, "template[0].users_calculation", "users 2 per qty × quantity 600000 = 1200000, more than 1000000"},
		{"amount calculation without amount", []TemplateEntry{{Name: "a", Users: 1, AmountCalculation: Fixed}}, 1, "template[0].amount_calculation", "amount is not"},
		{"amount overflow", []TemplateEntry{{Name: "a", Amount: MaxAmount, AmountCalculation: PerQty}}, 2, "template[0].amount_calculation", "more than"},
		{"grants nothing", []TemplateEntry{{Name: "a"}}, 1, "template[0].users", "grants nothing"},
		{"bad name", []TemplateEntry{{Name: "a b", Users: 1}}, 1, "template[0].name", "' '"},
		{"duplicate name", []TemplateEntry{{Name: "a", Users: 1}, {Name: "a", Users: 2}}, 1, "template[1].name", "also the name of template[0]"},
		{"bad enforcement", []TemplateEntry{{Name: "a", Users: 1, Enforce: 9}}, 1, "template[0].enforce", `"Enforcement(9)" is neither hard nor soft`},
		{"soft overage", []TemplateEntry{{Name: "a", Users: 1, Enforce: lease.Soft, Overage: 1}}, 1, "template[0].overage", "hard pools only"},
	}
	for _, tt := range tests {
		_, err := EvaluateTemplate(tt.template, tt.quantity)
		var fe *FieldError
		if assert.ErrorAs(t, err, &fe, tt.name) {
			assert.Equal(t, tt.field, fe.Field, tt.name)
			assert.Contains(t, fe.Problem, tt.problem, tt.name)
		}
	}
}

// TestPoolsAt: the trial template is in force during the trial, the
// license template after it.
func TestPoolsAt(t *testing.T) {
	t.Parallel()
	l := mustVerify(t, mustSeal(t, examplePayload(t), vendorKey, testKeyID), tAfter)
	trial := []Pool{{Name: "orektic__timehseetAdminUser", Seats: 5, Enforce: lease.Hard}}
	after := []Pool{
		{Name: "orektic__timehseetAdminUser", Seats: 1, Enforce: lease.Hard},
		{Name: "orektic__timehseetProjects", Seats: 10, Enforce: lease.Hard, Amount: 5},
	}
	for _, c := range []struct {
		name string
		at   int64 // days after the start
		want []Pool
	}{
		{"first day", 0, trial},
		{"day 29", 29, trial},
		{"day 30, the trial is over", 30, after},
		{"mid-year", 150, after},
	} {
		got, err := l.PoolsAt(tStart.Add(daysDur(c.at)))
		if assert.NoError(t, err, c.name) {
			assert.Equal(t, c.want, got, c.name)
		}
	}

	explicit := mutate(t, func(m map[string]any) {
		delete(m, "license_template")
		m["pools"] = []any{map[string]any{"name": "seats", "seats": 42, "enforce": "soft"}}
	})
	e := mustVerify(t, mustSeal(t, explicit, vendorKey, testKeyID), tAfter)
	got, err := e.PoolsAt(tAfter)
	require.NoError(t, err)
	assert.Equal(t, []Pool{{Name: "seats", Seats: 42, Enforce: lease.Soft}}, got, "explicit pools")
	got, err = e.PoolsAt(tInTrial)
	require.NoError(t, err)
	require.NotEmpty(t, got)
	assert.Equal(t, 5, got[0].Seats, "explicit pools during the trial: want the trial template")
}

// TestLeasePool: a license pool converts to the lease pool it makes on
// its own, and that pool admits by lease.Pool.Admit, the one admission
// rule. These are the cases license.Pool.Admit used to decide; a refusal
// is now the zero Decision (no grant, so no overage either).
func TestLeasePool(t *testing.T) {
	t.Parallel()
	assert.Equal(t, lease.Pool{Name: "h", Seats: 2, Enforce: lease.Hard, Overage: 1},
		Pool{Name: "h", Seats: 2, Enforce: lease.Hard, Overage: 1, Amount: 7}.LeasePool(), "Amount is not leased")

	hard := Pool{Name: "h", Seats: 2, Enforce: lease.Hard, Overage: 1}
	soft := Pool{Name: "s", Seats: 2, Enforce: lease.Soft}
	for _, c := range []struct {
		p    Pool
		held int
		want lease.Decision
	}{
		{hard, 0, lease.Decision{Grant: true}},
		{hard, 1, lease.Decision{Grant: true}},
		{hard, 2, lease.Decision{Grant: true, Overage: true}},
		{hard, 3, lease.Decision{}},
		{soft, 1, lease.Decision{Grant: true}},
		{soft, 2, lease.Decision{Grant: true, Overage: true}},
		{soft, 100, lease.Decision{Grant: true, Overage: true}},
		{Pool{Name: "z", Seats: 0, Enforce: lease.Hard, Amount: 5}, 0, lease.Decision{}},
	} {
		lp := c.p.LeasePool()
		require.NoError(t, lp.Validate(), "%+v", c.p)
		assert.Equal(t, c.want, lp.Admit(c.held), "%s pool %+v with %d held", c.p.Enforce, c.p, c.held)
	}
}

// TestEnforcementJSON: a license spells enforcement "hard" or "soft", as
// it did when license had its own string type: the same bytes encode and
// decode to lease.Enforcement, an absent or empty mode in a template means
// hard, and a bad one is named by its field.
func TestEnforcementJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Pool{Name: "p", Seats: 1, Enforce: lease.Soft, Overage: 0})
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"p","seats":1,"enforce":"soft"}`, string(b))
	assert.Equal(t, `{"name":"p","seats":1,"enforce":"hard"}`, mustJSON(t, Pool{Name: "p", Seats: 1, Enforce: lease.Hard}))
	assert.Equal(t, `{"name":"a","users":1}`, mustJSON(t, TemplateEntry{Name: "a", Users: 1}), "an unset mode is left out")
	assert.Equal(t, `{"name":"a","users":1,"enforce":"soft"}`, mustJSON(t, TemplateEntry{Name: "a", Users: 1, Enforce: lease.Soft}))

	template := func(enforce any) func(m map[string]any) {
		return func(m map[string]any) { m["license_template"].([]any)[0].(map[string]any)["enforce"] = enforce }
	}
	pool := func(enforce any) func(m map[string]any) {
		return func(m map[string]any) {
			delete(m, "license_template")
			m["pools"] = []any{map[string]any{"name": "x", "seats": 1, "enforce": enforce}}
		}
	}
	for _, c := range []struct {
		name   string
		change func(m map[string]any)
		want   lease.Enforcement
	}{
		{"template soft", template("soft"), lease.Soft},
		{"template hard", template("hard"), lease.Hard},
		{"template empty", template(""), lease.Hard},
		{"template absent", func(map[string]any) {}, lease.Hard},
		{"pool soft", pool("soft"), lease.Soft},
		{"pool hard", pool("hard"), lease.Hard},
	} {
		p, err := ParsePayload(mutate(t, c.change))
		require.NoError(t, err, c.name)
		pools, err := p.PoolsAt(tAfter)
		require.NoError(t, err, c.name)
		assert.Equal(t, c.want, pools[0].Enforce, c.name)
	}

	for _, c := range []struct {
		name, field, problem string
		change               func(m map[string]any)
	}{
		{"template strict", "license_template[0].enforce", `"strict" is neither hard nor soft`, template("strict")},
		{"template capitalised", "license_template[0].enforce", `"Soft" is neither hard nor soft`, template("Soft")},
		{"pool strict", "pools[0].enforce", `"strict" is neither hard nor soft`, pool("strict")},
		{"pool empty", "pools[0].enforce", "is missing; want hard or soft", pool("")},
	} {
		_, err := ParsePayload(mutate(t, c.change))
		require.ErrorIs(t, err, ErrInvalidField, c.name)
		var fe *FieldError
		require.ErrorAs(t, err, &fe, c.name)
		assert.Equal(t, c.field, fe.Field, c.name)
		assert.Equal(t, c.problem, fe.Problem, c.name)
	}

	_, err = ParsePayload(mutate(t, pool(1)))
	require.ErrorIs(t, err, ErrInvalidPayload)
	assert.Contains(t, err.Error(), "field pools.enforce: want a string, got JSON number")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// TestOfflineTerms: a pool's offline terms come from its license (explicit
// pools and template entries alike) into the lease pool the masters admit
// by.
func TestOfflineTerms(t *testing.T) {
	pools, err := EvaluateTemplate([]TemplateEntry{{Name: "users", Users: 5, UsersCalculation: PerQty,
		Offline: Offline{OfflineGrace: Duration(2 * time.Hour), MaxBorrow: Duration(14 * 24 * time.Hour), FailOpen: true}}}, 2)
	require.NoError(t, err)
	require.Len(t, pools, 1)
	lp := pools[0].LeasePool()
	assert.Equal(t, lease.Pool{Name: "users", Seats: 10, Enforce: lease.Hard, Grace: 2 * time.Hour, MaxBorrow: 14 * 24 * time.Hour, FailOpen: true}, lp)
	require.NoError(t, lp.Validate())

	var p Pool
	require.NoError(t, json.Unmarshal([]byte(`{"name":"x","seats":1,"enforce":"hard","offline_grace":"10m","max_borrow":"3d","fail_open":true}`), &p))
	assert.Equal(t, Offline{OfflineGrace: Duration(10 * time.Minute), MaxBorrow: Duration(3 * 24 * time.Hour), FailOpen: true}, p.Offline)
	b, err := json.Marshal(Pool{Name: "x", Seats: 1, Enforce: lease.Hard})
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"x","seats":1,"enforce":"hard"}`, string(b), "no offline terms, no new fields")
}
