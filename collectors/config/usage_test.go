package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sourcesFile writes an (unparsed) sources file and returns its path.
func sourcesFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sources.yaml")
	if err := os.WriteFile(p, []byte("sources: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUsageDefaults(t *testing.T) {
	src := sourcesFile(t)
	cfg, err := Parse([]byte("masters: [m1]\ndata_dir: /srv/c\nusage:\n  sources_file: "+src+"\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	u := cfg.Usage
	if !u.Enabled() || u.SpoolDir != "/srv/c/spool" || u.PseudonymKeyFile != "/srv/c/pseudonym.key" ||
		u.Installation != host || u.SpoolMaxMiB != DefaultSpoolMaxMiB || u.BatchMaxRecords != DefaultBatchMaxRecords || u.SendInterval != 0 {
		t.Errorf("usage = %+v", u)
	}

	cfg, err = Parse([]byte("masters: [m1]\n"), "c.yaml")
	if err != nil || cfg.Usage.Enabled() {
		t.Errorf("without a usage section: enabled %v, %v", cfg.Usage.Enabled(), err)
	}

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
	if err != nil {
		t.Fatal(err)
	}
	want := Usage{SourcesFile: src, Installation: "acme-prod", SpoolDir: "/var/spool/c", SpoolMaxMiB: 8,
		PseudonymKeyFile: "/etc/c/key", BatchMaxRecords: 50, SendInterval: 30 * time.Second}
	if cfg.Usage != want {
		t.Errorf("usage = %+v, want %+v", cfg.Usage, want)
	}
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
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
			continue
		}
		if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrParse) {
			t.Errorf("%s: %v is neither ErrInvalid nor ErrParse", name, err)
		}
	}
}

func TestUsageFromEnvAndDataDirFlag(t *testing.T) {
	dir := t.TempDir()
	src := sourcesFile(t)
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte("masters: [m1]\nusage:\n  installation: from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LICMESH_USAGE_SOURCES_FILE": src, "LICMESH_USAGE_SPOOL_MAX_MIB": "16"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := Load(file, lookup, func(c *Config) error { c.DataDir = filepath.Join(dir, "data"); return nil })
	if err != nil {
		t.Fatal(err)
	}
	u := cfg.Usage
	if u.SourcesFile != src || u.SpoolMaxMiB != 16 || u.Installation != "from-file" ||
		u.SpoolDir != filepath.Join(dir, "data", SpoolDirName) || u.PseudonymKeyFile != filepath.Join(dir, "data", PseudonymKeyName) {
		t.Errorf("usage = %+v", u)
	}
	env["LICMESH_USAGE_SPOOL_MAX_MIB"] = "lots"
	if _, err := Load(file, lookup, nil); err == nil || !strings.Contains(err.Error(), "LICMESH_USAGE_SPOOL_MAX_MIB: not a whole number") {
		t.Errorf("bad env: %v", err)
	}
}
