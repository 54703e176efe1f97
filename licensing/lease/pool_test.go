package lease

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnforcementParseString(t *testing.T) {
	for _, e := range []Enforcement{Hard, Soft} {
		got, err := ParseEnforcement(e.String())
		require.NoError(t, err, "ParseEnforcement(%q)", e.String())
		require.Equal(t, e, got, "ParseEnforcement(%q)", e.String())
	}
	for _, s := range []string{"", "HARD", "Soft", "strict", "hard "} {
		_, err := ParseEnforcement(s)
		assert.ErrorIs(t, err, ErrInvalidEnforcement, "ParseEnforcement(%q)", s)
	}
	assert.Equal(t, "Enforcement(0)", Enforcement(0).String(), "String of zero")
	assert.False(t, Enforcement(0).Valid())
	assert.False(t, Enforcement(3).Valid())
}

func TestEnforcementJSON(t *testing.T) {
	b, err := json.Marshal(Pool{Name: "p", Seats: 1, Enforce: Soft})
	require.NoError(t, err)
	require.Contains(t, string(b), `"Enforce":"soft"`)
	var p Pool
	require.NoError(t, json.Unmarshal(b, &p))
	require.Equal(t, Soft, p.Enforce, "round trip")
	require.ErrorIs(t, json.Unmarshal([]byte(`{"Enforce":"medium"}`), &p), ErrInvalidEnforcement, "bad enforcement")
	// Overage appears only when set, so older pools encode as they did.
	b, err = json.Marshal(Pool{Name: "p", Seats: 1, Enforce: Hard, Overage: 2})
	require.NoError(t, err)
	require.Equal(t, `{"Name":"p","Seats":1,"Enforce":"hard","Overage":2}`, string(b), "json with overage")
	b, err = json.Marshal(Pool{Name: "p", Seats: 1, Enforce: Hard})
	require.NoError(t, err)
	require.Equal(t, `{"Name":"p","Seats":1,"Enforce":"hard"}`, string(b), "json without overage")
	_, err = json.Marshal(Pool{Name: "p"})
	require.ErrorIs(t, err, ErrInvalidEnforcement, "marshal of zero enforcement")

	// An empty mode decodes as unset, which Validate refuses: a pool can
	// never come out of JSON with a mode nobody chose.
	var empty Pool
	require.NoError(t, json.Unmarshal([]byte(`{"Name":"p","Seats":1,"Enforce":""}`), &empty))
	assert.Equal(t, Enforcement(0), empty.Enforce)
	assert.ErrorIs(t, empty.Validate(), ErrInvalidPool)
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
		assert.NoError(t, p.Validate(), "Validate(%+v)", p)
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
		assert.ErrorIs(t, p.Validate(), ErrInvalidPool, name)
	}
}

// TestAdmit is the one admission rule's table. It holds the lease pool
// cases and those license.Pool.Admit was tested with before the two were
// merged (a hard pool of 2 seats and 1 overage, a soft pool far past its
// seats), which now reach this rule through license.Pool.LeasePool.
func TestAdmit(t *testing.T) {
	hard := Pool{Name: "h", Seats: 2, Enforce: Hard}
	soft := Pool{Name: "s", Seats: 2, Enforce: Soft}
	over := Pool{Name: "o", Seats: 2, Enforce: Hard, Overage: 3}
	over1 := Pool{Name: "o1", Seats: 2, Enforce: Hard, Overage: 1}
	cases := []struct {
		p    Pool
		held int
		want Decision
	}{
		{hard, 0, Decision{Grant: true}},
		{hard, 1, Decision{Grant: true}},
		{hard, 2, Decision{}},
		{hard, 5, Decision{}}, // shrunk below held: nothing new
		{soft, 0, Decision{Grant: true}},
		{soft, 1, Decision{Grant: true}},
		{soft, 2, Decision{Grant: true, Overage: true}},
		{soft, 7, Decision{Grant: true, Overage: true}},
		{soft, 100, Decision{Grant: true, Overage: true}},
		{Pool{Name: "z", Seats: 0, Enforce: Hard}, 0, Decision{}},
		{Pool{Name: "z", Seats: 0, Enforce: Soft}, 0, Decision{Grant: true, Overage: true}},
		{over, 1, Decision{Grant: true}},
		{over, 2, Decision{Grant: true, Overage: true}},
		{over, 4, Decision{Grant: true, Overage: true}},
		{over, 5, Decision{}},
		{over, 9, Decision{}},
		{over1, 0, Decision{Grant: true}},
		{over1, 1, Decision{Grant: true}},
		{over1, 2, Decision{Grant: true, Overage: true}},
		{over1, 3, Decision{}},
		{Pool{Name: "z", Seats: 0, Enforce: Hard, Overage: 1}, 0, Decision{Grant: true, Overage: true}},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.p.Admit(c.held), "%s pool of %d (+%d), held %d", c.p.Enforce, c.p.Seats, c.p.Overage, c.held)
	}
}
