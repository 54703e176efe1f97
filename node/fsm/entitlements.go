package fsm

import (
	"cmp"
	"fmt"
	"slices"

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

// Entitlements returns what collector is entitled to at trusted time, or
// false if it is not enrolled.
func (f *FSM) Entitlements(collector string) (EntitlementSet, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.st
	if _, ok := s.collectors.m[collector]; !ok || s.cluster == nil {
		return EntitlementSet{}, false
	}
	set := EntitlementSet{ClusterID: s.cluster.ID, Index: s.index, Changed: s.entChanged, Trusted: s.trusted}
	var active []Collector // for volume coverage, computed once
	for _, id := range s.licenseIDs() {
		rec := s.licenses[id]
		e := Entitled{LicenseInfo: s.licenseInfo(rec), Covered: true}
		if v := rec.lic.Volume; v != nil {
			if active == nil {
				active = s.activeCollectors()
			}
			n := min(v.Installations, len(active))
			e.Covered = slices.ContainsFunc(active[:n], func(c Collector) bool { return c.ID == collector })
			if !e.Covered {
				e.Note = fmt.Sprintf("license covers %d installation(s), taken by collectors enrolled earlier", v.Installations)
			}
		}
		set.Licenses = append(set.Licenses, e)
	}
	return set, true
}

// VolumeCoverage returns, for each stored volume license, the collectors it
// covers at trusted time, first enrolled first.
func (f *FSM) VolumeCoverage() map[license.LicenseID][]string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.st
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
	var active []Collector
	var refusal string
	for _, id := range p.licenses {
		v := s.licenses[id].lic.Volume
		if v == nil {
			return true, ""
		}
		if active == nil {
			active = s.activeCollectors()
		}
		if slices.ContainsFunc(active[:min(v.Installations, len(active))], func(c Collector) bool { return c.ID == collector }) {
			return true, ""
		}
		refusal = fmt.Sprintf("volume license %s covers %d installation(s), taken by collectors enrolled earlier", id, v.Installations)
	}
	return refusal == "", refusal
}
