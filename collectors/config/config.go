package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/licmesh/licmesh/mesh/pki"
)

// Defaults and limits.
const (
	// DefaultMasterPort is the masters' collector port, used when a master
	// address has no port.
	DefaultMasterPort = 7443
	// DefaultListen is where the local API listens on TCP.
	DefaultListen = "127.0.0.1:7480"
	// DefaultDataDir holds the collector's identity and socket.
	DefaultDataDir = "/var/lib/collectord"
	// SocketName is the local API socket's file name inside data_dir when
	// socket is not set.
	SocketName = "collectord.sock"
	// MaxMasters bounds the masters list, in the file and as learned.
	MaxMasters = 64
	// MaxLeasesLimit is the largest max_leases accepted.
	MaxLeasesLimit = 1_000_000
	// maxSocketPath is the longest unix socket path the kernel takes
	// (sun_path is 108 bytes on Linux, including the NUL).
	maxSocketPath = 107
)

// Transport modes.
const (
	// TransportAuto tries HTTP/3 (QUIC) and falls back to HTTP/2 over
	// TLS/TCP when UDP does not get through.
	TransportAuto = "auto"
	// TransportQUIC uses HTTP/3 only.
	TransportQUIC = "quic"
	// TransportTCP uses HTTP/2 over TLS/TCP only.
	TransportTCP = "tcp"
)

// Config is collectord's configuration. Field names in YAML are the snake_case
// names in the tags.
type Config struct {
	// Masters are host:port addresses of the masters' collector port; a
	// missing port means DefaultMasterPort. They are a starting point: the
	// collector learns the current list from the masters and keeps it in
	// data_dir.
	Masters []string `yaml:"masters"`
	// Token is the join token (lmj1...). Only needed until enrolled.
	Token string `yaml:"token"`
	// TokenFile is a file holding the join token, as an alternative to Token.
	TokenFile string `yaml:"token_file"`
	// DataDir holds the identity (key, certificate, CA, signing key,
	// collector ID), the last known masters and the socket.
	DataDir string `yaml:"data_dir"`
	// Listen is the local API's TCP address; it must be a loopback address.
	// Empty disables TCP.
	Listen string `yaml:"listen"`
	// Socket is the local API's unix socket path; empty disables it. When
	// the file does not set it, it is data_dir/collectord.sock.
	Socket string `yaml:"socket"`
	// Transport is auto, quic or tcp.
	Transport string `yaml:"transport"`
	// MaxLeases bounds the leases held at once.
	MaxLeases int `yaml:"max_leases"`
	// MaxInFlight bounds the local API requests served at once (64): one
	// more is answered 503 busy at once, so a product that floods its
	// collector cannot make it hoard memory. An application server whose
	// hundreds of sessions log on together raises it.
	MaxInFlight int `yaml:"max_in_flight"`
	// RequestTimeout bounds one call to the masters and one local API
	// request, so the product is never blocked for longer.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// ReleaseOnShutdown releases every held lease on a clean stop. Off, the
	// leases stay with the masters until they lapse or a restarted collector
	// renews them.
	ReleaseOnShutdown bool `yaml:"release_on_shutdown"`
	// MemoryLimitMiB is the Go runtime's soft memory limit; 0 leaves it
	// unset.
	MemoryLimitMiB int `yaml:"memory_limit_mib"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// LogFormat is text or json.
	LogFormat string `yaml:"log_format"`
	// Usage configures usage metering; off unless usage.sources_file is
	// set.
	Usage Usage `yaml:"usage"`

	// UpdatesManaged lets the masters' rollouts update this collector's
	// binary. Off, the collector ignores update orders (and logs that it
	// does, once per rollout): the host's own tooling updates it.
	UpdatesManaged bool `yaml:"updates_managed"`
	// UpdateRestart is how the collector starts its new version: exec
	// replaces the process in place; exit ends it with status 75
	// (EX_TEMPFAIL) for its supervisor to start again (systemd
	// Restart=on-failure or always, a container's restart policy).
	UpdateRestart string `yaml:"update_restart"`
	// UpdateHealthCommand, when set, is run (argv, no shell) by a freshly
	// updated collector once it is otherwise healthy, with
	// LICMESH_VERSION set to the version now running; it has 60s, and exit
	// status 0 means healthy. Anything else puts the previous version back.
	UpdateHealthCommand []string `yaml:"update_health_command"`
	// UpdateTrialTimeout is how long a freshly updated collector has to
	// become healthy (an entitlement document from a master, the local API
	// serving, the health command passing) before the previous version is
	// put back.
	UpdateTrialTimeout time.Duration `yaml:"update_trial_timeout"`
}

// Update restart modes.
const (
	// UpdateRestartExec re-executes the binary in place.
	UpdateRestartExec = "exec"
	// UpdateRestartExit exits with status 75 for the supervisor to restart.
	UpdateRestartExit = "exit"
)

// DefaultConfig returns the defaults. Masters and the token have none.
func DefaultConfig() Config {
	return Config{
		DataDir:           DefaultDataDir,
		Listen:            DefaultListen,
		Socket:            filepath.Join(DefaultDataDir, SocketName),
		Transport:         TransportAuto,
		MaxLeases:         10_000,
		MaxInFlight:       64,
		RequestTimeout:    5 * time.Second,
		ReleaseOnShutdown: true,
		MemoryLimitMiB:    64,
		LogLevel:          "info",
		LogFormat:         "text",
		Usage:             defaultUsage(),

		UpdatesManaged:     true,
		UpdateRestart:      UpdateRestartExec,
		UpdateTrialTimeout: 2 * time.Minute,
	}
}

// Validate checks every field and returns all problems joined, each a
// *FieldError wrapping ErrInvalid. It does not touch the file system except to
// check that token_file and usage.sources_file can be read.
func (c Config) Validate() error {
	var errs []error
	add := func(field, value, problem string) {
		errs = append(errs, &FieldError{Field: field, Value: value, Problem: problem})
	}

	switch {
	case len(c.Masters) == 0:
		add("masters", "", "at least one master address is required")
	case len(c.Masters) > MaxMasters:
		add("masters", "", fmt.Sprintf("has %d entries, at most %d allowed", len(c.Masters), MaxMasters))
	default:
		seen := make(map[string]int, len(c.Masters))
		for i, m := range c.Masters {
			field := fmt.Sprintf("masters[%d]", i)
			norm, err := NormalizeMaster(m)
			if err != nil {
				add(field, m, err.Error())
				continue
			}
			if j, dup := seen[norm]; dup {
				add(field, m, fmt.Sprintf("duplicates masters[%d]", j))
				continue
			}
			seen[norm] = i
		}
	}

	if c.Token != "" && c.TokenFile != "" {
		add("token", "", "set token or token_file, not both")
	}
	if c.Token != "" {
		if _, err := pki.ParseJoinToken(c.Token); err != nil {
			errs = append(errs, &FieldError{Field: "token", Problem: err.Error(), secret: true})
		}
	}
	if c.TokenFile != "" {
		if _, err := os.Stat(c.TokenFile); err != nil {
			add("token_file", c.TokenFile, "cannot be read: "+errorText(err))
		}
	}

	if strings.TrimSpace(c.DataDir) == "" {
		add("data_dir", "", "is required")
	}
	if c.Listen != "" {
		if problem := checkLoopback(c.Listen); problem != "" {
			add("listen", c.Listen, problem)
		}
	}
	if c.Socket != "" && len(c.Socket) > maxSocketPath {
		add("socket", c.Socket, fmt.Sprintf("path has %d bytes, a unix socket path takes at most %d", len(c.Socket), maxSocketPath))
	}
	switch c.Transport {
	case TransportAuto, TransportQUIC, TransportTCP:
	default:
		add("transport", c.Transport, "must be auto, quic or tcp")
	}
	if c.MaxLeases < 1 || c.MaxLeases > MaxLeasesLimit {
		add("max_leases", strconv.Itoa(c.MaxLeases), fmt.Sprintf("must be between 1 and %d", MaxLeasesLimit))
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 65536 {
		add("max_in_flight", strconv.Itoa(c.MaxInFlight), "must be between 1 and 65536")
	}
	if c.RequestTimeout < 100*time.Millisecond || c.RequestTimeout > 5*time.Minute {
		add("request_timeout", c.RequestTimeout.String(), "must be between 100ms and 5m")
	}
	if c.MemoryLimitMiB != 0 && (c.MemoryLimitMiB < 16 || c.MemoryLimitMiB > 1<<20) {
		add("memory_limit_mib", strconv.Itoa(c.MemoryLimitMiB), "must be 0 (no limit) or between 16 and 1048576")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("log_level", c.LogLevel, "must be debug, info, warn or error")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		add("log_format", c.LogFormat, "must be text or json")
	}
	c.Usage.validate(add)
	c.validateUpdates(add)
	return errors.Join(errs...)
}

// Limits of the update settings.
const (
	minTrialTimeout    = 10 * time.Second
	maxTrialTimeout    = 24 * time.Hour
	maxHealthArgs      = 64
	maxHealthArgLength = 4096
)

func (c Config) validateUpdates(add func(field, value, problem string)) {
	switch c.UpdateRestart {
	case UpdateRestartExec, UpdateRestartExit:
	default:
		add("update_restart", c.UpdateRestart, "must be exec or exit")
	}
	if c.UpdateTrialTimeout < minTrialTimeout || c.UpdateTrialTimeout > maxTrialTimeout {
		add("update_trial_timeout", c.UpdateTrialTimeout.String(), fmt.Sprintf("must be between %s and %s", minTrialTimeout, "24h"))
	}
	if len(c.UpdateHealthCommand) > maxHealthArgs {
		add("update_health_command", "", fmt.Sprintf("has %d arguments, at most %d allowed", len(c.UpdateHealthCommand), maxHealthArgs))
		return
	}
	for i, arg := range c.UpdateHealthCommand {
		field := fmt.Sprintf("update_health_command[%d]", i)
		switch {
		case i == 0 && strings.TrimSpace(arg) == "":
			add(field, "", "the program to run is empty")
		case len(arg) > maxHealthArgLength:
			add(field, "", fmt.Sprintf("has %d bytes, at most %d allowed", len(arg), maxHealthArgLength))
		case strings.ContainsRune(arg, 0):
			add(field, "", "contains a NUL byte")
		}
	}
}

// NormalizedMasters returns the masters as host:port with the default port
// filled in. Call it on a validated Config; it skips entries that do not
// parse.
func (c Config) NormalizedMasters() []string {
	out := make([]string, 0, len(c.Masters))
	for _, m := range c.Masters {
		if n, err := NormalizeMaster(m); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// JoinToken returns the join token from token or token_file, parsed. It
// returns ErrTokenRequired when neither is set; the agent asks for it only when
// the collector is not enrolled yet.
func (c Config) JoinToken() (pki.JoinToken, error) {
	raw := c.Token
	if raw == "" && c.TokenFile != "" {
		b, err := readSmallFile(c.TokenFile, 4096)
		if err != nil {
			return pki.JoinToken{}, fmt.Errorf("config: token_file %q: %w", c.TokenFile, err)
		}
		raw = strings.TrimSpace(string(b))
		if raw == "" {
			return pki.JoinToken{}, fmt.Errorf("config: token_file %q is empty: %w", c.TokenFile, ErrTokenRequired)
		}
	}
	if raw == "" {
		return pki.JoinToken{}, ErrTokenRequired
	}
	tok, err := pki.ParseJoinToken(raw)
	if err != nil {
		return pki.JoinToken{}, fmt.Errorf("config: token: %w", err)
	}
	return tok, nil
}

// NormalizeMaster checks a master address and returns it as host:port, adding
// DefaultMasterPort when the port is missing. The error says what is wrong
// without the address, so callers can put it after their own field name.
func NormalizeMaster(addr string) (string, error) {
	if addr == "" {
		return "", errors.New("is empty")
	}
	if len(addr) > 260 {
		return "", fmt.Errorf("has %d characters, at most 260 allowed", len(addr))
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		// A bare host name or IP (IPv6 without brackets included) gets the
		// default port; anything else is malformed.
		if ip := net.ParseIP(addr); ip != nil {
			return net.JoinHostPort(ip.String(), strconv.Itoa(DefaultMasterPort)), nil
		}
		if strings.ContainsAny(addr, ":[]") {
			return "", errors.New("must be host:port")
		}
		host, port = addr, strconv.Itoa(DefaultMasterPort)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return "", errors.New("invalid port")
	}
	if host == "" {
		return "", errors.New("missing host")
	}
	if ip := net.ParseIP(host); ip != nil {
		return net.JoinHostPort(ip.String(), strconv.Itoa(p)), nil
	}
	if !validHostname(host) {
		return "", errors.New("invalid host name")
	}
	return net.JoinHostPort(strings.ToLower(host), strconv.Itoa(p)), nil
}

// validHostname checks a DNS name: labels of letters, digits and hyphens, not
// starting or ending with a hyphen, 63 bytes each, 253 in all.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// checkLoopback returns what is wrong with a local API address, or "". The
// local API answers anyone who can connect, so it must never be reachable
// from another host.
func checkLoopback(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "must be host:port"
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "invalid port"
	}
	if host == "localhost" {
		return ""
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return "host must be a loopback IP address (127.0.0.1 or ::1) or localhost"
	}
	if ip.IsUnspecified() {
		return "must not listen on all interfaces: the local API is for the product on this host; use 127.0.0.1"
	}
	if !ip.IsLoopback() {
		return "must be a loopback address: the local API is for the product on this host; use 127.0.0.1"
	}
	return ""
}

// errorText reduces a file error to its cause, since the path is already in
// the message.
func errorText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
