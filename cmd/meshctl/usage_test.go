package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestBadInvocationsExit2AndCallNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"pool", "frob"}, `unknown command "frob" for "meshctl pool"`},
		{[]string{"status", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"status", "extra"}, `takes no arguments, got "extra"`},
		{[]string{"pool", "list", "-o", "yaml"}, `invalid argument "yaml" for "-o, --output" flag: must be table, json or csv`},
		{[]string{"pool", "create", "x"}, `required flag(s) "seats" not set`},
		{[]string{"pool", "create", "--seats", "3"}, "needs the pool name"},
		{[]string{"pool", "create", " ", "--seats", "3"}, "the pool name is blank"},
		{[]string{"pool", "create", "x", "--seats", "-1"}, "--seats must be between 0 and 4294967295, got -1"},
		{[]string{"pool", "create", "x", "--seats", "many"}, `invalid argument "many" for "--seats"`},
		{[]string{"pool", "create", "x", "--seats", "3", "--enforce", "strict"}, `--enforce must be hard or soft, got "strict"`},
		{[]string{"lease", "list", "--limit", "-2"}, "--limit must be between 0"},
		{[]string{"token", "create", "--ttl", "soon"}, `invalid argument "soon" for "--ttl" flag: want a duration like 30m, 24h or 7d`},
		{[]string{"token", "create", "--ttl", "500ms"}, "must be at least 1s"},
		{[]string{"token", "create", "--ttl", "1.5s"}, "must be whole seconds"},
		{[]string{"token", "create", "--uses", "-1"}, "--uses must be between 0 (unlimited)"},
		{[]string{"token", "create", "--role", ""}, "--role is empty"},
		{[]string{"token", "revoke"}, "needs the token ID"},
		{[]string{"user", "create", "alice"}, "--role is required"},
		{[]string{"alert", "read"}, "name the alerts read, or --all"},
		{[]string{"alert", "channel", "set", "ops", "--email", "a@b.example", "--audit"}, "--audit is for webhooks"},
		{[]string{"purchase", "request", "--sku", "bpm"}, "ask for seats (--pool and --quantity) or for a --module"},
		{[]string{"purchase", "request", "--sku", "bpm", "--pool", "p"}, "--quantity must be 1 to 1000000"},
		{[]string{"purchase", "approve"}, "needs the purchase request ID"},
		{[]string{"report", "utilization", "--month", "Nov"}, "want YYYY-MM"},
		{[]string{"license", "cost", "set", "lic-1", "--amount", "lots", "--currency", "EUR"}, "want an amount like 1200"},
		{[]string{"license", "cost", "set", "lic-1", "--amount", "5", "--per", "week"}, "month or year"},
		{[]string{"dept", "reserve", "eng"}, "--pool is required"},
		{[]string{"alert", "read", "k", "--all"}, "name the alerts read, or --all"},
		{[]string{"alert", "prefs", "set", "--quiet", "22-7"}, "want HH:MM-HH:MM"},
		{[]string{"alert", "prefs", "set", "--kinds", "weather"}, `--kinds "weather"`},
		{[]string{"alert", "prefs", "set", "--email", "a@b.c", "--no-email"}, "--email and --no-email together"},
		{[]string{"audit", "list", "--limit", "0"}, "--limit must be between 1 and 1000"},
		{[]string{"audit", "list", "--since", "yesterday"}, "want a time like 2026-12-01"},
		{[]string{"audit", "list", "--since", "2026-03-02", "--until", "2026-03-01"}, "is not after --since"},
		{[]string{"user", "create"}, "needs the user name"},
		{[]string{"user", "set", "alice"}, "nothing to change"},
		{[]string{"user", "set", "alice", "--disable", "--enable"}, "--disable and --enable together"},
		{[]string{"user", "create", "alice", "--role", "viewer", "--password-file", "testdata/nope.txt"}, "--password-file"},
		{[]string{"token", "revoke", "a", "b"}, `takes only the token ID; unexpected "b"`},
		{[]string{"operator", "remove-peer"}, "needs the member ID"},
		{[]string{"status", "--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"status", "--addr", "http://127.0.0.1:7400"}, "https only"},
		{[]string{"status", "--addr", "https://"}, "has no host"},
		{[]string{"status", "--token", "x y z w"}, "has a character that cannot be sent"},
		{[]string{"status", "--token", "a", "--token-file", "f"}, "give --token or --token-file, not both"},
		{[]string{"usage", "month"}, "needs the month (YYYY-MM)"},
		{[]string{"usage", "month", "2026-13"}, `month "2026-13" is not YYYY-MM`},
		{[]string{"usage", "month", "26-01"}, `month "26-01" is not YYYY-MM`},
		{[]string{"usage", "month", "1969-12"}, `month "1969-12" is out of range`},
		{[]string{"usage", "month", "2026-01", "-o", "pdf"}, `invalid argument "pdf" for "-o, --output" flag: must be table, json, csv or xlsx`},
		{[]string{"usage", "months", "-o", "xlsx"}, `invalid argument "xlsx" for "-o, --output" flag: must be table, json or csv`},
		{[]string{"usage", "history"}, `required flag(s) "installation" not set`},
		{[]string{"usage", "history", "--installation", ""}, "--installation: usage: invalid id: installation id is empty"},
		{[]string{"usage", "history", "--installation", "a\x1b"}, "installation id holds a control character"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			stdout, stderr, code := h.run(tt.args...)
			assert.Equal(t, exitUsage, code, "exit code")
			assert.Contains(t, stderr, tt.want, "stderr")
			// stderr names meshctl and points at --help.
			assert.True(t, strings.HasPrefix(stderr, "meshctl: "), "stderr %q should name meshctl", stderr)
			assert.Contains(t, stderr, "--help' for usage", "stderr should point at --help")
			assert.Empty(t, stdout, "stdout")
			assert.Empty(t, h.fake.recordedCalls(), "calls the master got")
		})
	}
}

func TestNoTokenIsAUsageError(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	delete(h.env, envToken)
	_, stderr, code := h.run("status")
	assert.Equal(t, exitUsage, code, "exit code; stderr %q", stderr)
	assert.Contains(t, stderr, "no admin token")
}

func TestTokenSources(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	file := writeFile(t, "token", "from-file-token\n")
	empty := writeFile(t, "empty", "  \n")

	auth := func(args ...string) string {
		t.Helper()
		before := len(h.fake.recordedCalls())
		_, stderr, code := h.run(args...)
		require.Equal(t, exitOK, code, "%v: exit code; stderr %s", args, stderr)
		calls := h.fake.recordedCalls()
		require.Len(t, calls, before+1, "%v: no call recorded", args)
		return calls[len(calls)-1].auth
	}

	assert.Equal(t, "Bearer "+testToken, auth("status"), "LICMESH_TOKEN")
	assert.Equal(t, "Bearer flag-token", auth("status", "--token", "flag-token"), "--token should beat LICMESH_TOKEN")
	assert.Equal(t, "Bearer from-file-token", auth("status", "--token-file", file), "--token-file should beat LICMESH_TOKEN")
	delete(h.env, envToken)
	h.env[envTokenFile] = file
	assert.Equal(t, "Bearer from-file-token", auth("status"), "LICMESH_TOKEN_FILE")
	_, stderr, code := h.run("status", "--token-file", empty)
	assert.Equal(t, exitUsage, code, "empty token file: exit code; stderr %q", stderr)
	assert.Contains(t, stderr, "is empty", "empty token file")
}

func TestEnvironmentFallbacks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// --addr beats LICMESH_ADDR.
	good := h.env[envAddr]
	h.env[envAddr] = "https://127.0.0.1:1"
	_, stderr, code := h.run("status", "--addr", good)
	assert.Equal(t, exitOK, code, "--addr should beat %s: %s", envAddr, stderr)
	// A bare host:port means https.
	_, stderr, code = h.run("status", "--addr", strings.TrimPrefix(good, "https://"))
	assert.Equal(t, exitOK, code, "bare host:port: %s", stderr)
	h.env[envAddr] = good
	h.env[envTimeout] = "soon"
	_, stderr, code = h.run("status")
	assert.Equal(t, exitUsage, code, "bad LICMESH_TIMEOUT: exit code; stderr %q", stderr)
	assert.Contains(t, stderr, `LICMESH_TIMEOUT="soon" is not a duration`, "bad LICMESH_TIMEOUT")
}

func TestHelpAndVersionNeedNoMaster(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env = map[string]string{}
	for _, args := range [][]string{{"--help"}, {}, {"pool"}, {"token", "create", "--help"}} {
		stdout, _, code := h.run(args...)
		assert.Equal(t, exitOK, code, "%v: exit code", args)
		assert.Contains(t, stdout, "Usage:", "%v", args)
	}
	stdout, _, code := h.run("version")
	assert.Equal(t, exitOK, code, "version: exit code")
	assert.True(t, strings.HasPrefix(stdout, "meshctl "), "version: %q", stdout)
	assert.Contains(t, stdout, "protocol 1", "version")
}
