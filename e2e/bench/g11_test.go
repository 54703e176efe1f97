package bench

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestG11 runs a fleet of 30 simulated collectors against three real
// masters with a short lease TTL, so that the window still spans two
// renewal periods.
func TestG11(t *testing.T) {
	cfg := tinyMeshConfig(t)
	cfg.Mesh.LeaseTTL = 3 * time.Second
	fc := DefaultFleetConfig()
	fc.Collectors = 30
	fc.ChangeTimeout = 20 * time.Second
	r, err := MeasureG11(t.Context(), cfg, fc)
	require.NoError(t, err)
	assert.Equal(t, 3*time.Second, r.TTL, "the masters' lease TTL")
	assert.GreaterOrEqual(t, r.Window, 2*time.Second, "a window of two renewal periods")
	// Every collector renews about twice in the window, in one call for
	// both its leases, all of them answered.
	assert.GreaterOrEqual(t, r.Counts.RenewCalls, int64(fc.Collectors), "renew calls %+v", r.Counts)
	assert.Equal(t, 2*(r.Counts.RenewCalls-r.Counts.RenewFailed), r.Counts.Renewed+r.Counts.Refused, "leases per call %+v", r.Counts)
	assert.Zero(t, r.Counts.Refused, "refused renewals %+v", r.Counts)
	var streams int64
	leaders := 0
	for _, m := range r.Masters {
		streams += m.Streams
		if m.Leader {
			leaders++
			assert.Positive(t, m.CPU, "leader %+v", m)
		}
		// A follower of 30 collectors may not use a clock tick of CPU in
		// two seconds, since leadership checks gather renewals (one
		// barrier per 100 ms at most).
		assert.GreaterOrEqual(t, m.CPU, time.Duration(0), "master %+v", m)
		assert.Greater(t, m.RSS, 1.0, "master %+v", m)
	}
	assert.Equal(t, 1, leaders, "masters %+v", r.Masters)
	assert.Equal(t, int64(fc.Collectors), streams, "open streams %+v", r.Masters)
	assert.Equal(t, fc.Collectors, r.Reached, "collectors the license change reached")
	assert.Positive(t, r.Change.Max, "change %+v", r.Change)
	assert.Positive(t, r.LoadCPU)

	rows := g11Rows(r)
	require.Len(t, rows, 7, "rows %+v", rows)
	for _, row := range rows {
		assert.Equal(t, "G11", row.ID, "row %+v", row)
	}
	for _, i := range []int{0, 1, 4} {
		assert.NotNil(t, rows[i].Met, "a goal row without a verdict: %+v", rows[i])
	}
	assert.Equal(t, "cores", rows[0].Unit)
	assert.Contains(t, rows[0].Note, "load generator")
	assert.Positive(t, rows[3].Value, "leader share %+v", rows[3])
	assert.Contains(t, rows[5].Note, "CPU seconds the change took")
	assert.Positive(t, r.Renew.N, "renew latencies")
	assert.Positive(t, rows[6].Value, "renew p99 %+v", rows[6])
}

// TestG11RowsWithoutChange: a change that reached no stream fails its
// goal and says why, rather than reporting zero seconds.
func TestG11RowsWithoutChange(t *testing.T) {
	r := FleetRun{Collectors: 10, LeasesEach: 2, TTL: 3 * time.Second, Window: 2 * time.Second,
		Masters:       []MasterUse{{ID: "m1", Leader: true, CPU: time.Second, RSSBefore: 40, RSS: 41}, {ID: "m2", RSSBefore: 40, RSS: 40}},
		ChangeTimeout: time.Minute, LastError: "boom"}
	rows := g11Rows(r)
	require.Len(t, rows, 7)
	assert.InDelta(t, 0.5, rows[0].Value, 1e-9, "cores")
	assert.InDelta(t, 102.4, rows[1].Value, 1e-9, "KiB per collector")
	assert.False(t, *rows[1].Met, "102.4 KiB is over the goal")
	assert.InDelta(t, 100, rows[3].Value, 1e-9, "leader share")
	require.NotNil(t, rows[4].Met)
	assert.False(t, *rows[4].Met)
	assert.Contains(t, rows[4].Note, "boom")
}

func TestSplitEntDoc(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	p, s, err := splitEntDoc("lme1." + enc([]byte(`{"serial":3}`)) + "." + enc([]byte("sig")))
	require.NoError(t, err)
	assert.JSONEq(t, `{"serial":3}`, string(p))
	assert.Equal(t, "sig", string(s))
	for _, bad := range []string{"", "lme1.", "lml1." + enc([]byte("{}")) + ".x", "lme1." + enc([]byte("[]")) + "." + enc([]byte("s")), "lme1.!!.x"} {
		_, _, err := splitEntDoc(bad)
		assert.ErrorIs(t, err, ErrMesh, "%q", bad)
	}
}

func TestFleetConfigFromEnv(t *testing.T) {
	t.Setenv(EnvCollectors, "250")
	fc, err := FleetConfigFromEnv()
	require.NoError(t, err)
	assert.Equal(t, 250, fc.Collectors)
	for _, bad := range []string{"many", "0", "-3"} {
		t.Setenv(EnvCollectors, bad)
		_, err := FleetConfigFromEnv()
		assert.ErrorIs(t, err, ErrInvalidConfig, "%s=%q", EnvCollectors, bad)
	}
	fc = DefaultFleetConfig()
	fc.Sockets = 0
	assert.ErrorIs(t, fc.Validate(), ErrInvalidConfig, "no sockets")
}
