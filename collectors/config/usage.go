package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/usage"
)

// Usage metering defaults and limits.
const (
	// SpoolDirName and PseudonymKeyName are the spool directory and the
	// pseudonym key file inside data_dir when usage.spool_dir and
	// usage.pseudonym_key_file are not set.
	SpoolDirName     = "spool"
	PseudonymKeyName = "pseudonym.key"
	// DefaultSpoolMaxMiB bounds the spool on disk.
	DefaultSpoolMaxMiB = 64
	// MinSpoolMaxMiB and MaxSpoolMaxMiB bound usage.spool_max_mib.
	MinSpoolMaxMiB = 2
	MaxSpoolMaxMiB = 64 << 10
	// DefaultBatchMaxRecords, MaxBatchRecords and MaxSendInterval bound
	// the usage sender; package meter takes its limits from here.
	DefaultBatchMaxRecords = 500
	MaxBatchRecords        = 10_000
	MaxSendInterval        = time.Hour
)

// Usage is the `usage:` section: usage metering, off while SourcesFile is
// empty. See meter and sources.
type Usage struct {
	// SourcesFile is a YAML file listing the usage sources under
	// `sources:` (the shape of sources/example-processmaker.yaml). Empty
	// turns metering off.
	SourcesFile string `yaml:"sources_file"`
	// Installation names the installation the sources measure. It defaults
	// to this host's name; collectors measuring one installation must use
	// the same name (and the same pseudonym key).
	Installation string `yaml:"installation"`
	// SpoolDir holds the samples not yet acknowledged by the masters;
	// default <data_dir>/spool.
	SpoolDir string `yaml:"spool_dir"`
	// SpoolMaxMiB bounds the spool on disk; when full, the oldest samples
	// are dropped.
	SpoolMaxMiB int `yaml:"spool_max_mib"`
	// PseudonymKeyFile holds the key that turns user IDs into pseudonyms;
	// created (mode 0600, 32 random bytes) when missing. Default
	// <data_dir>/pseudonym.key.
	PseudonymKeyFile string `yaml:"pseudonym_key_file"`
	// BatchMaxRecords bounds the samples in one report to the masters.
	BatchMaxRecords int `yaml:"batch_max_records"`
	// SendInterval is the least time between two reports; 0 reports each
	// sample as soon as it is stored.
	SendInterval time.Duration `yaml:"send_interval"`
}

// defaultUsage returns the section's defaults; the paths and the
// installation follow data_dir and the host, and are filled in by Load.
func defaultUsage() Usage {
	return Usage{
		SpoolMaxMiB:     DefaultSpoolMaxMiB,
		BatchMaxRecords: DefaultBatchMaxRecords,
	}
}

// Enabled reports whether usage metering is on.
func (u Usage) Enabled() bool { return u.SourcesFile != "" }

// fillUsageDefaults sets the paths left empty under dataDir and the
// installation to the host's name.
func fillUsageDefaults(u *Usage, dataDir string, hostname func() (string, error)) {
	if dataDir != "" {
		if u.SpoolDir == "" {
			u.SpoolDir = filepath.Join(dataDir, SpoolDirName)
		}
		if u.PseudonymKeyFile == "" {
			u.PseudonymKeyFile = filepath.Join(dataDir, PseudonymKeyName)
		}
	}
	if u.Installation == "" {
		if h, err := hostname(); err == nil {
			u.Installation = h
		}
	}
}

// validate adds the section's problems. Paths and the installation are
// required only when metering is on; the numbers are checked always.
func (u Usage) validate(add func(field, value, problem string)) {
	if u.SourcesFile != "" {
		if _, err := os.Stat(u.SourcesFile); err != nil {
			add("usage.sources_file", u.SourcesFile, "cannot be read: "+errorText(err))
		}
	}
	switch {
	case u.Installation != "":
		if err := usage.InstallationID(u.Installation).Validate(); err != nil {
			add("usage.installation", u.Installation, strings.TrimPrefix(err.Error(), "usage: "))
		}
	case u.Enabled():
		add("usage.installation", "", "is required (the host name could not be read)")
	}
	if u.Enabled() {
		if strings.TrimSpace(u.SpoolDir) == "" {
			add("usage.spool_dir", "", "is required")
		}
		if strings.TrimSpace(u.PseudonymKeyFile) == "" {
			add("usage.pseudonym_key_file", "", "is required")
		}
	}
	if u.SpoolMaxMiB < MinSpoolMaxMiB || u.SpoolMaxMiB > MaxSpoolMaxMiB {
		add("usage.spool_max_mib", strconv.Itoa(u.SpoolMaxMiB), fmt.Sprintf("must be between %d and %d", MinSpoolMaxMiB, MaxSpoolMaxMiB))
	}
	if u.BatchMaxRecords < 1 || u.BatchMaxRecords > MaxBatchRecords {
		add("usage.batch_max_records", strconv.Itoa(u.BatchMaxRecords), fmt.Sprintf("must be between 1 and %d", MaxBatchRecords))
	}
	if u.SendInterval < 0 || u.SendInterval > MaxSendInterval {
		add("usage.send_interval", u.SendInterval.String(), fmt.Sprintf("must be between 0 and %v", MaxSendInterval))
	}
}
