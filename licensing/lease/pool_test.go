package lease

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestEnforcementParseString(t *testing.T) {
	for _, e := range []Enforcement{Hard, Soft} {
		got, err := ParseEnforcement(e.String())
		if err != nil || got != e {
			t.Fatalf("ParseEnforcement(%q) = %v, %v", e.String(), got, err)
		}
	}
	for _, s := range []string{"", "HARD", "Soft", "strict", "hard "} {
		if _, err := ParseEnforcement(s); !errors.Is(err, ErrInvalidEnforcement) {
			t.Errorf("ParseEnforcement(%q) error = %v, want ErrInvalidEnforcement", s, err)
		}
	}
	if s := Enforcement(0).String(); s != "Enforcement(0)" {
		t.Errorf("String of zero = %q", s)
	}
}

func TestEnforcementJSON(t *testing.T) {
	b, err := json.Marshal(Pool{Name: "p", Seats: 1, Enforce: Soft})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"Enforce":"soft"`) {
		t.Fatalf("json = %s", b)
	}
	var p Pool
	if err := json.Unmarshal(b, &p); err != nil || p.Enforce != Soft {
		t.Fatalf("round trip = %+v, %v", p, err)
	}
	if err := json.Unmarshal([]byte(`{"Enforce":"medium"}`), &p); !errors.Is(err, ErrInvalidEnforcement) {
		t.Fatalf("bad enforcement error = %v", err)
	}
	// Overage appears only when set, so older pools encode as they did.
	if b, _ := json.Marshal(Pool{Name: "p", Seats: 1, Enforce: Hard, Overage: 2}); string(b) != `{"Name":"p","Seats":1,"Enforce":"hard","Overage":2}` {
		t.Fatalf("json with overage = %s", b)
	}
	if b, _ := json.Marshal(Pool{Name: "p", Seats: 1, Enforce: Hard}); string(b) != `{"Name":"p","Seats":1,"Enforce":"hard"}` {
		t.Fatalf("json without overage = %s", b)
	}
	if _, err := json.Marshal(Pool{Name: "p"}); !errors.Is(err, ErrInvalidEnforcement) {
		t.Fatalf("marshal of zero enforcement error = %v", err)
	}
}

func TestPoolValidate(t *testing.T) {
	ok := []Pool{
		{Name: "a", Seats: 0, Enforce: Hard},
		{Name: "0pool", Seats: MaxSeats, Enforce: Soft},
		{Name: "pm.users_v2-east", Seats: 10, Enforce: Hard},
		{Name: strings.Repeat("x", 64), Seats: 1, Enforce: Hard},
		{Name: "orektic__timehseetAdminUser", Seats: 5, Enforce: Hard},
		{Name: "Pool", Seats: 1, Enforce: Hard, Overage: 2},
		{Name: "p", Seats: 0, Enforce: Hard, Overage: MaxSeats},
	}
	for _, p := range ok {
		if err := p.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", p, err)
		}
	}
	bad := map[string]Pool{
		"empty name":       {Name: "", Seats: 1, Enforce: Hard},
		"long name":        {Name: strings.Repeat("x", 65), Seats: 1, Enforce: Hard},
		"leading _":        {Name: "_Pool", Seats: 1, Enforce: Hard},
		"negative overage": {Name: "p", Seats: 1, Enforce: Hard, Overage: -1},
		"too much overage": {Name: "p", Seats: 1, Enforce: Hard, Overage: MaxSeats + 1},
		"soft overage":     {Name: "p", Seats: 1, Enforce: Soft, Overage: 1},
		"leading dot":      {Name: ".pool", Seats: 1, Enforce: Hard},
		"leading dash":     {Name: "-pool", Seats: 1, Enforce: Hard},
		"space":            {Name: "my pool", Seats: 1, Enforce: Hard},
		"slash":            {Name: "a/b", Seats: 1, Enforce: Hard},
		"negative seats":   {Name: "p", Seats: -1, Enforce: Hard},
		"too many seats":   {Name: "p", Seats: MaxSeats + 1, Enforce: Hard},
		"no enforcement":   {Name: "p", Seats: 1},
		"bad enforcement":  {Name: "p", Seats: 1, Enforce: 9},
		"non-ascii letter": {Name: "pé", Seats: 1, Enforce: Hard},
	}
	for name, p := range bad {
		if err := p.Validate(); !errors.Is(err, ErrInvalidPool) {
			t.Errorf("%s: Validate = %v, want ErrInvalidPool", name, err)
		}
	}
}

func TestAdmit(t *testing.T) {
	hard := Pool{Name: "h", Seats: 2, Enforce: Hard}
	soft := Pool{Name: "s", Seats: 2, Enforce: Soft}
	over := Pool{Name: "o", Seats: 2, Enforce: Hard, Overage: 3}
	cases := []struct {
		p    Pool
		held int
		want Decision
	}{
		{hard, 0, Decision{Grant: true}},
		{hard, 1, Decision{Grant: true}},
		{hard, 2, Decision{}},
		{hard, 5, Decision{}}, // shrunk below held: nothing new
		{soft, 1, Decision{Grant: true}},
		{soft, 2, Decision{Grant: true, Overage: true}},
		{soft, 7, Decision{Grant: true, Overage: true}},
		{Pool{Name: "z", Seats: 0, Enforce: Hard}, 0, Decision{}},
		{over, 1, Decision{Grant: true}},
		{over, 2, Decision{Grant: true, Overage: true}},
		{over, 4, Decision{Grant: true, Overage: true}},
		{over, 5, Decision{}},
		{over, 9, Decision{}},
		{Pool{Name: "z", Seats: 0, Enforce: Hard, Overage: 1}, 0, Decision{Grant: true, Overage: true}},
	}
	for _, c := range cases {
		if got := c.p.Admit(c.held); got != c.want {
			t.Errorf("%s pool of %d, held %d: Admit = %+v, want %+v", c.p.Enforce, c.p.Seats, c.held, got, c.want)
		}
	}
}
