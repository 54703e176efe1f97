package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
)

// Environment variables that stand in for the hub flags.
const (
	envHubAddr        = "LICMESH_HUB_ADDR"
	envHubKey         = "LICMESH_HUB_KEY"
	envHubKeyFile     = "LICMESH_HUB_KEY_FILE"
	envHubCA          = "LICMESH_HUB_CA"
	envHubFingerprint = "LICMESH_HUB_FINGERPRINT"
)

// hubKeyPrefix starts every hub API key ("lmh1.<key id>.<secret>").
const hubKeyPrefix = "lmh1."

// hubConfig is how meshctl reaches the vendor hub: the hub flags after the
// environment has filled in those not given. It is separate from config,
// the master's: the hub is another server with other credentials.
type hubConfig struct {
	// Addr is the hub's base URL; a bare host:port means https.
	Addr string
	// Key is the hub API key (lmh1...) sent as a bearer token.
	Key string
	// KeyFile holds the API key, read when Key is empty.
	KeyFile string
	// CAFile is a PEM file of the hub's certificate or of the CA that
	// signed it; empty means the system roots.
	CAFile string
	// Fingerprint pins the SHA-256 of the hub's certificate (the one
	// `hubd init` printed), for the hub's self-signed certificate.
	Fingerprint string

	// defaultKeyFile is where `hub login` writes the key and where the
	// other commands look for one when none is given.
	defaultKeyFile string
}

// defaultHubConfig is the hub on its default port, on this host.
func defaultHubConfig(getenv func(string) string) hubConfig {
	return hubConfig{Addr: "https://127.0.0.1:7500", defaultKeyFile: defaultHubKeyFile(getenv)}
}

// defaultHubKeyFile is ~/.config/licmesh/hub-key, or under
// $XDG_CONFIG_HOME when it is set; empty when there is no home either.
func defaultHubKeyFile(getenv func(string) string) string {
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "licmesh", "hub-key")
}

// bindFlags registers the hub flags on fs, writing into c.
func (c *hubConfig) bindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Addr, "hub-addr", c.Addr, "hub API URL (env "+envHubAddr+")")
	fs.StringVar(&c.Key, "hub-key", "", "hub API key, lmh1... (env "+envHubKey+")")
	fs.StringVar(&c.KeyFile, "hub-key-file", "", "file holding the hub API key; default: the one meshctl hub login wrote (env "+envHubKeyFile+")")
	fs.StringVar(&c.CAFile, "hub-ca", "", "PEM file of the hub's certificate or its CA; default: system roots (env "+envHubCA+")")
	fs.StringVar(&c.Fingerprint, "hub-fingerprint", "", "pin the SHA-256 fingerprint of the hub's certificate, as hubd init printed it (env "+envHubFingerprint+")")
}

// applyEnv fills in, from the environment, each hub flag not given on the
// command line. A key flag of either kind beats both key variables.
func (c *hubConfig) applyEnv(fs *pflag.FlagSet, getenv func(string) string) {
	for _, v := range []struct {
		flag, env string
		dst       *string
	}{
		{"hub-addr", envHubAddr, &c.Addr},
		{"hub-ca", envHubCA, &c.CAFile},
		{"hub-fingerprint", envHubFingerprint, &c.Fingerprint},
	} {
		if s := getenv(v.env); s != "" && !fs.Changed(v.flag) {
			*v.dst = s
		}
	}
	if !fs.Changed("hub-key") && !fs.Changed("hub-key-file") {
		if v := getenv(envHubKey); v != "" {
			c.Key = v
		} else if v := getenv(envHubKeyFile); v != "" {
			c.KeyFile = v
		}
	}
}

// validate checks the settings that need no I/O, and normalizes Addr.
func (c *hubConfig) validate() error {
	addr, err := normalizeHubAddr(c.Addr)
	if err != nil {
		return err
	}
	c.Addr = addr
	if c.Key != "" && c.KeyFile != "" {
		return usagef("give --hub-key or --hub-key-file, not both")
	}
	if c.Fingerprint != "" {
		if _, err := parseFingerprint(c.Fingerprint); err != nil {
			return usagef("--hub-fingerprint: %v", err)
		}
	}
	return nil
}

// normalizeHubAddr turns --hub-addr into a base URL for the hub client.
func normalizeHubAddr(s string) (string, error) {
	return httpsBaseURL(s, "--hub-addr", "the hub API", "meshctl hub login or --hub-key")
}

// keySource says where loadKey will take the key from, for messages.
func (c *hubConfig) keySource() string {
	switch {
	case c.Key != "":
		return "--hub-key"
	case c.KeyFile != "":
		return "--hub-key-file " + c.KeyFile
	default:
		return c.defaultKeyFile
	}
}

// loadKey returns the hub API key from --hub-key, --hub-key-file or the
// file `hub login` wrote.
func (c *hubConfig) loadKey() (string, error) {
	key, source := c.Key, "--hub-key"
	if key == "" {
		path := c.KeyFile
		source = "--hub-key-file " + path
		if path == "" {
			path, source = c.defaultKeyFile, c.defaultKeyFile
		}
		if path == "" {
			return "", usagef("no hub API key: give --hub-key or --hub-key-file, set %s, or run meshctl hub login", envHubKey)
		}
		b, err := readSmallFile(path)
		if err != nil {
			if c.KeyFile == "" {
				return "", usagef("no hub API key: give --hub-key or --hub-key-file, set %s, or run meshctl hub login (%v)", envHubKey, err)
			}
			return "", usagef("--hub-key-file: %v", err)
		}
		key = strings.TrimSpace(string(b))
		if key == "" {
			return "", usagef("%s is empty", source)
		}
	}
	if err := checkHubKey(key); err != nil {
		// Say where, not what: the key must never be printed.
		return "", usagef("the hub API key from %s %v", source, err)
	}
	return key, nil
}

// checkHubKey checks a key's form without ever quoting it.
func checkHubKey(key string) error {
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] >= 0x7f {
			return fmt.Errorf("has a character that cannot be sent (at byte %d)", i)
		}
	}
	if !strings.HasPrefix(key, hubKeyPrefix) {
		return fmt.Errorf("is not a hub API key (those start with %s)", hubKeyPrefix)
	}
	return nil
}

// hubKeyID is the public ID part of an API key ("key_..."), or "".
func hubKeyID(key string) string {
	rest, ok := strings.CutPrefix(key, hubKeyPrefix)
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, ".")
	if !ok {
		return ""
	}
	return id
}

// tlsConfig verifies the hub: against CAFile or the system roots, and, with
// a pinned fingerprint, by that fingerprint. A pin alone trusts exactly the
// certificate it names, so chain verification is skipped only then.
func (c *hubConfig) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		b, err := readSmallFile(c.CAFile)
		if err != nil {
			return nil, usagef("--hub-ca: %v", err)
		}
		if !bytes.Contains(b, []byte("-----BEGIN CERTIFICATE-----")) {
			return nil, usagef("--hub-ca %s: no PEM certificate in the file", c.CAFile)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, usagef("--hub-ca %s: no certificate in the file could be parsed", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if c.Fingerprint == "" {
		return cfg, nil
	}
	want, err := parseFingerprint(c.Fingerprint)
	if err != nil {
		return nil, usagef("--hub-fingerprint: %v", err)
	}
	// No session cache: every connection runs VerifyPeerCertificate.
	cfg.InsecureSkipVerify = c.CAFile == ""
	cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return &fingerprintMismatchError{want: want}
		}
		got := sha256.Sum256(raw[0])
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return &fingerprintMismatchError{got: got, want: want}
		}
		return nil
	}
	return cfg, nil
}

// fingerprintMismatchError is a hub whose certificate is not the pinned one.
type fingerprintMismatchError struct{ got, want [sha256.Size]byte }

func (e *fingerprintMismatchError) Error() string {
	var zero [sha256.Size]byte
	if e.got == zero {
		return "fingerprint mismatch: the hub presented no certificate"
	}
	return fmt.Sprintf("fingerprint mismatch: the hub's certificate is SHA-256 %s, --hub-fingerprint pins %s",
		formatFingerprint(e.got), formatFingerprint(e.want))
}

// parseFingerprint reads a SHA-256 fingerprint as hubd prints it (hex pairs
// joined by colons), or as plain hex, in either case.
func parseFingerprint(s string) ([sha256.Size]byte, error) {
	var fp [sha256.Size]byte
	h := strings.TrimSpace(s)
	h = strings.TrimPrefix(strings.TrimPrefix(h, "sha256:"), "SHA256:")
	h = strings.ReplaceAll(h, ":", "")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return fp, fmt.Errorf("want the SHA-256 fingerprint hubd init printed, 32 hex pairs (AB:12:...:EF)")
	}
	copy(fp[:], b)
	return fp, nil
}

// formatFingerprint writes fp as hubd does: upper-case hex pairs and colons.
func formatFingerprint(fp [sha256.Size]byte) string {
	parts := make([]string, len(fp))
	for i, b := range fp {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}
