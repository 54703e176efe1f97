package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
)

// TestEntitlementsReachCollectorsAndOutliveTheMasters: collectors get
// their cluster-signed entitlements within seconds of a license change;
// usage credits are spent through a master, all or nothing; a volume
// license covers only as many installations as it says; and with every
// master stopped, even across a collector restart, feature checks are
// answered until the license's expiry plus grace, and no longer.
func TestEntitlementsReachCollectorsAndOutliveTheMasters(t *testing.T) {
	keyFile, trust := vendorKey(t)
	c := harness.StartCluster(t, 3, harness.Options{ExtraArgs: []string{"--vendor-keys", trust}})
	leader := c.WaitReady(60 * time.Second)
	st, err := leader.Status()
	require.NoError(t, err)
	cluster := st.ClusterId
	cols := []*harness.Collector{
		harness.StartCollector(t, "c1", c.CollectorAddrs(), leader.JoinToken(1)),
	}
	cols[0].WaitReady(30 * time.Second)
	// c2 enrolls later, so a one-installation volume license covers c1.
	cols = append(cols, harness.StartCollector(t, "c2", c.CollectorAddrs(), leader.JoinToken(1)))
	cols[1].WaitReady(30 * time.Second)

	waitFeature := func(col *harness.Collector, name string, want bool, within time.Duration) harness.Feature {
		t.Helper()
		var last harness.Feature
		start := time.Now()
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			f, err := col.Feature(name, "")
			last = f
			if err != nil {
				c.Errorf("%v", err)
				return
			}
			if f.Enabled != want {
				c.Errorf("%s: feature %s enabled=%v (%s), want %v", col.Name, name, f.Enabled, f.Reason, want)
			}
		}, within, 50*time.Millisecond, "%s: feature %s", col.Name, name)
		t.Logf("%s: %s enabled=%v after %v", col.Name, name, want, time.Since(start).Round(10*time.Millisecond))
		return last
	}

	// A license added through a follower reaches every collector within
	// seconds.
	follower := c.Masters[0]
	if follower == leader {
		follower = c.Masters[1]
	}
	sub := licensePayload("lic-sub", cluster, 3, time.Now().Add(30*24*time.Hour).UTC().Truncate(time.Second))
	sub["features"] = []map[string]any{{"name": "reports", "type": "checkbox", "scope": "instance", "enabled": true}}
	sub["license_template"] = []map[string]any{
		{"name": "designer", "users": 3, "users_calculation": "fixed"},
		{"name": "viewer", "users": 1, "users_calculation": "fixed", "enforce": "soft"},
	}
	_, errOut, code := follower.Meshctl("license", "add", signPayload(t, keyFile, sub))
	require.Equal(t, 0, code, "license add: %s", errOut)
	for _, col := range cols {
		waitFeature(col, "reports", true, 5*time.Second)
	}
	f, _ := cols[0].Feature("reports", "other-product")
	require.False(t, f.Enabled, "feature on for a product no license is for: %+v", f)
	// The license's hard pool refuses past its seats; its soft pool grants
	// and records the overage.
	for _, h := range []string{"d1", "d2", "d3"} {
		_, err := cols[0].Acquire("designer", h)
		require.NoError(t, err, "hard pool seat %s", h)
	}
	var refusal *harness.APIError
	_, err = cols[1].Acquire("designer", "d4")
	require.ErrorAs(t, err, &refusal, "fourth seat of a 3-seat license pool")
	require.Equal(t, 409, refusal.Status, "fourth seat of a 3-seat license pool: %v", err)
	for _, h := range []string{"v1", "v2", "v3"} {
		_, err := cols[1].Acquire("viewer", h)
		require.NoError(t, err, "soft pool refused %s", h)
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		out, _, _ := leader.Meshctl("pool", "list", "-o", "csv")
		for _, line := range strings.Split(out, "\n") {
			// NAME,SEATS,ENFORCE,HELD,PEAK,OVERAGES,...
			if f := strings.Split(line, ","); len(f) > 5 && f[0] == "viewer" && f[2] == "soft" && f[3] == "3" && f[5] == "2" {
				return
			}
		}
		c.Errorf("soft license pool overage not recorded:\n%s", out)
	}, 5*time.Second, 50*time.Millisecond, "the soft license pool's overage")

	// Usage credits: spent through any master, all or nothing.
	cred := licensePayload("lic-credits", cluster, 1, time.Now().Add(30*24*time.Hour).UTC().Truncate(time.Second))
	cred["license_template"] = []map[string]any{{"name": "api", "users": 1, "users_calculation": "fixed"}}
	cred["credits"] = map[string]any{"unit": "case", "balance": 10, "low_alert_at": 2}
	_, errOut, code = leader.Meshctl("license", "add", signPayload(t, keyFile, cred))
	require.Equal(t, 0, code, "license add: %s", errOut)
	r, err := cols[0].Consume("case", 7)
	require.NoError(t, err, "consume 7 of 10")
	require.Equal(t, float64(3), r["remaining"], "consume 7 of 10: %v", r)
	require.Equal(t, false, r["low"], "consume 7 of 10: %v", r)
	r, err = cols[1].Consume("case", 1)
	require.NoError(t, err, "consume 1 more")
	require.Equal(t, float64(2), r["remaining"], "consume 1 more: %v", r)
	require.Equal(t, true, r["low"], "consume 1 more: %v", r)
	var ae *harness.APIError
	_, err = cols[0].Consume("case", 3)
	require.ErrorAs(t, err, &ae, "consume 3 with 2 left")
	require.Equal(t, 409, ae.Status, "consume 3 with 2 left: %v", err)
	require.Equal(t, "credits_exhausted", ae.Code, "consume 3 with 2 left: %v", err)
	_, err = cols[0].Consume("minutes", 1)
	require.ErrorAs(t, err, &ae, "consume an unknown unit")
	require.Equal(t, 404, ae.Status, "consume an unknown unit: %v", err)
	out, _, _ := leader.Meshctl("license", "show", "lic-credits")
	require.Contains(t, out, "2 of 10 case left (low)", "license show does not give the credits left")

	// A volume license for one installation covers c1 (enrolled first),
	// not c2, both for its feature and its pool.
	vol := licensePayload("lic-vol", cluster, 5, time.Now().Add(30*24*time.Hour).UTC().Truncate(time.Second))
	delete(vol, "subscription")
	delete(vol, "subscription_id")
	vol["type"] = "volume"
	vol["volume"] = map[string]any{"installations": 1}
	vol["features"] = []map[string]any{{"name": "bulk_import", "type": "checkbox", "scope": "instance", "enabled": true}}
	vol["license_template"] = []map[string]any{{"name": "importer", "users": 5, "users_calculation": "fixed"}}
	_, errOut, code = leader.Meshctl("license", "add", signPayload(t, keyFile, vol))
	require.Equal(t, 0, code, "license add: %s", errOut)
	waitFeature(cols[0], "bulk_import", true, 5*time.Second)
	f = waitFeature(cols[1], "bulk_import", false, 5*time.Second)
	require.Contains(t, f.Reason, "cover", "uncovered installation's reason")
	_, err = cols[0].Acquire("importer", "alice")
	require.NoError(t, err, "covered collector refused a seat")
	_, err = cols[1].Acquire("importer", "bob")
	require.ErrorAs(t, err, &ae, "uncovered collector got a seat of a volume license")
	require.Equal(t, 403, ae.Status, "uncovered collector got a seat of a volume license: %v", err)

	// A license that ends soon, then every master stops: the collector
	// answers from its signed copy, through a restart of its own, into
	// the grace period and not past it.
	end := time.Now().Add(25 * time.Second).UTC().Truncate(time.Second)
	short := licensePayload("lic-short", cluster, 1, end)
	short["grace"] = "10s"
	short["subscription_id"] = "sub-short"
	short["features"] = []map[string]any{{"name": "offline_mode", "type": "checkbox", "scope": "instance", "enabled": true}}
	short["license_template"] = []map[string]any{{"name": "short", "users": 1, "users_calculation": "fixed"}}
	_, errOut, code = leader.Meshctl("license", "add", signPayload(t, keyFile, short))
	require.Equal(t, 0, code, "license add: %s", errOut)
	col := cols[0]
	waitFeature(col, "offline_mode", true, 5*time.Second)
	for _, m := range c.Masters {
		if err := m.Process().Stop(10 * time.Second); err != nil {
			t.Logf("stop %s: %v", m.ID, err)
		}
	}
	col.Proc.Signal(syscall.SIGKILL)
	col.Proc.Wait(10 * time.Second)
	col.Start()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		_, err := col.Feature("offline_mode", "")
		assert.NoError(c, err)
	}, 15*time.Second, 50*time.Millisecond, "restarted collector with no master does not answer from its saved entitlements")
	f, _ = col.Feature("offline_mode", "")
	require.True(t, f.Enabled, "offline, before expiry: %+v", f)
	time.Sleep(time.Until(end.Add(2 * time.Second)))
	f, _ = col.Feature("offline_mode", "")
	require.True(t, f.Enabled, "offline, in grace: %+v", f)
	require.Contains(t, f.Reason, "grace", "offline, in grace")
	f, _ = col.Feature("reports", "")
	require.True(t, f.Enabled, "offline, a license valid for a month: %+v", f)
	time.Sleep(time.Until(end.Add(10*time.Second + 2*time.Second)))
	f, _ = col.Feature("offline_mode", "")
	require.False(t, f.Enabled, "offline, past expiry plus grace: %+v", f)
	require.Contains(t, f.Reason, "expired", "offline, past expiry plus grace")
	_, err = col.Consume("case", 1)
	require.ErrorAs(t, err, &ae, "credits spent with no master")
	require.Equal(t, 503, ae.Status, "credits spent with no master: %v", err)
}
