package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// offline runs meshctl with no environment at all: the vendor and license
// commands need no master, token or CA.
func offline(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runMeshctl(t, nil, args...)
}

// testPayload is a Timesheet subscription that started yesterday and runs
// 90 days, bound to cluster lm-0123456789ab.
func testPayload(t *testing.T, dir string, edit func(string) string) string {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	p := fmt.Sprintf(`{
  "format": 1,
  "license_id": "lic-test-1",
  "customer": {"id": "cust-42", "name": "Acme Corp"},
  "product": {"sku": "timesheet-admin-user", "name": "Timesheet Admin User",
              "application": "orektic__timesheet", "version": "2.3.0"},
  "type": "subscription",
  "subscription": {"renewal_period_count": 1, "renewal_period_unit": "year", "auto_renew": true},
  "billing": "annually",
  "issued_at": %[1]q,
  "not_before": %[1]q,
  "expires_at": %[2]q,
  "grace": "7d",
  "cluster_id": "lm-0123456789ab",
  "quantity": 10,
  "features": [{"name": "orektic__timesheet", "type": "checkbox", "scope": "instance", "enabled": true}],
  "license_template": [
    {"name": "orektic__timehseetAdminUser", "users": 1, "users_calculation": "fixed"},
    {"name": "orektic__timehseetProjects", "users": 1, "users_calculation": "per qty",
     "amount": 5, "amount_calculation": "fixed"}
  ]
}`, now.Add(-24*time.Hour).Format(time.RFC3339), now.Add(90*24*time.Hour).Format(time.RFC3339))
	if edit != nil {
		p = edit(p)
	}
	path := filepath.Join(dir, "payload.json")
	require.NoError(t, os.WriteFile(path, []byte(p), 0o600))
	return path
}

// keygen makes a vendor key in dir and returns its public key line.
func keygen(t *testing.T, dir, id string) string {
	t.Helper()
	stdout, _, code := offline(t, "vendor", "keygen", "--key-id", id, "--out", dir)
	require.Equal(t, exitOK, code, "keygen exit code")
	return strings.TrimSpace(stdout)
}

func TestVendorKeygenSignLicenseVerify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pubLine := keygen(t, dir, "vendor-test")
	require.True(t, strings.HasPrefix(pubLine, "vendor-test:"), "public key line %q", pubLine)
	require.Len(t, pubLine, len("vendor-test:")+44, "public key line %q", pubLine)
	keyFile := filepath.Join(dir, "vendor-test.key")
	fi, err := os.Stat(keyFile)
	require.NoError(t, err, "private key file")
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "private key file mode")
	pubFile, err := os.ReadFile(filepath.Join(dir, "vendor-test.pub"))
	require.NoError(t, err, ".pub file")
	require.Equal(t, pubLine, strings.TrimSpace(string(pubFile)), ".pub file")
	_, stderr, code := offline(t, "vendor", "keygen", "--key-id", "vendor-test", "--out", dir)
	assert.Equal(t, exitFailure, code, "second keygen: exit code")
	assert.Contains(t, stderr, "already exists; not overwriting", "second keygen")

	payload := testPayload(t, dir, nil)
	licFile := filepath.Join(dir, "license.lic")
	stdout, stderr, code := offline(t, "vendor", "sign", "--key", keyFile, payload)
	require.Equal(t, exitOK, code, "sign: exit code")
	require.True(t, strings.HasPrefix(stdout, "-----BEGIN LICMESH LICENSE-----\nKey-Id: vendor-test\n"), "sign: %q", stdout)
	assert.Contains(t, stderr, "signed subscription license lic-test-1 for Acme Corp", "sign stderr")
	require.NoError(t, os.WriteFile(licFile, []byte(stdout), 0o600))

	stdout, _, code = offline(t, "license", "verify", licFile, "--vendor-key", pubLine, "--cluster-id", "lm-0123456789ab")
	require.Equal(t, exitOK, code, "verify: exit code")
	for _, want := range []string{
		"LICENSE", "lic-test-1", "Timesheet Admin User (timesheet-admin-user: orektic__timesheet 2.3.0)",
		"subscription, renews every 1 year, auto-renew", "SIGNED BY", "vendor-test",
		"STATUS", "active, 90 days left", "lm-0123456789ab (matches)", "orektic__timesheet (on)",
		"POOLS NOW",
	} {
		assert.Contains(t, stdout, want, "verify output")
	}
	// Seed 002's license template at quantity 10: one admin, ten project
	// users with an allowance of 5 projects.
	for _, want := range []string{"orektic__timehseetAdminUser 1 hard 0 -", "orektic__timehseetProjects 10 hard 0 5"} {
		assert.True(t, hasRow(stdout, want), "verify output lacks the pool row %q", want)
	}

	// The same through a keys file, pasted into an e-mail with CRLF.
	keysFile := filepath.Join(dir, "vendor-keys")
	require.NoError(t, os.WriteFile(keysFile, []byte("# trusted\n"+pubLine+"\n"), 0o600))
	pasted := filepath.Join(dir, "pasted.txt")
	lic, _ := os.ReadFile(licFile)
	body := "Hi,\r\nyour license:\r\n\r\n" + strings.ReplaceAll("  "+strings.ReplaceAll(string(lic), "\n", "\n  "), "\n", "\r\n") + "\r\nBye\r\n"
	require.NoError(t, os.WriteFile(pasted, []byte(body), 0o600))
	stdout, _, code = offline(t, "license", "verify", pasted, "--vendor-keys", keysFile)
	assert.Equal(t, exitOK, code, "verify pasted: exit code")
	assert.Contains(t, stdout, "lm-0123456789ab (not checked: no --cluster-id)", "verify pasted")
}

// TestLicenseVerifyRefuses: a tampered, foreign, expired or misbound
// license exits 1 with the reason; a bad invocation exits 2.
func TestLicenseVerifyRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pubLine := keygen(t, dir, "vendor-a")
	otherLine := keygen(t, dir, "vendor-b")
	sign := func(name string, edit func(string) string) string {
		t.Helper()
		payload := testPayload(t, t.TempDir(), edit)
		out := filepath.Join(dir, name)
		_, _, code := offline(t, "vendor", "sign", "--key", filepath.Join(dir, "vendor-a.key"), "--out", out, payload)
		require.Equal(t, exitOK, code, "sign %s: exit code", name)
		return out
	}
	good := sign("good.lic", nil)
	text, _ := os.ReadFile(good)
	tampered := filepath.Join(dir, "tampered.lic")
	lines := strings.Split(string(text), "\n")
	b := []byte(lines[3])
	b[10] ^= 0x01 // still base64, different payload
	lines[3] = string(b)
	require.NoError(t, os.WriteFile(tampered, []byte(strings.Join(lines, "\n")), 0o600))
	expired := sign("expired.lic", func(p string) string {
		old := time.Now().UTC().Add(-400 * 24 * time.Hour)
		p = replaceField(p, "issued_at", old)
		p = replaceField(p, "not_before", old)
		return replaceField(p, "expires_at", old.Add(30*24*time.Hour))
	})

	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"tampered", []string{"license", "verify", tampered, "--vendor-key", pubLine}, exitFailure,
			[]string{"tampered.lic: license: bad signature", `vendor key "vendor-a"`}},
		{"another vendor's key under the same ID", []string{"license", "verify", good, "--vendor-key", "vendor-a:" + strings.TrimPrefix(otherLine, "vendor-b:")}, exitFailure,
			[]string{"bad signature"}},
		{"unknown key", []string{"license", "verify", good, "--vendor-key", otherLine}, exitFailure,
			[]string{`unknown vendor key: key id "vendor-a" is not among the trusted keys (trusted: vendor-b)`}},
		{"wrong cluster", []string{"license", "verify", good, "--vendor-key", pubLine, "--cluster-id", "lm-other"}, exitFailure,
			[]string{`bound to cluster "lm-0123456789ab", this is cluster "lm-other"`}},
		{"expired", []string{"license", "verify", expired, "--vendor-key", pubLine}, exitFailure,
			[]string{"license: expired: license lic-test-1 expired", "grace of 7d ended"}},
		{"not yet valid", []string{"license", "verify", good, "--vendor-key", pubLine, "--at", "2020-01-01T00:00:00Z"}, exitFailure,
			[]string{"not yet valid", "trusted time is 2020-01-01T00:00:00Z"}},
		{"set back behind the trusted time", []string{"license", "verify", good, "--vendor-key", pubLine,
			"--at", time.Now().UTC().Format(time.RFC3339), "--trusted-time", time.Now().UTC().Add(200 * 24 * time.Hour).Format(time.RFC3339)}, exitFailure,
			[]string{"license: expired"}},
		{"not a license", []string{"license", "verify", "/dev/null", "--vendor-key", pubLine}, exitFailure,
			[]string{"malformed license text: no -----BEGIN LICMESH LICENSE----- line"}},
		{"no key", []string{"license", "verify", good}, exitUsage, []string{"no vendor key"}},
		{"bad key", []string{"license", "verify", good, "--vendor-key", "vendor-a:abc"}, exitUsage, []string{"--vendor-key", "not standard base64"}},
		{"no file", []string{"license", "verify", filepath.Join(dir, "missing.lic"), "--vendor-key", pubLine}, exitUsage, []string{"missing.lic"}},
		{"no argument", []string{"license", "verify", "--vendor-key", pubLine}, exitUsage, []string{"needs the license file"}},
		{"bad time", []string{"license", "verify", good, "--vendor-key", pubLine, "--at", "tomorrow"}, exitUsage, []string{"RFC 3339"}},
		{"bad cluster id", []string{"license", "verify", good, "--vendor-key", pubLine, "--cluster-id", "a b"}, exitUsage, []string{"--cluster-id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, stderr, code := offline(t, tt.args...)
			assert.Equal(t, tt.code, code, "exit code")
			for _, w := range tt.want {
				assert.Contains(t, stderr, w, "stderr")
			}
		})
	}
}

// hasRow reports whether a line of out has the space-separated cells of
// row, however the table aligned them.
func hasRow(out, row string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(l), " ") == row {
			return true
		}
	}
	return false
}

func replaceField(p, field string, t time.Time) string {
	i := strings.Index(p, `"`+field+`": "`)
	j := i + len(field) + 5
	k := j + strings.IndexByte(p[j:], '"')
	return p[:j] + t.Format(time.RFC3339) + p[k:]
}

func TestVendorSignRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keygen(t, dir, "vendor-a")
	key := filepath.Join(dir, "vendor-a.key")
	bad := testPayload(t, t.TempDir(), func(p string) string { return strings.Replace(p, `"quantity": 10`, `"quantity": 0`, 1) })
	unknown := testPayload(t, t.TempDir(), func(p string) string { return strings.Replace(p, `"quantity": 10`, `"quantity": 10, "seats": 5`, 1) })
	good := testPayload(t, t.TempDir(), nil)
	notKey := filepath.Join(dir, "vendor-a.pub")
	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"invalid field", []string{"vendor", "sign", "--key", key, bad}, exitFailure, "invalid field quantity: 0 is out of range"},
		{"unknown field", []string{"vendor", "sign", "--key", key, unknown}, exitFailure, `unknown field "seats" in the payload`},
		{"key id mismatch", []string{"vendor", "sign", "--key", key, "--key-id", "vendor-b", good}, exitUsage, "--key-id vendor-b, but the key file"},
		{"not a key", []string{"vendor", "sign", "--key", notKey, good}, exitUsage, "no \"PRIVATE KEY\" PEM block"},
		{"no key flag", []string{"vendor", "sign", good}, exitUsage, `required flag(s) "key" not set`},
		{"bad key id", []string{"vendor", "keygen", "--key-id", "a b", "--out", dir}, exitUsage, "--key-id"},
	} {
		stdout, stderr, code := offline(t, tt.args...)
		assert.Equal(t, tt.code, code, "%s: exit code; stderr %q", tt.name, stderr)
		assert.Contains(t, stderr, tt.want, tt.name)
		if code != exitOK {
			assert.Empty(t, stdout, "%s: stdout of a failed command", tt.name)
		}
	}
}
