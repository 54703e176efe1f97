package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/licmesh/licmesh/mesh/pki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testToken(t *testing.T) string {
	t.Helper()
	tok, err := pki.NewJoinToken(pki.Pin{1, 2, 3})
	require.NoError(t, err)
	return tok.String()
}

func TestExampleParses(t *testing.T) {
	b, err := os.ReadFile("example.yaml")
	require.NoError(t, err)
	cfg, err := Parse(b, "example.yaml")
	require.NoError(t, err, "example.yaml")
	assert.Equal(t, "master-3.example.internal:7443", cfg.Masters[2], "masters[2] (default port)")
	assert.Equal(t, "/var/lib/collectord/collectord.sock", cfg.Socket, "socket, want it under data_dir")
	assert.True(t, cfg.ReleaseOnShutdown, "defaults not kept: %+v", cfg)
	assert.Equal(t, 10000, cfg.MaxLeases, "defaults not kept: %+v", cfg)
	assert.Equal(t, 5*time.Second, cfg.RequestTimeout, "defaults not kept: %+v", cfg)
	assert.True(t, cfg.UpdatesManaged, "updates_managed")
	assert.Equal(t, UpdateRestartExec, cfg.UpdateRestart, "update_restart")
	assert.Equal(t, 2*time.Minute, cfg.UpdateTrialTimeout, "update_trial_timeout")
	assert.Empty(t, cfg.UpdateHealthCommand, "update_health_command")
}

func TestUpdateSettingsFromEnv(t *testing.T) {
	env := map[string]string{
		"LICMESH_MASTERS":               "m1",
		"LICMESH_DATA_DIR":              t.TempDir(),
		"LICMESH_UPDATES_MANAGED":       "false",
		"LICMESH_UPDATE_RESTART":        "exit",
		"LICMESH_UPDATE_TRIAL_TIMEOUT":  "5m",
		"LICMESH_UPDATE_HEALTH_COMMAND": "/bin/check,--quick",
	}
	cfg, err := Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
	require.NoError(t, err)
	assert.False(t, cfg.UpdatesManaged)
	assert.Equal(t, UpdateRestartExit, cfg.UpdateRestart)
	assert.Equal(t, 5*time.Minute, cfg.UpdateTrialTimeout)
	assert.Equal(t, []string{"/bin/check", "--quick"}, cfg.UpdateHealthCommand)
}

func TestParseStrict(t *testing.T) {
	tok := testToken(t)
	cases := []struct {
		name    string
		yaml    string
		wantErr string // substring; "" means valid
		is      error
	}{
		{name: "minimal", yaml: "masters: [m1]\ndata_dir: /tmp/x\n"},
		{name: "unknown field", yaml: "masters: [m1]\nmaster: x\n", wantErr: `unknown field "master"`, is: ErrParse},
		{name: "wrong type", yaml: "masters: m1\n", wantErr: "line 1", is: ErrParse},
		{name: "bad port", yaml: "masters: [m1, \"x:y\"]\n", wantErr: `config: masters[1] "x:y": invalid port`, is: ErrInvalid},
		{name: "port out of range", yaml: "masters: [\"m1:70000\"]\n", wantErr: `masters[0] "m1:70000": invalid port`, is: ErrInvalid},
		{name: "bad host", yaml: "masters: [\"bad host:1\"]\n", wantErr: "invalid host name", is: ErrInvalid},
		{name: "duplicate master", yaml: "masters: [m1, \"m1:7443\"]\n", wantErr: "duplicates masters[0]", is: ErrInvalid},
		{name: "no masters", yaml: "data_dir: /x\n", wantErr: "masters: at least one", is: ErrInvalid},
		{name: "non-loopback listen", yaml: "masters: [m1]\nlisten: 0.0.0.0:7480\n", wantErr: `listen "0.0.0.0:7480": must not listen on all interfaces`, is: ErrInvalid},
		{name: "lan listen", yaml: "masters: [m1]\nlisten: 10.1.2.3:7480\n", wantErr: "must be a loopback address", is: ErrInvalid},
		{name: "host listen", yaml: "masters: [m1]\nlisten: example.com:7480\n", wantErr: "loopback IP address", is: ErrInvalid},
		{name: "ipv6 loopback", yaml: "masters: [m1]\nlisten: \"[::1]:7480\"\n"},
		{name: "listen disabled", yaml: "masters: [m1]\nlisten: \"\"\nsocket: \"\"\n"},
		{name: "missing data dir", yaml: "masters: [m1]\ndata_dir: \"\"\n", wantErr: "data_dir: is required", is: ErrInvalid},
		{name: "bad transport", yaml: "masters: [m1]\ntransport: udp\n", wantErr: `transport "udp": must be auto, quic or tcp`, is: ErrInvalid},
		{name: "max leases", yaml: "masters: [m1]\nmax_leases: 0\n", wantErr: `max_leases "0"`, is: ErrInvalid},
		{name: "timeout", yaml: "masters: [m1]\nrequest_timeout: 1ms\n", wantErr: "request_timeout", is: ErrInvalid},
		{name: "duration", yaml: "masters: [m1]\nrequest_timeout: 2s\n"},
		{name: "log level", yaml: "masters: [m1]\nlog_level: loud\n", wantErr: "log_level", is: ErrInvalid},
		{name: "token ok", yaml: "masters: [m1]\ntoken: " + tok + "\n"},
		{name: "token bad", yaml: "masters: [m1]\ntoken: lmj1.nope\n", wantErr: "config: token: pki: malformed token", is: ErrInvalid},
		{name: "token and file", yaml: "masters: [m1]\ntoken: " + tok + "\ntoken_file: /etc/hostname\n", wantErr: "not both", is: ErrInvalid},
		{name: "two documents", yaml: "masters: [m1]\n---\nmasters: [m2]\n", wantErr: "more than one YAML document", is: ErrParse},
		{name: "syntax", yaml: "masters: [m1\n", wantErr: "cannot parse", is: ErrParse},
		{name: "update restart exit", yaml: "masters: [m1]\nupdate_restart: exit\n"},
		{name: "update restart bad", yaml: "masters: [m1]\nupdate_restart: reboot\n", wantErr: `update_restart "reboot": must be exec or exit`, is: ErrInvalid},
		{name: "trial timeout short", yaml: "masters: [m1]\nupdate_trial_timeout: 1s\n", wantErr: `update_trial_timeout "1s": must be between 10s and 24h`, is: ErrInvalid},
		{name: "trial timeout long", yaml: "masters: [m1]\nupdate_trial_timeout: 48h\n", wantErr: "update_trial_timeout", is: ErrInvalid},
		{name: "health command", yaml: "masters: [m1]\nupdate_health_command: [/bin/check, --quick]\n"},
		{name: "health command empty program", yaml: "masters: [m1]\nupdate_health_command: ['', x]\n", wantErr: "update_health_command[0]: the program to run is empty", is: ErrInvalid},
		{name: "health command not a list", yaml: "masters: [m1]\nupdate_health_command: /bin/check\n", wantErr: "line 2", is: ErrParse},
		{name: "updates unmanaged", yaml: "masters: [m1]\nupdates_managed: false\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "test.yaml")
			if tc.wantErr == "" {
				require.NoError(t, err, "unexpected error")
				return
			}
			require.Error(t, err, "want %q", tc.wantErr)
			assert.ErrorContains(t, err, tc.wantErr)
			assert.ErrorIs(t, err, tc.is)
			assert.NotContains(t, err.Error(), tok, "error leaks the token")
		})
	}
}

func TestValidateNamesEveryField(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Masters = []string{"ok:1", "x:y"}
	cfg.Listen = "0.0.0.0:1"
	cfg.DataDir = ""
	cfg.Transport = "pigeon"
	err := cfg.Validate()
	for _, want := range []string{"masters[1]", "listen", "data_dir", "transport"} {
		assert.ErrorContains(t, err, want, "error does not name %s", want)
	}
}

func TestJoinToken(t *testing.T) {
	tok := testToken(t)
	cfg := DefaultConfig()
	_, err := cfg.JoinToken()
	require.ErrorIs(t, err, ErrTokenRequired, "no token")
	file := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(file, []byte(tok+"\n"), 0o600))
	cfg.TokenFile = file
	got, err := cfg.JoinToken()
	require.NoError(t, err, "token file")
	require.Equal(t, tok, got.String(), "token file")
	require.NoError(t, os.WriteFile(file, []byte("\n"), 0o600))
	_, err = cfg.JoinToken()
	require.ErrorIs(t, err, ErrTokenRequired, "empty token file")
}

func TestLoadLayers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(file, []byte("masters: [m1]\ndata_dir: "+dir+"\nmax_leases: 5\n"), 0o600))
	env := map[string]string{
		"LICMESH_MASTERS":    "a:1, b",
		"LICMESH_MAX_LEASES": "7",
		"LICMESH_TRANSPORT":  "tcp",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := Load(file, lookup, func(c *Config) error { c.DataDir = filepath.Join(dir, "flag"); return nil })
	require.NoError(t, err)
	assert.Equal(t, "a:1,b:7443", strings.Join(cfg.Masters, ","), "env not applied: %+v", cfg)
	assert.Equal(t, 7, cfg.MaxLeases, "env not applied: %+v", cfg)
	assert.Equal(t, "tcp", cfg.Transport, "env not applied: %+v", cfg)
	assert.Equal(t, filepath.Join(dir, "flag", SocketName), cfg.Socket, "socket does not follow the flag's data_dir")

	env["LICMESH_MAX_LEASES"] = "many"
	_, err = Load(file, lookup, nil)
	assert.ErrorContains(t, err, `LICMESH_MAX_LEASES: not a whole number`, "bad env")
	_, err = Load(filepath.Join(dir, "missing.yaml"), nil, nil)
	assert.ErrorContains(t, err, "missing.yaml", "missing file")
}

func TestNormalizeMaster(t *testing.T) {
	for in, want := range map[string]string{
		"m1":           "m1:7443",
		"M1.Example:9": "m1.example:9",
		"10.0.0.1":     "10.0.0.1:7443",
		"::1":          "[::1]:7443",
		"[::1]:80":     "[::1]:80",
	} {
		got, err := NormalizeMaster(in)
		assert.NoError(t, err, "NormalizeMaster(%q)", in)
		assert.Equal(t, want, got, "NormalizeMaster(%q)", in)
	}
	for _, bad := range []string{"", ":1", "a:0", "a:b:c", "-a:1", strings.Repeat("a", 300)} {
		_, err := NormalizeMaster(bad)
		assert.Error(t, err, "NormalizeMaster(%q) accepted", bad)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("masters: [m1]\n"))
	f.Add([]byte("masters: [\"x:y\"]\nlisten: 0.0.0.0:1\n"))
	if b, err := os.ReadFile("example.yaml"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz.yaml")
		if err != nil {
			return
		}
		require.NoError(t, cfg.Validate(), "Parse accepted a config Validate refuses")
	})
}
