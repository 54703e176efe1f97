package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
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
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	cfg.Masters = cfg.NormalizedMasters()
	return cfg, nil
}

// decodeInto decodes one strict YAML document into cfg.
func decodeInto(cfg *Config, data []byte, name string) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file is all defaults
		}
		return fmt.Errorf("%w: %s: %s", ErrParse, name, yamlText(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %s: holds more than one YAML document", ErrParse, name)
	}
	return nil
}

var (
	unknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)
	wrongType    = regexp.MustCompile(`cannot unmarshal (\S+)(?: ` + "`[^`]*`" + `)? into (\S+)`)
)

// yamlText rewrites the YAML library's messages into the file's terms
// ("unknown field" rather than a Go type name) and drops quoted values, which
// might be a secret such as the token.
func yamlText(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, m := range te.Errors {
		m = unknownField.ReplaceAllString(m, `unknown field "$1"`)
		m = wrongType.ReplaceAllString(m, `wrong type: a $1 where a $2 is expected`)
		msgs = append(msgs, m)
	}
	return strings.Join(msgs, "; ")
}

// applyEnv applies the LICMESH_* variables that are set.
func applyEnv(cfg *Config, env LookupEnv) error {
	var errs []error
	str := func(key string, dst *string) {
		if v, ok := env(key); ok {
			*dst = v
		}
	}
	num := func(key string, dst *int) {
		if v, ok := env(key); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, &FieldError{Field: key, Value: v, Problem: "not an integer"})
				return
			}
			*dst = n
		}
	}
	if v, ok := env("LICMESH_MASTERS"); ok {
		cfg.Masters = nil
		for _, m := range strings.Split(v, ",") {
			if m = strings.TrimSpace(m); m != "" {
				cfg.Masters = append(cfg.Masters, m)
			}
		}
	}
	str("LICMESH_TOKEN", &cfg.Token)
	str("LICMESH_TOKEN_FILE", &cfg.TokenFile)
	str("LICMESH_DATA_DIR", &cfg.DataDir)
	str("LICMESH_LISTEN", &cfg.Listen)
	str("LICMESH_SOCKET", &cfg.Socket)
	str("LICMESH_TRANSPORT", &cfg.Transport)
	str("LICMESH_LOG_LEVEL", &cfg.LogLevel)
	str("LICMESH_LOG_FORMAT", &cfg.LogFormat)
	num("LICMESH_MAX_LEASES", &cfg.MaxLeases)
	num("LICMESH_MEMORY_LIMIT_MIB", &cfg.MemoryLimitMiB)
	if v, ok := env("LICMESH_REQUEST_TIMEOUT"); ok {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, &FieldError{Field: "LICMESH_REQUEST_TIMEOUT", Value: v, Problem: "not a duration (like 5s)"})
		} else {
			cfg.RequestTimeout = d
		}
	}
	if v, ok := env("LICMESH_RELEASE_ON_SHUTDOWN"); ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, &FieldError{Field: "LICMESH_RELEASE_ON_SHUTDOWN", Value: v, Problem: "not a boolean (true or false)"})
		} else {
			cfg.ReleaseOnShutdown = b
		}
	}
	return errors.Join(errs...)
}

// readSmallFile reads a file of at most limit bytes.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.New(errorText(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, errors.New(errorText(err))
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("file is larger than %d bytes", limit)
	}
	return b, nil
}
