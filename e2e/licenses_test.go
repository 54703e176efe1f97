package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
)

// vendorKey makes a vendor key pair with meshctl and returns the key file
// and the line masters trust it by.
func vendorKey(t *testing.T) (keyFile, trustLine string) {
	t.Helper()
	dir := t.TempDir()
	out, errOut, code := harness.RunCmdIn(t, "meshctl", "vendor", "keygen", "--out", dir, "--key-id", "vendor-test")
	require.Equal(t, 0, code, "vendor keygen: %s", errOut)
	return filepath.Join(dir, "vendor-test.key"), strings.TrimSpace(out)
}

// signLicense writes a subscription license payload and signs it.
func signLicense(t *testing.T, keyFile, id, clusterID string, seats int, expires time.Time) string {
	t.Helper()
	return signPayload(t, keyFile, licensePayload(id, clusterID, seats, expires))
}

// licensePayload is a one-seat-pool subscription with one feature, for
// tests to adjust before signing.
func licensePayload(id, clusterID string, seats int, expires time.Time) map[string]any {
	now := time.Now().UTC().Truncate(time.Second)
	return map[string]any{
		"format":       1,
		"license_id":   id,
		"customer":     map[string]any{"id": "cust-1", "name": "Acme"},
		"product":      map[string]any{"sku": "designer-suite", "name": "Designer Suite", "application": "designer", "version": "1.0.0"},
		"type":         "subscription",
		"subscription": map[string]any{"renewal_period_count": 1, "renewal_period_unit": "year", "auto_renew": true},
		"issued_at":    now.Add(-time.Hour),
		"not_before":   now.Add(-time.Hour),
		"expires_at":   expires,
		"grace":        "7d",
		"cluster_id":   clusterID,
		"quantity":     1,
		"features":     []map[string]any{{"name": "designer_export", "type": "checkbox", "scope": "instance", "enabled": true}},
		"license_template": []map[string]any{
			{"name": "designer", "users": seats, "users_calculation": "fixed"},
		},
		"subscription_id": "sub-" + id,
	}
}

// signPayload signs a payload with meshctl vendor sign and returns the
// license file.
func signPayload(t *testing.T, keyFile string, payload map[string]any) string {
	t.Helper()
	id := payload["license_id"].(string)
	b, _ := json.Marshal(payload)
	dir := t.TempDir()
	in, out := filepath.Join(dir, id+".json"), filepath.Join(dir, id+".lic")
	require.NoError(t, os.WriteFile(in, b, 0o600))
	_, errOut, code := harness.RunCmdIn(t, "meshctl", "vendor", "sign", "--key", keyFile, "--out", out, in)
	require.Equal(t, 0, code, "vendor sign: %s", errOut)
	return out
}

// TestLicensedPoolsAreEnforced puts a signed license in force through one
// master: every master enforces its pool, collectors are held to its seats,
// forged, foreign and malformed licenses are refused with their reasons
// and change nothing, and removing the license stops new grants without
// evicting anyone.
func TestLicensedPoolsAreEnforced(t *testing.T) {
	keyFile, trust := vendorKey(t)
	c := harness.StartCluster(t, 3, harness.Options{ExtraArgs: []string{"--vendor-keys", trust}})
	leader := c.WaitReady(60 * time.Second)
	st, err := leader.Status()
	require.NoError(t, err)
	lic := signLicense(t, keyFile, "lic-0001", st.ClusterId, 2, time.Now().Add(30*24*time.Hour).UTC().Truncate(time.Second))
	follower := c.Masters[0]
	if follower == leader {
		follower = c.Masters[1]
	}
	out, errOut, code := follower.Meshctl("license", "add", lic)
	require.Equal(t, 0, code, "license add: %s", errOut)
	require.Contains(t, out, "lic-0001", "license add printed")
	require.Contains(t, out, "active", "license add printed")
	for _, m := range c.Masters {
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			out, _, _ := m.Meshctl("pool", "list", "-o", "csv")
			if !strings.Contains(out, "designer,2,hard,") || !strings.Contains(out, ",license,") {
				c.Errorf("%s pools:\n%s", m.ID, out)
			}
		}, 5*time.Second, 50*time.Millisecond, "the license's pool on %s", m.ID)
	}

	col := harness.StartCollector(t, "c1", c.CollectorAddrs(), leader.JoinToken(1))
	col.WaitReady(30 * time.Second)
	for _, h := range []string{"alice", "bob"} {
		_, err := col.Acquire("designer", h)
		require.NoError(t, err)
	}
	var ae *harness.APIError
	_, err = col.Acquire("designer", "carol")
	require.ErrorAs(t, err, &ae, "third seat of a 2-seat license")
	require.Equal(t, 409, ae.Status, "third seat of a 2-seat license: %v", err)

	// Refusals, each with its reason, none changing anything.
	foreign := signLicense(t, keyFile, "lic-0002", "lm-000000000000", 5, time.Now().Add(24*time.Hour).UTC().Truncate(time.Second))
	otherKey, _ := vendorKey(t)
	unknownKey := signLicense(t, otherKey, "lic-0003", st.ClusterId, 5, time.Now().Add(24*time.Hour).UTC().Truncate(time.Second))
	// A forgery: our license's payload under another license's signature.
	text, _ := os.ReadFile(lic)
	other, _ := os.ReadFile(foreign)
	sigLine := func(b []byte) string {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "=") {
				return line
			}
		}
		t.Fatal("no signature line")
		return ""
	}
	forged := strings.Replace(string(text), sigLine(text), sigLine(other), 1)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "forged.lic"), []byte(forged), 0o600)
	os.WriteFile(filepath.Join(dir, "garbage.lic"), []byte("not a license at all"), 0o600)
	for _, tc := range []struct{ file, want string }{
		{filepath.Join(dir, "forged.lic"), "signature"},
		{filepath.Join(dir, "garbage.lic"), "license"},
		{foreign, "cluster"},
		{lic, "exists"},
	} {
		_, errOut, code := leader.Meshctl("license", "add", tc.file)
		assert.Equal(t, 1, code, "license add %s: exit code; stderr %q", filepath.Base(tc.file), errOut)
		assert.Contains(t, strings.ToLower(errOut), tc.want, "license add %s: want a message about %q", filepath.Base(tc.file), tc.want)
	}
	// A license signed with a key the masters don't trust (same key ID,
	// other key) fails its signature check.
	_, errOut, code = leader.Meshctl("license", "add", unknownKey)
	assert.Equal(t, 1, code, "license from another vendor key: exit code; stderr %q", errOut)
	assert.Contains(t, errOut, "signature", "license from another vendor key")
	out, _, _ = leader.Meshctl("license", "list", "-o", "csv")
	require.Equal(t, 1, strings.Count(out, "lic-"), "refused licenses changed the state:\n%s", out)

	// Removing the license stops new grants; held leases are not evicted.
	_, errOut, code = leader.Meshctl("license", "remove", "lic-0001")
	require.Equal(t, 0, code, "license remove: %s", errOut)
	require.NoError(t, col.Release(mustFind(t, col, "bob")))
	_, err = col.Acquire("designer", "dave")
	require.Error(t, err, "a grant in the pool of a removed license")
	l, err := leaseByHolder(col, "alice")
	require.NoError(t, err, "alice's lease was evicted by the removal")
	require.True(t, l.Valid, "alice's lease was evicted by the removal: %+v", l)
}

func leaseByHolder(col *harness.Collector, holder string) (harness.Lease, error) {
	ls, err := col.Leases()
	if err != nil {
		return harness.Lease{}, err
	}
	for _, l := range ls {
		if l.Holder == holder {
			return l, nil
		}
	}
	return harness.Lease{}, fmt.Errorf("no lease for %s", holder)
}

func mustFind(t *testing.T, col *harness.Collector, holder string) uint64 {
	t.Helper()
	l, err := leaseByHolder(col, holder)
	require.NoError(t, err)
	return l.ID
}
