package e2e

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

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
	if err != nil {
		t.Fatal(err)
	}
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
		if err := harness.Eventually(within, func() error {
			f, err := col.Feature(name, "")
			last = f
			if err != nil {
				return err
			}
			if f.Enabled != want {
				return fmt.Errorf("%s: feature %s enabled=%v (%s), want %v", col.Name, name, f.Enabled, f.Reason, want)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
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
	if _, errOut, code := follower.Meshctl("license", "add", signPayload(t, keyFile, sub)); code != 0 {
		t.Fatal(errOut)
	}
	for _, col := range cols {
		waitFeature(col, "reports", true, 5*time.Second)
	}
	if f, _ := cols[0].Feature("reports", "other-product"); f.Enabled {
		t.Fatalf("feature on for a product no license is for: %+v", f)
	}
	// The license's hard pool refuses past its seats; its soft pool grants
	// and records the overage.
	for _, h := range []string{"d1", "d2", "d3"} {
		if _, err := cols[0].Acquire("designer", h); err != nil {
			t.Fatalf("hard pool seat %s: %v", h, err)
		}
	}
	var refusal *harness.APIError
	if _, err := cols[1].Acquire("designer", "d4"); !errors.As(err, &refusal) || refusal.Status != 409 {
		t.Fatalf("fourth seat of a 3-seat license pool: %v", err)
	}
	for _, h := range []string{"v1", "v2", "v3"} {
		if _, err := cols[1].Acquire("viewer", h); err != nil {
			t.Fatalf("soft pool refused %s: %v", h, err)
		}
	}
	if err := harness.Eventually(5*time.Second, func() error {
		out, _, _ := leader.Meshctl("pool", "list", "-o", "csv")
		for _, line := range strings.Split(out, "\n") {
			// NAME,SEATS,ENFORCE,HELD,PEAK,OVERAGES,...
			if f := strings.Split(line, ","); len(f) > 5 && f[0] == "viewer" && f[2] == "soft" && f[3] == "3" && f[5] == "2" {
				return nil
			}
		}
		return fmt.Errorf("soft license pool overage not recorded:\n%s", out)
	}); err != nil {
		t.Fatal(err)
	}

	// Usage credits: spent through any master, all or nothing.
	cred := licensePayload("lic-credits", cluster, 1, time.Now().Add(30*24*time.Hour).UTC().Truncate(time.Second))
	cred["license_template"] = []map[string]any{{"name": "api", "users": 1, "users_calculation": "fixed"}}
	cred["credits"] = map[string]any{"unit": "case", "balance": 10, "low_alert_at": 2}
	if _, errOut, code := leader.Meshctl("license", "add", signPayload(t, keyFile, cred)); code != 0 {
		t.Fatal(errOut)
	}
	if r, err := cols[0].Consume("case", 7); err != nil || r["remaining"].(float64) != 3 || r["low"] != false {
		t.Fatalf("consume 7 of 10: %v %v", r, err)
	}
	if r, err := cols[1].Consume("case", 1); err != nil || r["remaining"].(float64) != 2 || r["low"] != true {
		t.Fatalf("consume 1 more: %v %v", r, err)
	}
	var ae *harness.APIError
	if _, err := cols[0].Consume("case", 3); !errors.As(err, &ae) || ae.Status != 409 || ae.Code != "credits_exhausted" {
		t.Fatalf("consume 3 with 2 left: %v", err)
	}
	if _, err := cols[0].Consume("minutes", 1); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("consume an unknown unit: %v", err)
	}
	out, _, _ := leader.Meshctl("license", "show", "lic-credits")
	if !strings.Contains(out, "2 of 10 case left (low)") {
		t.Fatalf("license show does not give the credits left:\n%s", out)
	}

	// A volume license for one installation covers c1 (enrolled first),
	// not c2, both for its feature and its pool.
	vol := licensePayload("lic-vol", cluster, 5, time.Now().Add(30*24*time.Hour).UTC().Truncate(time.Second))
	delete(vol, "subscription")
	delete(vol, "subscription_id")
	vol["type"] = "volume"
	vol["volume"] = map[string]any{"installations": 1}
	vol["features"] = []map[string]any{{"name": "bulk_import", "type": "checkbox", "scope": "instance", "enabled": true}}
	vol["license_template"] = []map[string]any{{"name": "importer", "users": 5, "users_calculation": "fixed"}}
	if _, errOut, code := leader.Meshctl("license", "add", signPayload(t, keyFile, vol)); code != 0 {
		t.Fatal(errOut)
	}
	waitFeature(cols[0], "bulk_import", true, 5*time.Second)
	if f := waitFeature(cols[1], "bulk_import", false, 5*time.Second); !strings.Contains(f.Reason, "cover") {
		t.Fatalf("uncovered installation's reason: %q", f.Reason)
	}
	if _, err := cols[0].Acquire("importer", "alice"); err != nil {
		t.Fatalf("covered collector refused a seat: %v", err)
	}
	if _, err := cols[1].Acquire("importer", "bob"); !errors.As(err, &ae) || ae.Status != 403 {
		t.Fatalf("uncovered collector got a seat of a volume license: %v", err)
	}

	// A license that ends soon, then every master stops: the collector
	// answers from its signed copy, through a restart of its own, into
	// the grace period and not past it.
	end := time.Now().Add(25 * time.Second).UTC().Truncate(time.Second)
	short := licensePayload("lic-short", cluster, 1, end)
	short["grace"] = "10s"
	short["subscription_id"] = "sub-short"
	short["features"] = []map[string]any{{"name": "offline_mode", "type": "checkbox", "scope": "instance", "enabled": true}}
	short["license_template"] = []map[string]any{{"name": "short", "users": 1, "users_calculation": "fixed"}}
	if _, errOut, code := leader.Meshctl("license", "add", signPayload(t, keyFile, short)); code != 0 {
		t.Fatal(errOut)
	}
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
	if err := harness.Eventually(15*time.Second, func() error {
		_, err := col.Feature("offline_mode", "")
		return err
	}); err != nil {
		t.Fatalf("restarted collector with no master does not answer from its saved entitlements: %v", err)
	}
	if f, _ := col.Feature("offline_mode", ""); !f.Enabled {
		t.Fatalf("offline, before expiry: %+v", f)
	}
	time.Sleep(time.Until(end.Add(2 * time.Second)))
	if f, _ := col.Feature("offline_mode", ""); !f.Enabled || !strings.Contains(f.Reason, "grace") {
		t.Fatalf("offline, in grace: %+v", f)
	}
	if f, _ := col.Feature("reports", ""); !f.Enabled {
		t.Fatalf("offline, a license valid for a month: %+v", f)
	}
	time.Sleep(time.Until(end.Add(10*time.Second + 2*time.Second)))
	if f, _ := col.Feature("offline_mode", ""); f.Enabled || !strings.Contains(f.Reason, "expired") {
		t.Fatalf("offline, past expiry plus grace: %+v", f)
	}
	if _, err := col.Consume("case", 1); !errors.As(err, &ae) || ae.Status != 503 {
		t.Fatalf("credits spent with no master: %v", err)
	}
}
