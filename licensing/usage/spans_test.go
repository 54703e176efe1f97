package usage

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSpanSetUnion(t *testing.T) {
	cases := []struct {
		name    string
		adds    [][2]int64
		want    spanSet
		changed []bool
	}{
		{"disjoint kept sorted", [][2]int64{{10, 20}, {0, 5}, {30, 40}}, spanSet{{0, 5}, {10, 20}, {30, 40}}, []bool{true, true, true}},
		{"overlap merges", [][2]int64{{0, 10}, {5, 15}}, spanSet{{0, 15}}, []bool{true, true}},
		{"touching merges", [][2]int64{{0, 10}, {10, 20}}, spanSet{{0, 20}}, []bool{true, true}},
		{"bridge merges three", [][2]int64{{0, 5}, {10, 15}, {20, 25}, {3, 22}}, spanSet{{0, 25}}, []bool{true, true, true, true}},
		{"contained is no change", [][2]int64{{0, 10}, {2, 8}, {0, 10}}, spanSet{{0, 10}}, []bool{true, false, false}},
		{"empty is no change", [][2]int64{{5, 5}, {7, 3}}, nil, []bool{false, false}},
	}
	for _, tc := range cases {
		var ss spanSet
		for i, a := range tc.adds {
			assert.Equal(t, tc.changed[i], ss.add(a[0], a[1]), "%s: add %v changed", tc.name, a)
		}
		assert.Equal(t, tc.want, ss, tc.name)
		assert.True(t, ss.canonical(), "%s: %v not canonical", tc.name, ss)
	}
	ss := spanSet{{0, 10}, {20, 25}}
	assert.Equal(t, int64(15), ss.total(), "total")
}

func TestRoleText(t *testing.T) {
	for r := RoleSuper; r <= RoleRep; r++ {
		b, err := r.MarshalText()
		require.NoError(t, err)
		var back Role
		if assert.NoError(t, back.UnmarshalText(b), "%v round trip", r) {
			assert.Equal(t, r, back, "%v round trip", r)
		}
	}
	_, err := Role(0).MarshalText()
	assert.Error(t, err, "zero role marshalled")
	_, err = ParseRole("Super")
	assert.Error(t, err, "ParseRole is case-insensitive")
}
