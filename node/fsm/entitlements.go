package fsm

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/licmesh/licmesh/licensing/alert"
	"github.com/licmesh/licmesh/licensing/license"
)

// CoverageWindowMs is how long a collector unseen by the masters keeps its
// place under a volume license. A volume license covers a number of
// installations; counting every collector ever enrolled would let a
// decommissioned installation hold a place forever, so only collectors
// seen in the last week count, first enrolled first.
const CoverageWindowMs = 7 * 24 * 60 * 60 * 1000

// Entitled is one stored license as it applies to one collector.
type Entitled struct {
	LicenseInfo
	// Covered is false for a volume license whose installations are all
	// taken by collectors enrolled earlier; Note says so.
	Covered bool
	Note    string
}

// EntitlementSet is everything a collector's entitlement document says,
// as of one applied index.
type EntitlementSet struct {
	ClusterID string
	// Index is the applied Raft index the set was read at; Changed is the
	// index of the last command that may have changed any collector's
	// entitlements (compare with an earlier Changed to know whether to
	// rebuild).
	Index   uint64
	Changed uint64
	// Trusted is trusted time (Unix ms).
	Trusted  int64
	Licenses []Entitled
}

// EntitlementsChanged returns the index of the last command that may have
// changed what collectors are entitled to: cheap, for polling.
func (f *FSM) EntitlementsChanged() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.entChanged
}

// EntitlementBase is what every collector's entitlements are made from,
// read once under one lock: masters build it once per change and derive
// each collector's document from it.
type EntitlementBase struct {
	ClusterID string
	// Index is the applied Raft index it was read at; Changed is
	// EntitlementsChanged at that moment.
	Index   uint64
	Changed uint64
	// Trusted is trusted time (Unix ms).
	Trusted  int64
	Licenses []LicenseInfo
	// Covered lists, for each volume license, the collectors it covers.
	Covered map[license.LicenseID][]string
	// NoticeRules are the site's own rules of the kinds products show
	// their users (alert.NoticeKinds), by kind/subject.
	NoticeRules []alert.Rule
}

// EntitlementBase returns the licenses judged at trusted time with volume
// coverage, or false before the cluster is bootstrapped.
func (f *FSM) EntitlementBase() (EntitlementBase, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.st
	if s.cluster == nil {
		return EntitlementBase{}, false
	}
	b := EntitlementBase{ClusterID: s.cluster.ID, Index: s.index, Changed: s.entChanged, Trusted: s.trusted,
		Covered: s.volumeCoverage()}
	for _, id := range s.licenseIDs() {
		b.Licenses = append(b.Licenses, s.licenseInfo(s.licenses[id]))
	}
	for _, k := range slices.Sorted(maps.Keys(s.alerts.rules)) {
		if r := s.alerts.rules[k]; r.Kind.Notice() {
			r.Thresholds = slices.Clone(r.Thresholds)
			b.NoticeRules = append(b.NoticeRules, r)
		}
	}
	return b, true
}

// For returns the licenses as they apply to collector.
func (b EntitlementBase) For(collector string) []Entitled {
	out := make([]Entitled, 0, len(b.Licenses))
	for _, l := range b.Licenses {
		e := Entitled{LicenseInfo: l, Covered: true}
		if v := l.Volume; v != nil {
			e.Covered = slices.Contains(b.Covered[l.ID], collector)
			if !e.Covered {
				e.Note = uncoveredNote(l.ID, v.Installations)
			}
		}
		out = append(out, e)
	}
	return out
}

// Entitlements returns what collector is entitled to at trusted time, or
// false if it is not enrolled.
func (f *FSM) Entitlements(collector string) (EntitlementSet, bool) {
	if _, ok := f.Collector(collector); !ok {
		return EntitlementSet{}, false
	}
	b, ok := f.EntitlementBase()
	if !ok {
		return EntitlementSet{}, false
	}
	return EntitlementSet{ClusterID: b.ClusterID, Index: b.Index, Changed: b.Changed, Trusted: b.Trusted,
		Licenses: b.For(collector)}, true
}

// VolumeCoverage returns, for each stored volume license, the collectors it
// covers at trusted time, first enrolled first.
func (f *FSM) VolumeCoverage() map[license.LicenseID][]string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.volumeCoverage()
}

func (s *state) volumeCoverage() map[license.LicenseID][]string {
	out := map[license.LicenseID][]string{}
	var active []Collector
	for _, id := range s.licenseIDs() {
		v := s.licenses[id].lic.Volume
		if v == nil {
			continue
		}
		if active == nil {
			active = s.activeCollectors()
		}
		ids := []string{}
		for _, c := range active[:min(v.Installations, len(active))] {
			ids = append(ids, c.ID)
		}
		out[id] = ids
	}
	return out
}

// activeCollectors are the collectors seen within CoverageWindowMs of
// trusted time, by enrollment time, then ID. It never returns nil.
func (s *state) activeCollectors() []Collector {
	out := []Collector{}
	for _, c := range s.collectors.m {
		if c.LastSeenAt >= s.trusted-CoverageWindowMs {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Collector) int {
		return cmp.Or(cmp.Compare(a.EnrolledAt, b.EnrolledAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// CoversPool reports whether collector may take seats of pool: yes unless
// every license in force that grants the pool is a volume license whose
// installations are taken by other collectors. A pool no license grants
// (manual, or none) is not this check's business.
func (f *FSM) CoversPool(collector, pool string) (bool, string) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.st
	p, ok := s.pools[pool]
	if !ok || p.source != SourceLicense {
		return true, ""
	}
	var refusal string
	rank, active := -1, false
	for _, id := range p.licenses {
		v := s.licenses[id].lic.Volume
		if v == nil {
			return true, ""
		}
		if rank < 0 {
			rank, active = s.coverageRank(collector)
		}
		if active && rank < v.Installations {
			return true, ""
		}
		refusal = "volume " + uncoveredNote(id, v.Installations)
	}
	return refusal == "", refusal
}

// coverageRank is where collector stands in activeCollectors' order, and
// whether it is in it at all: one pass, no sort, for the acquire path.
func (s *state) coverageRank(collector string) (rank int, active bool) {
	me, ok := s.collectors.m[collector]
	if !ok || me.LastSeenAt < s.trusted-CoverageWindowMs {
		return 0, false
	}
	for _, c := range s.collectors.m {
		if c.LastSeenAt >= s.trusted-CoverageWindowMs &&
			cmp.Or(cmp.Compare(c.EnrolledAt, me.EnrolledAt), cmp.Compare(c.ID, me.ID)) < 0 {
			rank++
		}
	}
	return rank, true
}

// uncoveredNote says why a volume license does not cover a collector.
func uncoveredNote(id license.LicenseID, installations int) string {
	return fmt.Sprintf("license %s covers %d installation(s), taken by collectors enrolled earlier", id, installations)
}

// hasVolumeLicense reports whether a volume license is stored, the only
// kind whose entitlements depend on which collectors are enrolled.
func (s *state) hasVolumeLicense() bool {
	for _, rec := range s.licenses {
		if rec.lic.Volume != nil {
			return true
		}
	}
	return false
}
