package fsm

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testRollout(id string) *Rollout {
	return &Rollout{ID: id, Version: "2.0.0", StartedBy: "admin", Phase: PhaseCollectors, Plan: RolloutPlan{}.WithDefaults(),
		Collectors: []RolloutUnit{
			{ID: "c1", From: "1.0.0", State: UnitPending},
			{ID: "c2", From: "1.0.0", State: UnitPending, Wave: 1},
			{ID: "c3", From: "2.0.0", State: UnitSkipped},
		},
		Masters: []RolloutUnit{{ID: "m2", From: "1.0.0", State: UnitPending}, {ID: "m1", From: "1.0.0", State: UnitPending}},
	}
}

func releaseChecked(now int64) UpdateChecked {
	return UpdateChecked{Source: "hub", Trust: &ReleaseTrust{Root: []byte(`{}`)}, Now: now, Releases: []KnownRelease{
		{Version: "2.0.0", Channel: "stable", Released: t0, Artifacts: []ReleaseArtifact{
			{Name: "2.0.0/collectord-linux-amd64", Component: "collectord", OS: "linux", Arch: "amd64", SHA256: strings.Repeat("a", 64), Size: 3},
			{Name: "2.0.0/meshd-linux-amd64", Component: "meshd", OS: "linux", Arch: "amd64", SHA256: strings.Repeat("b", 64), Size: 4},
		}},
		{Version: "1.0.0", Channel: "stable", Released: t0 - 1000, Artifacts: []ReleaseArtifact{
			{Name: "1.0.0/collectord-linux-amd64", Component: "collectord", OS: "linux", Arch: "amd64", SHA256: strings.Repeat("c", 64), Size: 3},
		}},
	}}
}

// TestRolloutRecord: a rollout is recorded step by step, each step whole
// or not at all; one runs at a time; a halted rollout still hears from
// the collectors it sent back; orders follow the units' states; all of it
// survives a snapshot.
func TestRolloutRecord(t *testing.T) {
	h := bootstrapped(t)
	h.ok(UpdateCheckedType, releaseChecked(t0+1))
	h.ok(ArtifactStoredType, ArtifactStored{Node: "m1", SHA256: []string{strings.Repeat("b", 64), strings.Repeat("a", 64)}, Now: t0 + 1})
	assert.Equal(t, []string{strings.Repeat("a", 64), strings.Repeat("b", 64)}, h.f.Updates().Stored["m1"], "kept sorted")

	h.ok(RolloutChangeType, RolloutChange{RolloutID: "ro-1", Start: testRollout("ro-1"), Now: t0 + 2})
	r := h.apply(RolloutChangeType, RolloutChange{RolloutID: "ro-2", Start: testRollout("ro-2"), Now: t0 + 3})
	require.ErrorIs(t, r.Err, ErrRolloutState, "one rollout at a time")
	assert.Empty(t, h.f.CollectorOrder("c1").Action, "pending: no order yet")

	h.ok(RolloutChangeType, RolloutChange{RolloutID: "ro-1", Units: []UnitChange{{ID: "c1", State: UnitOrdered}}, Now: t0 + 4})
	o := h.f.CollectorOrder("c1")
	assert.Equal(t, "install", o.Action)
	assert.Equal(t, "2.0.0", o.Version)
	require.Len(t, o.Artifacts, 1, "only collectord builds")
	assert.Equal(t, "collectord", o.Artifacts[0].Component)

	before := h.f.Updates()
	r = h.apply(RolloutChangeType, RolloutChange{RolloutID: "ro-1", Units: []UnitChange{{ID: "c1", State: UnitUpdated}, {ID: "nobody", State: UnitUpdated}}, Now: t0 + 5})
	require.ErrorIs(t, r.Err, ErrRolloutState)
	assert.Equal(t, before, h.f.Updates(), "a refused step changes nothing, not even its valid part")

	h.ok(CreateTokenType, CreateToken{ID: "tok1", SecretHash: Hash{1}, Role: RoleCollector, ExpiresAt: t0 + 100_000, MaxUses: 2, Now: t0 + 5})
	h.ok(EnrollType, Enroll{TokenID: "tok1", SecretHash: Hash{1}, CollectorID: "c1", Hostname: "h1", Version: "1.0.0", CertSerial: "0a", Now: t0 + 5})
	h.ok(RolloutChangeType, RolloutChange{RolloutID: "ro-1", Units: []UnitChange{{ID: "c1", State: UnitUpdated, Version: "2.0.0"}}, NextWave: true, Now: t0 + 6})
	col, _ := h.f.Collector("c1")
	assert.Equal(t, "2.0.0", col.Version, "the version a collector reports is recorded with its unit, not at the next presence flush")
	h.ok(RolloutChangeType, RolloutChange{RolloutID: "ro-1", Units: []UnitChange{{ID: "c2", State: UnitOrdered}}, Now: t0 + 7})
	h.ok(RolloutChangeType, RolloutChange{RolloutID: "ro-1", Units: []UnitChange{{ID: "c2", State: UnitFailed, Detail: "unhealthy"}}, Now: t0 + 8})
	h.ok(RolloutChangeType, RolloutChange{RolloutID: "ro-1", Units: []UnitChange{{ID: "c2", State: UnitRollback}}, Phase: PhaseHalted,
		Halt: "1 collector of wave 1 failed", Now: t0 + 9})
	ro := h.f.Updates().Rollout
	assert.Equal(t, PhaseHalted, ro.Phase)
	assert.Equal(t, t0+9, ro.EndedAt)
	o = h.f.CollectorOrder("c2")
	assert.Equal(t, "rollback", o.Action, "a halted rollout still sends its wave back")
	assert.Equal(t, "1.0.0", o.Version)
	require.Len(t, o.Artifacts, 1)
	assert.Equal(t, strings.Repeat("c", 64), o.Artifacts[0].SHA256)
	assert.Empty(t, h.f.CollectorOrder("c1").Action, "an updated collector is told nothing")

	r = h.apply(RolloutChangeType, RolloutChange{RolloutID: "ro-1", NextWave: true, Now: t0 + 10})
	require.ErrorIs(t, r.Err, ErrRolloutState, "a halted rollout does not move on")
	h.ok(RolloutChangeType, RolloutChange{RolloutID: "ro-1", Units: []UnitChange{{ID: "c2", State: UnitRolledBack}}, Now: t0 + 11})
	assert.Empty(t, h.f.CollectorOrder("c2").Action)

	// A new rollout may start now; the halted one goes to the past.
	h.ok(RolloutChangeType, RolloutChange{RolloutID: "ro-2", Start: testRollout("ro-2"), Now: t0 + 12})
	u := h.f.Updates()
	require.Len(t, u.Past, 1)
	assert.Equal(t, "ro-1", u.Past[0].ID)

	snap := snapshotBytes(t, h.f)
	f := New()
	require.NoError(t, f.Restore(io.NopCloser(bytes.NewReader(snap))))
	assert.Equal(t, h.f.Updates(), f.Updates())
	assert.Equal(t, snap, snapshotBytes(t, f))
}

func TestUpdateCommandsRefuseBadInput(t *testing.T) {
	for name, c := range map[string]struct {
		mt  MsgType
		cmd any
	}{
		"bad channel":      {SetUpdateSettingsType, SetUpdateSettings{Settings: UpdateSettings{Channel: "nightly"}, Now: t0}},
		"check too often":  {SetUpdateSettingsType, SetUpdateSettings{Settings: UpdateSettings{CheckEveryMs: 10}, Now: t0}},
		"bad policy":       {SetUpdateSettingsType, SetUpdateSettings{Settings: UpdateSettings{Plan: RolloutPlan{OfflinePolicy: "hope"}}, Now: t0}},
		"no trust":         {UpdateCheckedType, UpdateChecked{Source: "hub", Now: t0}},
		"error and trust":  {UpdateCheckedType, UpdateChecked{Source: "hub", Error: "x", Trust: &ReleaseTrust{Root: []byte("{}")}, Now: t0}},
		"bad source":       {UpdateCheckedType, UpdateChecked{Source: "usb", Error: "x", Now: t0}},
		"bad sha":          {ArtifactStoredType, ArtifactStored{Node: "m1", SHA256: []string{"abc"}, Now: t0}},
		"wrong first step": {RolloutChangeType, RolloutChange{RolloutID: "ro-1", Start: &Rollout{ID: "ro-1", Version: "2.0.0", StartedBy: "a", Phase: PhaseMasters}, Now: t0}},
		"unsorted": {RolloutChangeType, RolloutChange{RolloutID: "ro-1", Start: &Rollout{ID: "ro-1", Version: "2.0.0", StartedBy: "a", Phase: PhaseCollectors,
			Collectors: []RolloutUnit{{ID: "c2", State: UnitPending}, {ID: "c1", State: UnitPending}}}, Now: t0}},
		"bad state": {RolloutChangeType, RolloutChange{RolloutID: "ro-1", Units: []UnitChange{{ID: "c1", State: "happy"}}, Now: t0}},
	} {
		_, err := Encode(c.mt, c.cmd)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
}
