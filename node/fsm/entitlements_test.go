package fsm

import (
	"testing"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.Greater(t, h.f.EntitlementsChanged(), before, "adding licenses did not mark entitlements changed")
	// Enrolled first, covered first: c-b and c-a, not c-c.
	for id, want := range map[string]bool{"c-b": true, "c-a": true, "c-c": false} {
		set, ok := h.f.Entitlements(id)
		require.True(t, ok, "Entitlements(%s)", id)
		require.Len(t, set.Licenses, 2, "Entitlements(%s) = %+v", id, set)
		require.NotEmpty(t, set.ClusterID, "Entitlements(%s) = %+v", id, set)
		require.NotZero(t, set.Index, "Entitlements(%s) = %+v", id, set)
		vol := set.Licenses[1]
		assert.Equal(t, license.LicenseID("vol-1"), vol.ID, id)
		assert.Equal(t, want, vol.Covered, "%s: volume license covered, note=%q", id, vol.Note)
		if !want {
			assert.NotEmpty(t, vol.Note, "%s: uncovered volume license has no note", id)
		}
		if cr := set.Licenses[0].Credits; assert.NotNil(t, cr, "%s: credits", id) {
			assert.Equal(t, int64(50), cr.Remaining, "%s: credits = %+v", id, cr)
			assert.Equal(t, "case", cr.Unit, "%s: credits = %+v", id, cr)
		}
		ok, why := h.f.CoversPool(id, "vol-pool")
		assert.Equal(t, want, ok, "CoversPool(%s), why=%q", id, why)
		if !want {
			assert.NotEmpty(t, why, "CoversPool(%s) refused without a reason", id)
		}
	}
	ok, _ := h.f.CoversPool("c-c", "pool-a")
	assert.True(t, ok, "a non-volume license's pool refused an uncovered collector")
	_, ok = h.f.Entitlements("ghost")
	assert.False(t, ok, "entitlements for a collector never enrolled")
	assert.Equal(t, []string{"c-b", "c-a"}, h.f.VolumeCoverage()["vol-1"], "VolumeCoverage")
	// A week without news of c-b frees its place for c-c.
	later := t0 + CoverageWindowMs + 100
	h.ok(CollectorSeenType, CollectorSeen{Now: later, Entries: []SeenEntry{
		{CollectorID: "c-a", SeenAt: later}, {CollectorID: "c-c", SeenAt: later},
	}})
	ok, _ = h.f.CoversPool("c-c", "vol-pool")
	assert.True(t, ok, "c-c not covered after c-b went silent for a week")
}
