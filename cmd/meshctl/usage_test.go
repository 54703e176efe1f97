package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
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
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.want)
			}
			if !strings.HasPrefix(stderr, "meshctl: ") || !strings.Contains(stderr, "--help' for usage") {
				t.Errorf("stderr %q should name meshctl and point at --help", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if n := len(h.fake.recordedCalls()); n != 0 {
				t.Errorf("master got %d calls", n)
			}
		})
	}
}

func TestNoTokenIsAUsageError(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	delete(h.env, envToken)
	_, stderr, code := h.run("status")
	if code != exitUsage || !strings.Contains(stderr, "no admin token") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestTokenSources(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	file := writeFile(t, "token", "from-file-token\n")
	empty := writeFile(t, "empty", "  \n")

	auth := func(args ...string) string {
		t.Helper()
		before := len(h.fake.recordedCalls())
		if _, stderr, code := h.run(args...); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		calls := h.fake.recordedCalls()
		if len(calls) != before+1 {
			t.Fatalf("%v: no call recorded", args)
		}
		return calls[len(calls)-1].auth
	}

	if got := auth("status"); got != "Bearer "+testToken {
		t.Errorf("LICMESH_TOKEN: %q", got)
	}
	if got := auth("status", "--token", "flag-token"); got != "Bearer flag-token" {
		t.Errorf("--token should beat LICMESH_TOKEN: %q", got)
	}
	if got := auth("status", "--token-file", file); got != "Bearer from-file-token" {
		t.Errorf("--token-file should beat LICMESH_TOKEN: %q", got)
	}
	delete(h.env, envToken)
	h.env[envTokenFile] = file
	if got := auth("status"); got != "Bearer from-file-token" {
		t.Errorf("LICMESH_TOKEN_FILE: %q", got)
	}
	if _, stderr, code := h.run("status", "--token-file", empty); code != exitUsage || !strings.Contains(stderr, "is empty") {
		t.Errorf("empty token file: exit %d, %q", code, stderr)
	}
}

func TestEnvironmentFallbacks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// --addr beats LICMESH_ADDR.
	good := h.env[envAddr]
	h.env[envAddr] = "https://127.0.0.1:1"
	if _, stderr, code := h.run("status", "--addr", good); code != exitOK {
		t.Errorf("--addr should beat %s: %s", envAddr, stderr)
	}
	// A bare host:port means https.
	if _, stderr, code := h.run("status", "--addr", strings.TrimPrefix(good, "https://")); code != exitOK {
		t.Errorf("bare host:port: %s", stderr)
	}
	h.env[envAddr] = good
	h.env[envTimeout] = "soon"
	if _, stderr, code := h.run("status"); code != exitUsage || !strings.Contains(stderr, `LICMESH_TIMEOUT="soon" is not a duration`) {
		t.Errorf("bad LICMESH_TIMEOUT: exit %d, %q", code, stderr)
	}
}

func TestHelpAndVersionNeedNoMaster(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env = map[string]string{}
	for _, args := range [][]string{{"--help"}, {}, {"pool"}, {"token", "create", "--help"}} {
		if stdout, _, code := h.run(args...); code != exitOK || !strings.Contains(stdout, "Usage:") {
			t.Errorf("%v: exit %d, stdout %q", args, code, stdout)
		}
	}
	stdout, _, code := h.run("version")
	if code != exitOK || !strings.HasPrefix(stdout, "meshctl ") || !strings.Contains(stdout, "protocol 1") {
		t.Errorf("version: exit %d, %q", code, stdout)
	}
}
