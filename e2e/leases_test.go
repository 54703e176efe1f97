package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
)

// startSite starts a 3-master cluster, a pool and n enrolled collectors.
func startSite(t *testing.T, opts harness.Options, pool string, seats int, enforce string, n int) (*harness.Cluster, []*harness.Collector) {
	t.Helper()
	c := harness.StartCluster(t, 3, opts)
	leader := c.WaitReady(60 * time.Second)
	_, errOut, code := leader.Meshctl("pool", "create", pool, "--seats", fmt.Sprint(seats), "--enforce", enforce)
	require.Equal(t, 0, code, "pool create: %s", errOut)
	tok := leader.JoinToken(n)
	var cols []*harness.Collector
	for i := range n {
		// Each collector starts from a different master, as a site would.
		masters := c.CollectorAddrs()
		masters = append(masters[i%3:], masters[:i%3]...)
		cols = append(cols, harness.StartCollector(t, fmt.Sprintf("c%d", i+1), masters[:1], tok))
	}
	for _, col := range cols {
		col.WaitReady(30 * time.Second)
	}
	return c, cols
}

func TestLeaseLifecycleThroughCollector(t *testing.T) {
	c, cols := startSite(t, harness.Options{}, "designer", 2, "hard", 1)
	col := cols[0]
	l, err := col.Acquire("designer", "alice")
	require.NoError(t, err)
	require.True(t, l.Valid, "bad lease: %+v", l)
	require.NotEmpty(t, l.Token, "bad lease: %+v", l)
	require.NotZero(t, l.Fence, "bad lease: %+v", l)
	again, err := col.Acquire("designer", "alice")
	require.NoError(t, err, "acquiring again for the same holder")
	require.Equal(t, l.ID, again.ID, "acquiring again for the same holder: %+v", again)
	v, err := col.Verify(l.Token)
	require.NoError(t, err, "verify")
	require.Equal(t, true, v["valid"], "verify: %v", v)
	v, err = col.Verify(l.Token[:len(l.Token)-4] + "AAAA")
	if err == nil {
		require.NotEqual(t, true, v["valid"], "tampered token verified: %v", v)
	}
	_, err = col.Acquire("designer", "bob")
	require.NoError(t, err)
	_, err = col.Acquire("designer", "carol")
	var ae *harness.APIError
	require.ErrorAs(t, err, &ae, "third holder in a 2-seat hard pool")
	require.Equal(t, 409, ae.Status, "third holder in a 2-seat hard pool: %v", err)
	_, err = col.Acquire("no-such-pool", "alice")
	require.ErrorAs(t, err, &ae, "unknown pool")
	require.Equal(t, 404, ae.Status, "unknown pool: %v", err)
	out, _, _ := c.Masters[1].Meshctl("lease", "list", "--pool", "designer", "-o", "csv")
	require.Equal(t, 2, strings.Count(out, "designer"), "masters should list 2 leases:\n%s", out)
	require.NoError(t, col.Release(l.ID))
	_, err = col.Acquire("designer", "carol")
	require.NoError(t, err, "a released seat should be free")
	// Leases are renewed past their TTL (6s in tests).
	time.Sleep(8 * time.Second)
	ls, err := col.Leases()
	require.NoError(t, err)
	for _, l := range ls {
		require.True(t, l.Valid, "lease not renewed: %+v", l)
	}
	// A soft pool grants past its seats and records the overage.
	_, errOut, code := c.Masters[0].Meshctl("pool", "create", "viewer", "--seats", "1", "--enforce", "soft")
	require.Equal(t, 0, code, "pool create: %s", errOut)
	for _, h := range []string{"v1", "v2", "v3"} {
		_, err := col.Acquire("viewer", h)
		require.NoError(t, err, "soft pool refused %s", h)
	}
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		out, _, _ := c.Masters[0].Meshctl("pool", "list", "-o", "csv")
		for _, line := range strings.Split(out, "\n") {
			// NAME,SEATS,ENFORCE,HELD,PEAK,OVERAGES,...
			if f := strings.Split(line, ","); len(f) > 5 && f[0] == "viewer" && f[3] == "3" && f[5] == "2" {
				return
			}
		}
		ct.Errorf("soft pool overage not recorded:\n%s", out)
	}, 5*time.Second, 50*time.Millisecond, "the soft pool's overage")
	out, _, _ = c.Masters[2].Meshctl("collector", "list", "-o", "csv")
	require.Contains(t, out, "c-", "collector not listed")
}
