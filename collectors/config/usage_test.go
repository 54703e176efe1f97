package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sourcesFile writes an (unparsed) sources file and returns its path.
func sourcesFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sources.yaml")
	require.NoError(t, os.WriteFile(p, []byte("sources: []\n"), 0o600))
	return p
}

func TestUsageDefaults(t *testing.T) {
	src := sourcesFile(t)
	cfg, err := Parse([]byte("masters: [m1]\ndata_dir: /srv/c\nusage:\n  sources_file: "+src+"\n"), "c.yaml")
	require.NoError(t, err)
	host, _ := os.Hostname()
	u := cfg.Usage
	assert.True(t, u.Enabled(), "usage = %+v", u)
	assert.Equal(t, "/srv/c/spool", u.SpoolDir, "usage = %+v", u)
	assert.Equal(t, "/srv/c/pseudonym.key", u.PseudonymKeyFile, "usage = %+v", u)
	assert.Equal(t, host, u.Installation, "usage = %+v", u)
	assert.Equal(t, DefaultSpoolMaxMiB, u.SpoolMaxMiB, "usage = %+v", u)
	assert.Equal(t, DefaultBatchMaxRecords, u.BatchMaxRecords, "usage = %+v", u)
	assert.Zero(t, u.SendInterval, "usage = %+v", u)

	cfg, err = Parse([]byte("masters: [m1]\n"), "c.yaml")
	assert.NoError(t, err, "without a usage section")
	assert.False(t, cfg.Usage.Enabled(), "without a usage section: enabled")

	cfg, err = Parse([]byte(strings.Join([]string{
		"masters: [m1]",
		"usage:",
		"  sources_file: " + src,
		"  installation: acme-prod",
		"  spool_dir: /var/spool/c",
		"  spool_max_mib: 8",
		"  pseudonym_key_file: /etc/c/key",
		"  batch_max_records: 50",
		"  send_interval: 30s",
	}, "\n")), "c.yaml")
	require.NoError(t, err)
	want := Usage{SourcesFile: src, Installation: "acme-prod", SpoolDir: "/var/spool/c", SpoolMaxMiB: 8,
		PseudonymKeyFile: "/etc/c/key", BatchMaxRecords: 50, SendInterval: 30 * time.Second}
	assert.Equal(t, want, cfg.Usage, "usage")
}

func TestUsageStrict(t *testing.T) {
	src := sourcesFile(t)
	on := "masters: [m1]\nusage:\n  sources_file: " + src + "\n"
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown field":   {on + "  spool_max: 3\n", `unknown field "spool_max"`},
		"missing sources": {"masters: [m1]\nusage:\n  sources_file: /nonexistent/s.yaml\n", `usage.sources_file "/nonexistent/s.yaml": cannot be read: no such file or directory`},
		"installation":    {on + "  installation: \"a\\tb\"\n", "usage.installation"},
		"long name":       {on + "  installation: " + strings.Repeat("x", 300) + "\n", "usage.installation"},
		"spool small":     {on + "  spool_max_mib: 1\n", `usage.spool_max_mib "1": must be between 2 and 65536`},
		"batch zero":      {on + "  batch_max_records: 0\n", "usage.batch_max_records"},
		"batch huge":      {on + "  batch_max_records: 10001\n", "usage.batch_max_records"},
		"interval":        {on + "  send_interval: 2h\n", "usage.send_interval"},
		"negative":        {on + "  send_interval: -1s\n", "usage.send_interval"},
		"no spool dir":    {"masters: [m1]\ndata_dir: ''\nusage:\n  sources_file: " + src + "\n", "usage.spool_dir: is required"},
		"off but bad":     {"masters: [m1]\nusage:\n  spool_max_mib: 0\n", "usage.spool_max_mib"},
	} {
		_, err := Parse([]byte(tc.yaml), "c.yaml")
		if !assert.ErrorContains(t, err, tc.want, name) {
			continue
		}
		assert.True(t, errors.Is(err, ErrInvalid) || errors.Is(err, ErrParse), "%s: %v is neither ErrInvalid nor ErrParse", name, err)
	}
}

func TestUsageFromEnvAndDataDirFlag(t *testing.T) {
	dir := t.TempDir()
	src := sourcesFile(t)
	file := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(file, []byte("masters: [m1]\nusage:\n  installation: from-file\n"), 0o600))
	env := map[string]string{"LICMESH_USAGE_SOURCES_FILE": src, "LICMESH_USAGE_SPOOL_MAX_MIB": "16"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := Load(file, lookup, func(c *Config) error { c.DataDir = filepath.Join(dir, "data"); return nil })
	require.NoError(t, err)
	u := cfg.Usage
	assert.Equal(t, src, u.SourcesFile, "usage = %+v", u)
	assert.Equal(t, 16, u.SpoolMaxMiB, "usage = %+v", u)
	assert.Equal(t, "from-file", u.Installation, "usage = %+v", u)
	assert.Equal(t, filepath.Join(dir, "data", SpoolDirName), u.SpoolDir, "usage = %+v", u)
	assert.Equal(t, filepath.Join(dir, "data", PseudonymKeyName), u.PseudonymKeyFile, "usage = %+v", u)
	env["LICMESH_USAGE_SPOOL_MAX_MIB"] = "lots"
	_, err = Load(file, lookup, nil)
	assert.ErrorContains(t, err, "LICMESH_USAGE_SPOOL_MAX_MIB: not a whole number", "bad env")
}
