package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/licmesh/licmesh/mesh/confload"
)

// Environment variables that stand in for the global flags.
const (
	envAddr      = "LICMESH_ADDR"
	envToken     = "LICMESH_TOKEN"
	envTokenFile = "LICMESH_TOKEN_FILE"
	envCA        = "LICMESH_CA"
	envTimeout   = "LICMESH_TIMEOUT"
)

// maxFileBytes bounds what meshctl reads from a token or CA file, so a
// wrong path (a log, a device) fails fast instead of filling memory.
const maxFileBytes = 1 << 20

// config is how meshctl reaches a master: the global flags after the
// environment has filled in those not given.
type config struct {
	// Addr is the master's admin API base URL; a bare host:port means https.
	Addr string
	// Token is the admin token sent as a bearer token.
	Token string
	// TokenFile is a file holding the admin token, read when Token is empty.
	TokenFile string
	// CAFile is a PEM file of the cluster CA; empty means the system roots.
	CAFile string
	// Timeout bounds each call to the master, connection included.
	Timeout time.Duration
}

// defaultConfig is meshctl's configuration when nothing is given.
func defaultConfig() config {
	return config{
		Addr:    "https://127.0.0.1:7400",
		Timeout: 10 * time.Second,
	}
}

// bindFlags registers the global flags on fs, writing into c.
func (c *config) bindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "master admin API URL (env "+envAddr+")")
	fs.StringVar(&c.Token, "token", "", "admin token (env "+envToken+")")
	fs.StringVar(&c.TokenFile, "token-file", "", "file holding the admin token (env "+envTokenFile+")")
	fs.StringVar(&c.CAFile, "ca", "", "PEM file of the cluster CA that signed the master's certificate; default: system roots (env "+envCA+")")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "time limit for each call to a master or the hub (env "+envTimeout+")")
}

// applyEnv fills in, from the environment, each global flag not given on
// the command line. A token flag of either kind beats both token variables.
func (c *config) applyEnv(fs *pflag.FlagSet, getenv func(string) string) error {
	if v := getenv(envAddr); v != "" && !fs.Changed("addr") {
		c.Addr = v
	}
	if v := getenv(envCA); v != "" && !fs.Changed("ca") {
		c.CAFile = v
	}
	if v := getenv(envTimeout); v != "" && !fs.Changed("timeout") {
		d, err := time.ParseDuration(v)
		if err != nil {
			return usagef("%s=%q is not a duration (like 10s or 1m)", envTimeout, v)
		}
		c.Timeout = d
	}
	if !fs.Changed("token") && !fs.Changed("token-file") {
		if v := getenv(envToken); v != "" {
			c.Token = v
		} else if v := getenv(envTokenFile); v != "" {
			c.TokenFile = v
		}
	}
	return nil
}

// validate checks the settings that need no I/O, and normalizes Addr.
func (c *config) validate() error {
	addr, err := normalizeAddr(c.Addr)
	if err != nil {
		return err
	}
	c.Addr = addr
	if c.Timeout <= 0 {
		return usagef("--timeout must be positive, got %s", c.Timeout)
	}
	if c.Token != "" && c.TokenFile != "" {
		return usagef("give --token or --token-file, not both")
	}
	return nil
}

// normalizeAddr turns --addr into a base URL for the admin client.
func normalizeAddr(s string) (string, error) {
	return httpsBaseURL(s, "--addr", "the admin API", "--token")
}

// httpsBaseURL turns the address given with flag into a base URL. Only
// https is accepted: credentials must not cross the network in clear. api
// names what the address serves; credentials, how to give them instead.
func httpsBaseURL(s, flag, api, credentials string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", usagef("%s is empty", flag)
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		// url's error quotes the address, which may hold a password.
		return "", usagef("%s is not a URL", flag)
	case u.User != nil:
		return "", usagef("%s must not carry a user name or password; use %s", flag, credentials)
	case u.Scheme != "https":
		return "", usagef("%s %q: %s is served over https only", flag, s, api)
	case u.Host == "":
		return "", usagef("%s %q has no host", flag, s)
	case u.RawQuery != "" || u.Fragment != "":
		return "", usagef("%s %q must not have a query or fragment", flag, s)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// loadToken returns the admin token from --token or --token-file.
func (c *config) loadToken() (string, error) {
	token := c.Token
	source := "--token"
	if token == "" && c.TokenFile != "" {
		b, err := readSmallFile(c.TokenFile)
		if err != nil {
			return "", usagef("--token-file: %v", err)
		}
		token = strings.TrimSpace(string(b))
		source = "--token-file " + c.TokenFile
		if token == "" {
			return "", usagef("%s is empty", source)
		}
	}
	if token == "" {
		return "", usagef("no admin token: give --token or --token-file, or set %s", envToken)
	}
	for i := 0; i < len(token); i++ {
		if token[i] <= ' ' || token[i] >= 0x7f {
			// Say where, not what: the token must never be printed.
			return "", usagef("the admin token from %s has a character that cannot be sent (at byte %d)", source, i)
		}
	}
	return token, nil
}

// tlsConfig verifies the master against the cluster CA in CAFile, or the
// system roots when there is none.
func (c *config) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile == "" {
		return cfg, nil
	}
	b, err := readSmallFile(c.CAFile)
	if err != nil {
		return nil, usagef("--ca: %v", err)
	}
	if !bytes.Contains(b, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, usagef("--ca %s: no PEM certificate in the file", c.CAFile)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, usagef("--ca %s: no certificate in the file could be parsed", c.CAFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// transport is the HTTP transport for the admin client. HTTP/2 has to be
// asked for because the TLS config is our own.
func (c *config) transport(tlsCfg *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tlsCfg,
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: c.Timeout,
		MaxIdleConns:        4,
		IdleConnTimeout:     30 * time.Second,
	}
}

// readSmallFile reads a file of at most maxFileBytes.
func readSmallFile(path string) ([]byte, error) { return confload.ReadFile(path, maxFileBytes) }

// readInput reads a file or, for "-", standard input, of at most limit
// bytes.
func readInput(path string, limit int64) ([]byte, error) {
	if path != "-" {
		return confload.ReadFile(path, limit)
	}
	b, err := io.ReadAll(io.LimitReader(os.Stdin, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("standard input holds more than %d bytes", limit)
	}
	return b, nil
}
