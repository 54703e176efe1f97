package release

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseSemver(t *testing.T) {
	for _, v := range []string{"0.0.0", "1.4.0", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0-x-y-z.--", "99999999999999999999.0.0"} {
		_, ok := parseSemver(v)
		assert.True(t, ok, v)
	}
	for _, v := range []string{"", "v1.0.0", "1", "1.0", "1.0.0.0", "01.0.0", "1.00.0", "1.0.0-", "1.0.0-01", "1.0.0-a..b", "1.0.0+build", "1.0.0-a+b", "1.0.0-a_b", "1.0.0 ", "-1.0.0", "1.0.x", "1.0.0/x"} {
		_, ok := parseSemver(v)
		assert.False(t, ok, v)
	}
}

func TestCompareSemver(t *testing.T) {
	// SemVer 2.0.0's own precedence example, plus numeric fields wider
	// than a string comparison gets right.
	ordered := []string{
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.2.0", "1.10.0", "2.0.0", "10.0.0",
	}
	for i := range ordered {
		for j := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			assert.Equal(t, want, compareSemver(ordered[i], ordered[j]), "%s vs %s", ordered[i], ordered[j])
		}
	}
	shuffled := []string{"1.10.0", "1.0.0-beta.11", "10.0.0", "1.0.0-alpha", "1.0.0", "1.2.0", "1.0.0-beta.2"}
	slices.SortFunc(shuffled, compareSemver)
	assert.Equal(t, []string{"1.0.0-alpha", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0", "1.2.0", "1.10.0", "10.0.0"}, shuffled)
	assert.Equal(t, -1, compareSemver("bogus", "0.0.1"), "invalid sorts first")
}
