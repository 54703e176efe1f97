package fsm

import (
	"testing"

	"github.com/licmesh/licmesh/licensing/license"
)

func TestEntitlementsVolumeCoverageAndCredits(t *testing.T) {
	h := bootstrapped(t)
	h.ok(CreateTokenType, CreateToken{ID: "j", SecretHash: Hash{1}, Role: RoleCollector, Now: t0})
	for i, id := range []string{"c-b", "c-a", "c-c"} {
		h.ok(EnrollType, Enroll{TokenID: "j", SecretHash: Hash{1}, CollectorID: id, CertSerial: "01", Now: t0 + int64(i)})
	}
	before := h.f.EntitlementsChanged()
	h.addLicense(testPayload("vol-1", func(p *license.Payload) {
		p.Type, p.Subscription = license.Volume, nil
		p.Volume = &license.VolumeTerms{Installations: 2}
		p.LicenseTemplate = []license.TemplateEntry{{Name: "vol-pool", Users: 4, UsersCalculation: license.Fixed}}
	}), t0+10)
	h.addLicense(testPayload("cred-1", withCredits("case", 50, 5)), t0+11)
	if h.f.EntitlementsChanged() <= before {
		t.Fatal("adding licenses did not mark entitlements changed")
	}
	// Enrolled first, covered first: c-b and c-a, not c-c.
	for id, want := range map[string]bool{"c-b": true, "c-a": true, "c-c": false} {
		set, ok := h.f.Entitlements(id)
		if !ok || len(set.Licenses) != 2 || set.ClusterID == "" || set.Index == 0 {
			t.Fatalf("Entitlements(%s) = %+v, %v", id, set, ok)
		}
		vol := set.Licenses[1]
		if vol.ID != "vol-1" || vol.Covered != want || (!want && vol.Note == "") {
			t.Errorf("%s: volume license covered=%v note=%q, want covered=%v", id, vol.Covered, vol.Note, want)
		}
		if cr := set.Licenses[0].Credits; cr == nil || cr.Remaining != 50 || cr.Unit != "case" {
			t.Errorf("%s: credits = %+v", id, cr)
		}
		if ok, why := h.f.CoversPool(id, "vol-pool"); ok != want || (!want && why == "") {
			t.Errorf("CoversPool(%s) = %v, %q", id, ok, why)
		}
	}
	if ok, _ := h.f.CoversPool("c-c", "pool-a"); !ok {
		t.Error("a non-volume license's pool refused an uncovered collector")
	}
	if _, ok := h.f.Entitlements("ghost"); ok {
		t.Error("entitlements for a collector never enrolled")
	}
	if cov := h.f.VolumeCoverage()["vol-1"]; len(cov) != 2 || cov[0] != "c-b" || cov[1] != "c-a" {
		t.Errorf("VolumeCoverage = %v", cov)
	}
	// A week without news of c-b frees its place for c-c.
	later := t0 + CoverageWindowMs + 100
	h.ok(CollectorSeenType, CollectorSeen{Now: later, Entries: []SeenEntry{
		{CollectorID: "c-a", SeenAt: later}, {CollectorID: "c-c", SeenAt: later},
	}})
	if ok, _ := h.f.CoversPool("c-c", "vol-pool"); !ok {
		t.Error("c-c not covered after c-b went silent for a week")
	}
}
