package fsm

import (
	"maps"

	"github.com/licmesh/licmesh/licensing/license"
)

// Licenses returns every stored license, sorted by ID, judged at trusted
// time, without its text.
func (f *FSM) Licenses() []LicenseInfo {
	f.mu.RLock()
	defer f.mu.RUnlock()
	ids := f.st.licenseIDs()
	out := make([]LicenseInfo, 0, len(ids))
	for _, id := range ids {
		out = append(out, f.st.licenseInfo(f.st.licenses[id]))
	}
	return out
}

// License returns one stored license, judged at trusted time, with its
// canonical armoured text.
func (f *FSM) License(id license.LicenseID) (LicenseInfo, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	rec, ok := f.st.licenses[id]
	if !ok {
		return LicenseInfo{}, false
	}
	info := f.st.licenseInfo(rec)
	info.Text = append([]byte(nil), rec.lic.Text...)
	return info, true
}

func (s *state) licenseInfo(rec *licenseRec) LicenseInfo {
	// A fresh parse gives the caller a payload that shares nothing with
	// the state; the text parsed when it was stored, so it parses now.
	l, err := parseLicense(rec.lic.Text)
	if err != nil {
		l = rec.lic
	}
	st := standing(l, s.trusted)
	info := LicenseInfo{
		Payload:  l.Payload,
		KeyID:    l.KeyID,
		Status:   st,
		InForce:  inForce(st.Phase),
		AddedAt:  rec.addedAt,
		Replaced: append([]license.LicenseID(nil), rec.replaced...),
	}
	if b, ok := s.balance(rec.lic); ok {
		info.Credits = &b
	}
	for _, p := range grantsAt(l, s.trusted) {
		g := PoolGrant{Pool: p}
		if ps, ok := s.pools[p.Name]; ok {
			g.Held = len(ps.holders)
		}
		info.Grants = append(info.Grants, g)
	}
	return info
}

// Features returns the features enabled by the licenses in force at
// trusted time: a feature is on if any of them enables it. The map is the
// caller's.
func (f *FSM) Features() map[string]bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return maps.Clone(f.st.features)
}

// PoolExpired reports whether nothing in force grants the pool any more,
// so that the leader stops renewing its leases: its seats came only from
// licenses past their grace (SourceExpired), its license was removed
// (SourceNone), or the pool does not exist. It is false for a pool that
// licenses in force or a manual config grant.
func (f *FSM) PoolExpired(name string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.pools[name].renewsNothing()
}

// renewsNothing says whether a pool (nil: one that does not exist) has no
// license in force, past every grace, so that its leases are left to run
// out.
func (p *poolState) renewsNothing() bool {
	return p == nil || p.source == SourceExpired || p.source == SourceNone
}
