package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/licmesh/licmesh/mesh/confload"
)

// MaxFileSize bounds the config file; a real one is a few hundred bytes.
const MaxFileSize = 1 << 20

// unsetSocket marks Socket as not given, so that it follows data_dir wherever
// data_dir ends up after the file, the environment and the flags.
const unsetSocket = "\x00unset"

// LookupEnv is the shape of os.LookupEnv, injected so tests need not touch
// the process environment.
type LookupEnv func(key string) (string, bool)

// Load reads the YAML file at path (none when path is empty), applies
// LICMESH_* variables from env (none when env is nil), then override (flags;
// may be nil), fills in the socket path and validates. Every error names what
// is wrong.
func Load(path string, env LookupEnv, override func(*Config) error) (Config, error) {
	cfg := DefaultConfig()
	cfg.Socket = unsetSocket
	if path != "" {
		data, err := readSmallFile(path, MaxFileSize)
		if err != nil {
			return Config{}, fmt.Errorf("config: read %s: %w", path, err)
		}
		if err := decodeInto(&cfg, data, path); err != nil {
			return Config{}, err
		}
	}
	if env != nil {
		if err := applyEnv(&cfg, env); err != nil {
			return Config{}, err
		}
	}
	if override != nil {
		if err := override(&cfg); err != nil {
			return Config{}, err
		}
	}
	if cfg.Socket == unsetSocket {
		cfg.Socket = ""
		if cfg.DataDir != "" {
			cfg.Socket = filepath.Join(cfg.DataDir, SocketName)
		}
	}
	fillUsageDefaults(&cfg.Usage, cfg.DataDir, os.Hostname)
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	cfg.Masters = cfg.NormalizedMasters()
	return cfg, nil
}

// Parse decodes a YAML document over DefaultConfig and validates it. name is
// used in error messages. Unlike Load it applies no environment or flags.
func Parse(data []byte, name string) (Config, error) {
	cfg := DefaultConfig()
	cfg.Socket = unsetSocket
	if err := decodeInto(&cfg, data, name); err != nil {
		return Config{}, err
	}
	if cfg.Socket == unsetSocket {
		cfg.Socket = filepath.Join(cfg.DataDir, SocketName)
	}
	fillUsageDefaults(&cfg.Usage, cfg.DataDir, os.Hostname)
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	cfg.Masters = cfg.NormalizedMasters()
	return cfg, nil
}

// decodeInto decodes one strict YAML document into cfg.
func decodeInto(cfg *Config, data []byte, name string) error {
	if err := confload.Bytes(name, data, cfg); err != nil {
		return fmt.Errorf("%w: %s", ErrParse, strings.TrimPrefix(err.Error(), "config: "))
	}
	return nil
}

// applyEnv applies the LICMESH_* variables that are set (LICMESH_MASTERS is
// comma separated), and LICMESH_USAGE_* for the usage section
// (LICMESH_USAGE_SOURCES_FILE for usage.sources_file).
func applyEnv(cfg *Config, env LookupEnv) error {
	return errors.Join(confload.Env("LICMESH_", cfg, env), confload.Env("LICMESH_USAGE_", &cfg.Usage, env))
}

// readSmallFile reads a file of at most limit bytes.
func readSmallFile(path string, limit int64) ([]byte, error) {
	b, err := confload.ReadFile(path, limit)
	if err != nil {
		return nil, errors.New(errorText(err))
	}
	return b, nil
}
