package harness

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Collector is one collectord process with its local API on loopback.
type Collector struct {
	t       testing.TB
	Name    string
	Dir     string
	Port    int
	Masters []string
	Token   string
	Env     []string
	// Args are added to `collectord run` at each Start.
	Args []string
	// Bin, when set, is the collectord binary this collector runs.
	Bin  string
	Proc *Proc
	hc   *http.Client
}

// StartCollector writes a config for a collector that enrolls with token
// against masters, and starts it.
func StartCollector(t testing.TB, name string, masters []string, token string, env ...string) *Collector {
	t.Helper()
	return StartCollectorWith(t, name, masters, token, "", env...)
}

// StartCollectorWith is StartCollector with extra YAML appended to the
// config (a usage section, for one).
func StartCollectorWith(t testing.TB, name string, masters []string, token, extraYAML string, env ...string) *Collector {
	t.Helper()
	c := NewCollector(t, name, masters, token, extraYAML, env...)
	c.Start()
	return c
}

// NewCollector is StartCollectorWith without the start: set Bin or Args,
// then Start.
func NewCollector(t testing.TB, name string, masters []string, token, extraYAML string, env ...string) *Collector {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	c := &Collector{t: t, Name: name, Dir: filepath.Join(t.TempDir(), name), Port: port, Masters: masters, Token: token, Env: env,
		hc: &http.Client{Timeout: 15 * time.Second}}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "masters:\n")
	for _, m := range masters {
		fmt.Fprintf(&b, "  - %s\n", m)
	}
	fmt.Fprintf(&b, "token: %s\ndata_dir: %s\nlisten: 127.0.0.1:%d\nsocket: \"\"\nlog_level: debug\nrequest_timeout: 3s\n",
		token, filepath.Join(c.Dir, "data"), port)
	b.WriteString(extraYAML)
	if err := os.WriteFile(filepath.Join(c.Dir, "collectord.yaml"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.Proc != nil {
			c.Proc.Kill()
		}
	})
	DumpOnFailure(t, func() *Proc { return c.Proc })
	return c
}

// Start (re)starts the process.
func (c *Collector) Start() {
	c.t.Helper()
	bin, err := Binaries()
	if err != nil {
		c.t.Fatal(err)
	}
	exe := filepath.Join(bin, "collectord")
	if c.Bin != "" {
		exe = c.Bin
	}
	p, err := StartProc(c.Name, exe,
		append([]string{"run", "-c", filepath.Join(c.Dir, "collectord.yaml")}, c.Args...), c.Env, filepath.Join(c.Dir, "collectord.log"))
	if err != nil {
		c.t.Fatal(err)
	}
	c.Proc = p
}

// Lease is a lease as the collector's local API shows it.
type Lease struct {
	ID          uint64 `json:"id"`
	Pool        string `json:"pool"`
	Holder      string `json:"holder"`
	Fence       uint64 `json:"fence"`
	Token       string `json:"token"`
	State       string `json:"state"`
	Valid       bool   `json:"valid"`
	RemainingMS int64  `json:"remaining_ms"`
	Reason      string `json:"reason"`
	GraceMS     int64  `json:"grace_ms"`
	Borrowed    bool   `json:"borrowed"`
	ValidUntil  string `json:"valid_until"`
}

// APIError is an error answer of the local API.
type APIError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"error"`
}

func (e *APIError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func (c *Collector) do(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", c.Port, path), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode >= 300 {
		e := &APIError{Status: resp.StatusCode}
		_ = json.Unmarshal(data, e)
		if e.Message == "" {
			e.Message = string(data)
		}
		return e
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// UseClient makes the local API calls through hc (a load generator's
// client, with enough idle connections for its workers).
func (c *Collector) UseClient(hc *http.Client) { c.hc = hc }

// Acquire asks the collector for a seat in pool for holder.
func (c *Collector) Acquire(pool, holder string) (Lease, error) {
	var l Lease
	err := c.do("POST", "/v1/leases", map[string]string{"pool": pool, "holder": holder}, &l)
	return l, err
}

// Borrow asks the collector to lend holder a seat of pool for d ("72h",
// "3d").
func (c *Collector) Borrow(pool, holder, d string) (Lease, error) {
	var l Lease
	err := c.do("POST", "/v1/leases/borrow", map[string]string{"pool": pool, "holder": holder, "duration": d}, &l)
	return l, err
}

// ErrPending is returned by Release when the collector accepted the release
// but no master has confirmed it yet (202): it may apply at any time.
var ErrPending = errors.New("harness: release pending")

// Release gives a lease back.
func (c *Collector) Release(id uint64) error {
	var out struct {
		Pending bool `json:"pending"`
	}
	if err := c.do("DELETE", fmt.Sprintf("/v1/leases/%d", id), nil, &out); err != nil {
		return err
	}
	if out.Pending {
		return ErrPending
	}
	return nil
}

// Leases lists what the collector holds.
func (c *Collector) Leases() ([]Lease, error) {
	var out struct {
		Leases []Lease `json:"leases"`
	}
	err := c.do("GET", "/v1/leases", nil, &out)
	return out.Leases, err
}

// Status returns the collector's status document.
func (c *Collector) Status() (map[string]any, error) {
	var out map[string]any
	err := c.do("GET", "/v1/status", nil, &out)
	return out, err
}

// Verify asks the collector to verify a lease token.
func (c *Collector) Verify(token string) (map[string]any, error) {
	var out map[string]any
	err := c.do("POST", "/v1/verify", map[string]string{"token": token}, &out)
	return out, err
}

// WaitReady waits until the collector has enrolled and reached a master.
func (c *Collector) WaitReady(timeout time.Duration) {
	c.t.Helper()
	err := poll(timeout, func() error {
		if !c.Proc.Running() {
			return fmt.Errorf("collector %s exited: %v", c.Name, c.Proc.exitErr())
		}
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/readyz", c.Port), nil)
		resp, err := c.hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("readyz: %d", resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		c.t.Fatalf("collector %s not ready: %v", c.Name, err)
	}
}

// CollectorAddrs lists every master's collector address.
func (c *Cluster) CollectorAddrs() []string {
	var out []string
	for _, m := range c.Masters {
		out = append(out, m.CollectorAddr())
	}
	return out
}

// JoinToken makes a collector join token through m.
func (m *Master) JoinToken(uses int) string {
	m.c.t.Helper()
	out, errOut, code := m.Meshctl("token", "create", "--role", "collector", "--ttl", "1h", "--uses", fmt.Sprint(uses))
	if code != 0 {
		m.c.t.Fatalf("token create: %s", errOut)
	}
	return strings.TrimSpace(out)
}

// Feature is the collector's answer to a feature check.
type Feature struct {
	Feature    string    `json:"feature"`
	Enabled    bool      `json:"enabled"`
	License    string    `json:"license_id"`
	ValidUntil time.Time `json:"valid_until"`
	Reason     string    `json:"reason"`
}

// Feature asks the collector whether a feature is on (for product sku if
// not empty).
func (c *Collector) Feature(name, sku string) (Feature, error) {
	var f Feature
	path := "/v1/features/" + name
	if sku != "" {
		path += "?product=" + sku
	}
	err := c.do("GET", path, nil, &f)
	return f, err
}

// Entitlements returns the collector's entitlements as its API shows them.
func (c *Collector) Entitlements() (map[string]any, error) {
	var out map[string]any
	err := c.do("GET", "/v1/entitlements", nil, &out)
	return out, err
}

// Consume spends usage credits through the collector.
func (c *Collector) Consume(unit string, amount int64) (map[string]any, error) {
	var out map[string]any
	err := c.do("POST", "/v1/credits/consume", map[string]any{"unit": unit, "amount": amount}, &out)
	return out, err
}

// DataDir is the collector's data directory.
func (c *Collector) DataDir() string { return filepath.Join(c.Dir, "data") }

// Get decodes the JSON answer of a GET on the collector's local API.
func (c *Collector) Get(path string, out any) error { return c.do("GET", path, nil, out) }

// ClientTLS is a TLS configuration with the collector's own certificate
// and its cluster CA, read from its data directory as collectord wrote
// them: a test speaks the collector protocol as that host could.
func (c *Collector) ClientTLS() (*tls.Config, error) {
	dir := c.DataDir()
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, fmt.Errorf("harness: collector %s identity: %w", c.Name, err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, fmt.Errorf("harness: collector %s CA: %w", c.Name, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("harness: collector %s: no certificate in ca.pem", c.Name)
	}
	return &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, Certificates: []tls.Certificate{cert}}, nil
}
