package master

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/node/fsm"
)

// enrollCollectors enrolls collectors with the given IDs, seen now.
func enrollCollectors(t *testing.T, s *Server, ids ...string) {
	t.Helper()
	ctx := context.Background()
	now := s.now().UnixMilli()
	for i, id := range ids {
		secret := []byte(fmt.Sprintf("%032d", i))
		tok := fmt.Sprintf("tokroll%03d", i)
		_, err := s.apply(ctx, fsm.CreateTokenType, fsm.CreateToken{ID: tok, SecretHash: sha256.Sum256(secret), Role: fsm.RoleCollector, ExpiresAt: now + 3600e3, Now: now})
		require.NoError(t, err, "create token")
		_, err = s.apply(ctx, fsm.EnrollType, fsm.Enroll{TokenID: tok, SecretHash: sha256.Sum256(secret), CollectorID: id, Hostname: id, Version: "1.0.0", CertSerial: fmt.Sprint(i + 1), Now: now})
		require.NoError(t, err, "enroll %s", id)
	}
}

func seen(t *testing.T, s *Server, id string) {
	t.Helper()
	now := s.now().UnixMilli()
	_, err := s.apply(context.Background(), fsm.CollectorSeenType, fsm.CollectorSeen{Now: now, Entries: []fsm.SeenEntry{{CollectorID: id, SeenAt: now}}})
	require.NoError(t, err)
}

func unitState(s *Server, id string) string {
	r := s.fsm.Updates().Rollout
	if r == nil {
		return ""
	}
	for _, u := range r.Collectors {
		if u.ID == id {
			return u.State
		}
	}
	return ""
}

// A collector offline when its wave begins is excluded, or with the
// "wait" policy waited for: ordered once it is back, with the whole wave
// timeout from then, so that coming back late does not fail it.
func TestOfflineCollectorsExcludedOrWaitedFor(t *testing.T) {
	for _, policy := range []string{"exclude", "wait"} {
		t.Run(policy, func(t *testing.T) {
			s, clk := startMaster(t, func(c *Config) { c.RolloutTick = 50 * time.Millisecond })
			enrollCollectors(t, s, "c-on", "c-off")
			clk.Advance(2 * time.Minute)
			seen(t, s, "c-on")
			plan := fsm.RolloutPlan{Canary: 2, BatchSize: 2, WaveTimeoutMs: 60_000, OfflineAfterMs: 30_000, OfflinePolicy: policy}.WithDefaults()
			r := fsm.Rollout{ID: "ro-test", Version: "2.0.0", StartedBy: "test", Plan: plan, Phase: fsm.PhaseCollectors,
				Collectors: []fsm.RolloutUnit{{ID: "c-off", From: "1.0.0", State: fsm.UnitPending}, {ID: "c-on", From: "1.0.0", State: fsm.UnitPending}},
				Masters:    s.masterOrder("2.0.0")}
			_, err := s.apply(context.Background(), fsm.RolloutChangeType, fsm.RolloutChange{RolloutID: r.ID, Start: &r, Now: s.now().UnixMilli()})
			require.NoError(t, err)

			want := map[string]string{"exclude": fsm.UnitExcluded, "wait": fsm.UnitPending}[policy]
			require.Eventually(t, func() bool { return unitState(s, "c-on") == fsm.UnitOrdered && unitState(s, "c-off") == want },
				10*time.Second, poll, "c-on ordered, c-off %s", want)
			report := fsm.RolloutChange{RolloutID: r.ID, Units: []fsm.UnitChange{{ID: "c-on", State: fsm.UnitUpdated, Version: "2.0.0"}}, Now: s.now().UnixMilli()}
			_, err = s.apply(context.Background(), fsm.RolloutChangeType, report)
			require.NoError(t, err)
			if policy == "exclude" {
				require.Eventually(t, func() bool { return s.fsm.Updates().Rollout.Phase != fsm.PhaseCollectors }, 10*time.Second, poll,
					"the wave ends without the excluded collector")
				return
			}
			// Waited for past the wave's timeout: the wave holds.
			clk.Advance(5 * time.Minute)
			require.Never(t, func() bool { return unitState(s, "c-off") != fsm.UnitPending }, 300*time.Millisecond, poll)
			assert.Equal(t, fsm.PhaseCollectors, s.fsm.Updates().Rollout.Phase)
			// Back: ordered now, and not failed for the time it was away.
			seen(t, s, "c-off")
			require.Eventually(t, func() bool { return unitState(s, "c-off") == fsm.UnitOrdered }, 10*time.Second, poll)
			require.Never(t, func() bool { return unitState(s, "c-off") != fsm.UnitOrdered }, 300*time.Millisecond, poll)
			// Silent for the whole timeout once ordered and online: failed.
			clk.Advance(61 * time.Second)
			seen(t, s, "c-off")
			require.Eventually(t, func() bool { return unitState(s, "c-off") != fsm.UnitOrdered }, 10*time.Second, poll)
			assert.Equal(t, fsm.UnitFailed, unitState(s, "c-off"))
		})
	}
}
