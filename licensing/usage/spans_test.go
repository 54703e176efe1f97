package usage

import (
	"slices"
	"testing"
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
			if got := ss.add(a[0], a[1]); got != tc.changed[i] {
				t.Errorf("%s: add %v changed = %v, want %v", tc.name, a, got, tc.changed[i])
			}
		}
		if !slices.Equal(ss, tc.want) || !ss.canonical() {
			t.Errorf("%s: %v, want %v", tc.name, ss, tc.want)
		}
	}
	ss := spanSet{{0, 10}, {20, 25}}
	if ss.total() != 15 {
		t.Errorf("total = %d", ss.total())
	}
}

func TestRoleText(t *testing.T) {
	for r := RoleSuper; r <= RoleRep; r++ {
		b, err := r.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Role
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Errorf("%v round trip: %v %v", r, back, err)
		}
	}
	if _, err := Role(0).MarshalText(); err == nil {
		t.Error("zero role marshalled")
	}
	if _, err := ParseRole("Super"); err == nil {
		t.Error("ParseRole is case-insensitive")
	}
}
