package harness

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// Options shape a cluster.
type Options struct {
	LeaseTTL         time.Duration // default 6s
	HeartbeatTimeout time.Duration // default 500ms
	DisableQUIC      bool
	ExtraArgs        []string
	// Env is added to every master's environment (LICMESH_* settings).
	Env []string
	// BinDir, when set, holds each master's own meshd at BinDir/<id>/meshd
	// (tests of updates, which replace a master's binary).
	BinDir string
}

// Cluster is a set of masters sharing one secret.
type Cluster struct {
	t       testing.TB
	Dir     string
	Secret  string
	Opts    Options
	Masters []*Master
}

// Master is one meshd process and its ports.
type Master struct {
	c          *Cluster
	ID         string
	DataDir    string
	APIPort    int
	RaftPort   int
	GossipPort int
	ColPort    int
	// Proc is the current process; read it through Process from any
	// goroutine but the test's own, since Start replaces it.
	Proc   *Proc
	procMu sync.Mutex
	// Args are this master's own extra flags, after the cluster's; set
	// them before a (re)start.
	Args   []string
	Expect int
	Join   []string
	// Bin, when set, is the meshd binary this master runs (a copy of its
	// own, for tests of updates that replace it).
	Bin string
}

// StartCluster starts n masters (1, 3 or 5) that bootstrap together.
func StartCluster(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	if opts.LeaseTTL == 0 {
		opts.LeaseTTL = 6 * time.Second
	}
	if opts.HeartbeatTimeout == 0 {
		opts.HeartbeatTimeout = 500 * time.Millisecond
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	c := &Cluster{t: t, Dir: t.TempDir(), Secret: base64.StdEncoding.EncodeToString(secret), Opts: opts}
	for i := range n {
		m := c.newMaster(fmt.Sprintf("m%d", i+1), n)
		if i > 0 {
			m.Join = []string{c.Masters[0].GossipAddr()}
		}
	}
	for _, m := range c.Masters {
		m.Start()
	}
	t.Cleanup(func() {
		for _, m := range c.Masters {
			if p := m.Process(); p != nil {
				p.Kill()
			}
		}
	})
	DumpOnFailure(t, c.procs()...)
	return c
}

func (c *Cluster) procs() []func() *Proc {
	var out []func() *Proc
	for _, m := range c.Masters {
		out = append(out, m.Process)
	}
	return out
}

func (c *Cluster) newMaster(id string, expect int) *Master {
	c.t.Helper()
	m := &Master{c: c, ID: id, DataDir: filepath.Join(c.Dir, id), Expect: expect}
	for _, p := range []*int{&m.APIPort, &m.RaftPort, &m.GossipPort, &m.ColPort} {
		port, err := FreePort()
		if err != nil {
			c.t.Fatal(err)
		}
		*p = port
	}
	c.Masters = append(c.Masters, m)
	return m
}

// AddMaster starts one more master that joins through the first.
func (c *Cluster) AddMaster(id string) *Master {
	c.t.Helper()
	m := c.newMaster(id, 0)
	m.Join = []string{c.Masters[0].GossipAddr()}
	m.Start()
	return m
}

// Start (re)starts the master's process with its data directory.
func (m *Master) Start() {
	m.c.t.Helper()
	bin, err := Binaries()
	if err != nil {
		m.c.t.Fatal(err)
	}
	args := []string{"run",
		"--node-id", m.ID, "--data-dir", m.DataDir,
		"--bootstrap-expect", fmt.Sprint(m.Expect),
		"--api-addr", m.APIAddr(), "--raft-addr", fmt.Sprintf("127.0.0.1:%d", m.RaftPort),
		"--gossip-addr", m.GossipAddr(), "--collector-addr", m.CollectorAddr(),
		"--lease-ttl", m.c.Opts.LeaseTTL.String(),
		"--heartbeat-timeout", m.c.Opts.HeartbeatTimeout.String(),
		"--election-timeout", m.c.Opts.HeartbeatTimeout.String(),
		"--log-level", "debug",
	}
	for _, j := range m.Join {
		args = append(args, "--join", j)
	}
	if m.c.Opts.DisableQUIC {
		args = append(args, "--disable-quic")
	}
	args = append(args, m.c.Opts.ExtraArgs...)
	args = append(args, m.Args...)
	exe := filepath.Join(bin, "meshd")
	if m.c.Opts.BinDir != "" {
		exe = filepath.Join(m.c.Opts.BinDir, m.ID, "meshd")
	}
	if m.Bin != "" {
		exe = m.Bin
	}
	p, err := StartProc(m.ID, exe, args,
		append([]string{"LICMESH_CLUSTER_SECRET=" + m.c.Secret}, m.c.Opts.Env...), filepath.Join(m.c.Dir, m.ID+".log"))
	if err != nil {
		m.c.t.Fatal(err)
	}
	m.procMu.Lock()
	m.Proc = p
	m.procMu.Unlock()
}

// Process returns the master's current process (nil before Start).
func (m *Master) Process() *Proc {
	m.procMu.Lock()
	defer m.procMu.Unlock()
	return m.Proc
}

// Up reports whether the master's process is running.
func (m *Master) Up() bool {
	p := m.Process()
	return p != nil && p.Running()
}

// APIAddr, GossipAddr and CollectorAddr are the master's loopback addresses.
func (m *Master) APIAddr() string       { return fmt.Sprintf("127.0.0.1:%d", m.APIPort) }
func (m *Master) GossipAddr() string    { return fmt.Sprintf("127.0.0.1:%d", m.GossipPort) }
func (m *Master) CollectorAddr() string { return fmt.Sprintf("127.0.0.1:%d", m.ColPort) }

// CAFile is the cluster CA certificate the master wrote.
func (m *Master) CAFile() string { return filepath.Join(m.DataDir, "ca.pem") }

// AdminToken returns the admin token written by whichever master
// bootstrapped the cluster.
func (c *Cluster) AdminToken() (string, error) {
	for _, m := range c.Masters {
		b, err := os.ReadFile(filepath.Join(m.DataDir, "admin-token"))
		// Only a whole file, which ends its line: a master from before
		// the file was written atomically could be read half-written.
		if tok := strings.TrimSpace(string(b)); err == nil && tok != "" && strings.HasSuffix(string(b), "\n") {
			return tok, nil
		}
	}
	return "", errors.New("harness: no master has written an admin token yet")
}

// Admin returns an admin API client for m.
func (m *Master) Admin() licmeshv1connect.AdminServiceClient {
	m.c.t.Helper()
	hc, err := m.HTTPClient()
	if err != nil {
		m.c.t.Fatal(err)
	}
	tok, err := m.c.AdminToken()
	if err != nil {
		m.c.t.Fatal(err)
	}
	return licmeshv1connect.NewAdminServiceClient(hc, "https://"+m.APIAddr(),
		connect.WithInterceptors(bearer(tok)))
}

// HTTPClient trusts the cluster CA.
func (m *Master) HTTPClient() (*http.Client, error) {
	pem, err := os.ReadFile(m.CAFile())
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}, ForceAttemptHTTP2: true},
	}, nil
}

func bearer(tok string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+tok)
			return next(ctx, req)
		}
	}
}

// Status asks m for its status, with a short timeout.
func (m *Master) Status() (*licmeshv1.GetStatusResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := m.Admin().GetStatus(ctx, connect.NewRequest(&licmeshv1.GetStatusRequest{}))
	if err != nil {
		return nil, err
	}
	return r.Msg, nil
}

// WaitReady waits until every running master knows a leader and the
// identity has been bootstrapped, and returns the leader.
func (c *Cluster) WaitReady(timeout time.Duration) *Master {
	c.t.Helper()
	var leader *Master
	err := poll(timeout, func() error {
		if len(c.Running()) == 0 {
			return errors.New("every master has exited")
		}
		if _, err := c.AdminToken(); err != nil {
			return err
		}
		leader = nil
		for _, m := range c.Masters {
			if !m.Up() {
				continue
			}
			st, err := m.Status()
			if err != nil {
				return fmt.Errorf("%s: %w", m.ID, err)
			}
			if st.LeaderId == "" {
				return fmt.Errorf("%s knows no leader", m.ID)
			}
			if st.State == "leader" {
				leader = m
			}
		}
		if leader == nil {
			return errors.New("no leader")
		}
		return nil
	})
	if err != nil {
		c.t.Fatalf("cluster not ready after %s: %v", timeout, err)
	}
	return leader
}

// Leader returns the master that says it leads, or nil.
func (c *Cluster) Leader() *Master {
	for _, m := range c.Masters {
		if !m.Up() {
			continue
		}
		if st, err := m.Status(); err == nil && st.State == "leader" {
			return m
		}
	}
	return nil
}

// Running returns the masters whose process is up.
func (c *Cluster) Running() []*Master {
	var out []*Master
	for _, m := range c.Masters {
		if m.Up() {
			out = append(out, m)
		}
	}
	return out
}

// Meshctl runs meshctl against m and returns its stdout, stderr and exit code.
func (m *Master) Meshctl(args ...string) (string, string, int) {
	m.c.t.Helper()
	bin, err := Binaries()
	if err != nil {
		m.c.t.Fatal(err)
	}
	tok, _ := m.c.AdminToken()
	return RunCmd(filepath.Join(bin, "meshctl"), append([]string{"--addr", "https://" + m.APIAddr(), "--ca", m.CAFile()}, args...),
		[]string{"LICMESH_TOKEN=" + tok})
}
