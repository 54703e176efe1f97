package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
)

// alertRow is an alert as `meshctl alert list -o json` prints it.
type alertRow struct {
	Key      string `json:"key"`
	FiredAt  int64  `json:"fired_at_ms,string"`
	Episodes int    `json:"episodes"`
	Resolved int64  `json:"resolved_at_ms,string"`
}

func listAlerts(t *testing.T, m *harness.Master) ([]alertRow, error) {
	t.Helper()
	out, errOut, code := m.Meshctl("alert", "list", "-o", "json")
	if code != 0 {
		return nil, &harness.APIError{Status: code, Message: errOut}
	}
	var res struct {
		Alerts []alertRow `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return nil, err
	}
	return res.Alerts, nil
}

// TestExpiryAlertsThroughLeaderKill fast-forwards a 3-master cluster a day
// at a time through the last 31 days of a license (every master reads its
// clock's shift from one file) and kills the leader with -9 half-way:
// seed 001's five expiry alerts fire, each once, on their days, then the
// expiry; none repeats, none is skipped.
func TestExpiryAlertsThroughLeaderKill(t *testing.T) {
	t.Parallel()
	keyFile, trust := vendorKey(t)
	clockFile := filepath.Join(t.TempDir(), "clock-offset")
	require.NoError(t, os.WriteFile(clockFile, []byte("0s"), 0o600))
	c := harness.StartCluster(t, 3, harness.Options{ExtraArgs: []string{"--vendor-keys", trust, "--debug-clock-file", clockFile, "--alert-interval", "200ms"},
		Env: []string{"LICMESH_ENTITLEMENT_REFRESH=1s"}})
	leader := c.WaitReady(60 * time.Second)
	st, err := leader.Status()
	require.NoError(t, err)
	start := time.Now().UTC()
	expires := start.Add(31*24*time.Hour + 12*time.Hour).Truncate(time.Second)
	_, errOut, code := leader.Meshctl("license", "add", signLicense(t, keyFile, "lic-alerts", st.ClusterId, 3, expires))
	require.Equal(t, 0, code, "license add: %s", errOut)
	// A collector beside the product: its users hear of the expiry from
	// it (GET /v1/notifications), on the same schedule.
	col := harness.StartCollector(t, "notices", c.CollectorAddrs(), leader.JoinToken(1))
	col.WaitReady(30 * time.Second)
	notices := func() string {
		var n struct {
			Notifications []struct {
				Key string `json:"key"`
			} `json:"notifications"`
		}
		if err := col.Get("/v1/notifications", &n); err != nil {
			return err.Error()
		}
		var keys []string
		for _, x := range n.Notifications {
			keys = append(keys, x.Key)
		}
		return strings.Join(keys, ",")
	}

	// Day d leaves 31.5 - d days, 32 - d counted as seed 001 counts them
	// (a started day is a day).
	want := map[int]string{2: "license_expiry/lic-alerts/30d", 17: "license_expiry/lic-alerts/15d", 27: "license_expiry/lic-alerts/5d",
		29: "license_expiry/lic-alerts/3d", 31: "license_expiry/lic-alerts/1d", 32: "license_expired/lic-alerts"}
	firedOn := map[string]int{}
	for day := 1; day <= 32; day++ {
		if day == 17 {
			// Kill -9 the leader just before the day that fires the
			// 15-day alert: the new leader must fire it, once.
			l := c.Leader()
			require.NotNil(t, l)
			l.Proc.Kill()
			t.Logf("day %d: killed leader %s", day, l.ID)
			defer func() { l.Start() }()
		}
		require.NoError(t, os.WriteFile(clockFile, []byte((time.Duration(day)*24*time.Hour).String()), 0o600))
		settle := time.Now().Add(1500 * time.Millisecond)
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			l := c.Leader()
			if l == nil {
				ct.Errorf("no leader")
				return
			}
			as, err := listAlerts(t, l)
			if err != nil {
				ct.Errorf("%v", err)
				return
			}
			for _, a := range as {
				// Only the license's: the collector looks silent for a
				// moment each time the cluster's clock jumps a day.
				if _, seen := firedOn[a.Key]; !seen && strings.Contains(a.Key, "lic-alerts") {
					firedOn[a.Key] = day
				}
			}
			if k, ok := want[day]; ok {
				if _, fired := firedOn[k]; !fired {
					ct.Errorf("day %d: %s not fired yet", day, k)
				}
			}
			if time.Now().Before(settle) {
				ct.Errorf("letting the leader run a few rounds")
			}
			if day == 17 {
				if got := notices(); got != "license_expiry/lic-alerts/15d" {
					ct.Errorf("the product's notices on day 17: %q", got)
				}
			}
		}, 60*time.Second, 200*time.Millisecond, "day %d", day)
	}
	got := map[int]string{}
	for k, d := range firedOn {
		got[d] = k
	}
	assert.Equal(t, want, got, "each alert on its day")
	all, err := listAlerts(t, c.Leader())
	require.NoError(t, err)
	var active []string
	for _, a := range all {
		if !strings.Contains(a.Key, "lic-alerts") {
			continue
		}
		assert.Equal(t, 1, a.Episodes, "%s fired once", a.Key)
		if a.Resolved == 0 {
			active = append(active, a.Key)
		}
	}
	assert.Equal(t, []string{"license_expired/lic-alerts"}, active, "only the expiry holds now: %+v", all)
	out, _, code := c.Leader().Meshctl("alert", "list", "--active", "--kind", "license_expired")
	require.Equal(t, 0, code)
	assert.Equal(t, 2, len(strings.Split(strings.TrimSpace(out), "\n")), "a header and the expiry:\n%s", out)
}
