package license

import (
	"errors"
	"reflect"
	"strings"
	"testing"
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
	admin := func(seats int) Pool { return Pool{Name: "orektic__timehseetAdminUser", Seats: seats, Enforce: Hard} }
	projects := func(seats int, amount int64) Pool {
		return Pool{Name: "orektic__timehseetProjects", Seats: seats, Enforce: Hard, Amount: amount}
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
			{Name: "designer", Users: 2, UsersCalculation: PerQty, Enforce: Hard, Overage: 3},
			{Name: "viewer", Users: 10, Enforce: Soft},
			{Name: "cases", Amount: 1000, AmountCalculation: PerQty},
		}, 4, []Pool{
			{Name: "designer", Seats: 8, Enforce: Hard, Overage: 3},
			{Name: "viewer", Seats: 10, Enforce: Soft},
			{Name: "cases", Enforce: Hard, Amount: 4000},
		}},
	}
	for _, tt := range tests {
		got, err := EvaluateTemplate(tt.template, tt.quantity)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
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
		{"bad enforcement", []TemplateEntry{{Name: "a", Users: 1, Enforce: "strict"}}, 1, "template[0].enforce", `"strict" is neither hard nor soft`},
		{"soft overage", []TemplateEntry{{Name: "a", Users: 1, Enforce: Soft, Overage: 1}}, 1, "template[0].overage", "hard pools only"},
	}
	for _, tt := range tests {
		_, err := EvaluateTemplate(tt.template, tt.quantity)
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: %v, want a FieldError", tt.name, err)
			continue
		}
		if fe.Field != tt.field || !strings.Contains(fe.Problem, tt.problem) {
			t.Errorf("%s: %q: %q; want %q containing %q", tt.name, fe.Field, fe.Problem, tt.field, tt.problem)
		}
	}
}

// TestPoolsAt: the trial template is in force during the trial, the
// license template after it.
func TestPoolsAt(t *testing.T) {
	t.Parallel()
	l := mustVerify(t, mustSeal(t, examplePayload(t), vendorKey, testKeyID), tAfter)
	trial := []Pool{{Name: "orektic__timehseetAdminUser", Seats: 5, Enforce: Hard}}
	after := []Pool{
		{Name: "orektic__timehseetAdminUser", Seats: 1, Enforce: Hard},
		{Name: "orektic__timehseetProjects", Seats: 10, Enforce: Hard, Amount: 5},
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
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}

	explicit := mutate(t, func(m map[string]any) {
		delete(m, "license_template")
		m["pools"] = []any{map[string]any{"name": "seats", "seats": 42, "enforce": "soft"}}
	})
	e := mustVerify(t, mustSeal(t, explicit, vendorKey, testKeyID), tAfter)
	if got, _ := e.PoolsAt(tAfter); !reflect.DeepEqual(got, []Pool{{Name: "seats", Seats: 42, Enforce: Soft}}) {
		t.Errorf("explicit pools: %+v", got)
	}
	if got, _ := e.PoolsAt(tInTrial); got[0].Seats != 5 {
		t.Errorf("explicit pools during the trial: %+v, want the trial template", got)
	}
}

func TestPoolAdmit(t *testing.T) {
	t.Parallel()
	hard := Pool{Name: "h", Seats: 2, Enforce: Hard, Overage: 1}
	soft := Pool{Name: "s", Seats: 2, Enforce: Soft}
	for _, c := range []struct {
		p              Pool
		held           int
		grant, overage bool
	}{
		{hard, 0, true, false}, {hard, 1, true, false}, {hard, 2, true, true}, {hard, 3, false, true},
		{soft, 1, true, false}, {soft, 2, true, true}, {soft, 100, true, true},
		{Pool{Name: "z", Seats: 0, Enforce: Hard, Amount: 5}, 0, false, true},
	} {
		g, o := c.p.Admit(c.held)
		if g != c.grant || o != c.overage {
			t.Errorf("%s pool %+v with %d held: grant %v overage %v; want %v %v", c.p.Enforce, c.p, c.held, g, o, c.grant, c.overage)
		}
	}
}
