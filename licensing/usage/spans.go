package usage

import (
	"slices"
	"sort"
)

// span is the half-open interval [s, e) in Unix nanoseconds.
type span struct{ s, e int64 }

// spanSet is a union of intervals kept as sorted, disjoint, non-touching
// spans. One user's sessions are folded into it, so a user is online or not
// at any instant (two browser tabs are one user logged on) and a session
// reported many times takes the space of one.
type spanSet []span

// add unions [s, e) into the set and reports whether the set changed.
func (ss *spanSet) add(s, e int64) bool {
	if s >= e {
		return false
	}
	set := *ss
	// Spans i..j-1 overlap or touch [s, e); they merge with it.
	i := sort.Search(len(set), func(i int) bool { return set[i].e >= s })
	j := sort.Search(len(set), func(j int) bool { return set[j].s > e })
	if i == j {
		*ss = slices.Insert(set, i, span{s, e})
		return true
	}
	merged := span{min(s, set[i].s), max(e, set[j-1].e)}
	if j-i == 1 && merged == set[i] {
		return false
	}
	set[i] = merged
	*ss = slices.Delete(set, i+1, j)
	return true
}

// union adds every span of o to the set.
func (ss *spanSet) union(o spanSet) {
	for _, sp := range o {
		ss.add(sp.s, sp.e)
	}
}

// total returns the summed length of the spans in nanoseconds. A month's
// spans are clipped to the month, so the sum fits easily in an int64.
func (ss spanSet) total() int64 {
	var t int64
	for _, sp := range ss {
		t += sp.e - sp.s
	}
	return t
}

// canonical reports whether the set is sorted, disjoint, non-touching and
// holds no empty span, as add keeps it.
func (ss spanSet) canonical() bool {
	for i, sp := range ss {
		if sp.s >= sp.e || (i > 0 && ss[i-1].e >= sp.s) {
			return false
		}
	}
	return true
}
