package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sync/errgroup"

	"github.com/licmesh/licmesh/e2e/harness"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// pollInterval is how often MeshCluster checks a condition it waits for.
const pollInterval = 50 * time.Millisecond

// MeshCluster is a cluster of real meshd processes on loopback, started
// through the e2e harness with the Raft timings of the B1 baseline, seen
// only through its public APIs: the admin API (HTTPS, admin token), the
// collector protocol and /metrics. Its methods are safe for concurrent use,
// except Kill and Restart, which one goroutine calls between measurements.
type MeshCluster struct {
	cfg   MeshConfig
	tb    *harness.ProgramTB
	c     *harness.Cluster
	ca    *x509.Certificate
	https *http.Client
	token string // the admin token, for /debug/pprof
	admin []licmeshv1connect.AdminServiceClient
}

// StartMesh starts cfg.Mesh.Masters masters that bootstrap together, with
// cfg.Raft's heartbeat and election timeouts and any extra meshd flags, and
// waits until they agree on a leader. The caller must Close the cluster.
func StartMesh(ctx context.Context, cfg Config, extra ...string) (*MeshCluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	mc := cfg.Mesh
	m := &MeshCluster{cfg: mc, tb: harness.NewProgramTB("mesh", cfg.Dir, mc.Log)}
	err := m.tb.Do(func() {
		m.c = harness.StartCluster(m.tb, mc.Masters, harness.Options{
			LeaseTTL:         mc.LeaseTTL,
			HeartbeatTimeout: cfg.Raft.HeartbeatTimeout,
			// Later flags win: the election timeout of B1, and the log level
			// of production, since debug lines cost throughput.
			ExtraArgs: append([]string{"--election-timeout", cfg.Raft.ElectionTimeout.String(), "--log-level", "info"}, extra...),
		})
	})
	if err == nil {
		err = m.init(ctx)
	}
	if err != nil {
		err = fmt.Errorf("%w: start cluster: %w", ErrMesh, err)
		m.CloseAfter(err)
		return nil, err
	}
	return m, nil
}

// init waits for the identity files and a leader, then builds the clients.
func (m *MeshCluster) init(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.StartTimeout)
	defer cancel()
	var token string
	err := poll(ctx, func() error {
		tok, err := m.c.AdminToken()
		if err != nil {
			return err
		}
		for _, ms := range m.c.Masters {
			if _, err := os.Stat(ms.CAFile()); err != nil {
				return err
			}
		}
		token = tok
		return nil
	})
	m.token = token
	if err != nil {
		return err
	}
	b, err := os.ReadFile(m.c.Masters[0].CAFile())
	if err != nil {
		return err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return fmt.Errorf("%s holds no PEM block", m.c.Masters[0].CAFile())
	}
	if m.ca, err = x509.ParseCertificate(block.Bytes); err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(m.ca)
	m.https = &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}}
	auth := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}))
	for _, ms := range m.c.Masters {
		m.admin = append(m.admin, licmeshv1connect.NewAdminServiceClient(m.https, "https://"+ms.APIAddr(), auth))
	}
	_, err = m.WaitWhole(ctx)
	return err
}

// CloseAfter closes the cluster at the end of a measurement that returned
// err; when err is not nil, the tail of each master's log goes to
// MeshConfig.Log first.
func (m *MeshCluster) CloseAfter(err error) {
	if err != nil {
		m.tb.Logf("measurement failed: %v", err)
		m.tb.Fail() // DumpOnFailure prints the logs during Close
	}
	m.Close()
}

// Close kills every master and removes their data.
func (m *MeshCluster) Close() {
	m.tb.Close()
	if m.https != nil {
		m.https.CloseIdleConnections()
	}
}

// Masters returns the number of masters.
func (m *MeshCluster) Masters() int { return len(m.c.Masters) }

// CA returns the cluster CA certificate.
func (m *MeshCluster) CA() *x509.Certificate { return m.ca }

// CollectorAddr returns master i's collector protocol address.
func (m *MeshCluster) CollectorAddr(i int) string { return m.c.Masters[i].CollectorAddr() }

// Running reports whether master i's process is up.
func (m *MeshCluster) Running(i int) bool {
	p := m.c.Masters[i].Proc
	return p != nil && p.Running()
}

// CPU returns the CPU time the running masters' processes have used. A
// restarted master starts again from zero, so compare only spans without
// restarts.
func (m *MeshCluster) CPU() (time.Duration, error) {
	var sum time.Duration
	for i, ms := range m.c.Masters {
		if !m.Running(i) {
			continue
		}
		d, err := processCPU(ms.Proc.Pid())
		if err != nil {
			return 0, fmt.Errorf("%w: cpu of %s: %w", ErrMesh, ms.ID, err)
		}
		sum += d
	}
	return sum, nil
}

// Status asks master i for its status.
func (m *MeshCluster) Status(ctx context.Context, i int) (*licmeshv1.GetStatusResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.CallTimeout)
	defer cancel()
	r, err := m.admin[i].GetStatus(ctx, connect.NewRequest(&licmeshv1.GetStatusRequest{}))
	if err != nil {
		return nil, fmt.Errorf("%w: status of %s: %w", ErrMesh, m.c.Masters[i].ID, err)
	}
	return r.Msg, nil
}

// WaitWhole waits until every master runs, all agree on one leader with
// every master a voter, and each has applied what the leader had committed
// when it was asked. It returns the leader's index.
func (m *MeshCluster) WaitWhole(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.StartTimeout)
	defer cancel()
	leader := -1
	err := poll(ctx, func() error {
		leader = -1
		sts := make([]*licmeshv1.GetStatusResponse, len(m.c.Masters))
		for i := range m.c.Masters {
			if !m.Running(i) {
				return fmt.Errorf("%s is not running", m.c.Masters[i].ID)
			}
			st, err := m.Status(ctx, i)
			if err != nil {
				return err
			}
			sts[i] = st
			if st.State == "leader" {
				leader = i
			}
		}
		if leader < 0 {
			return errors.New("no master is leader")
		}
		lead := sts[leader]
		for _, st := range sts {
			if st.LeaderId != lead.NodeId {
				return fmt.Errorf("%s follows %q, not %s", st.NodeId, st.LeaderId, lead.NodeId)
			}
			if int(st.Voters) != len(m.c.Masters) {
				return fmt.Errorf("%s counts %d voters", st.NodeId, st.Voters)
			}
		}
		// Asked again after the leader, each follower must have applied at
		// least what the leader had committed.
		for i := range m.c.Masters {
			if i == leader {
				continue
			}
			st, err := m.Status(ctx, i)
			if err != nil {
				return err
			}
			if st.AppliedIndex < lead.CommitIndex {
				return fmt.Errorf("%s applied %d, leader had committed %d", st.NodeId, st.AppliedIndex, lead.CommitIndex)
			}
		}
		return nil
	})
	if err != nil {
		return -1, fmt.Errorf("%w: cluster not whole: %w", ErrMesh, err)
	}
	return leader, nil
}

// Leader returns the index and status of the master that says it leads.
func (m *MeshCluster) Leader(ctx context.Context) (int, *licmeshv1.GetStatusResponse, error) {
	for i := range m.c.Masters {
		if !m.Running(i) {
			continue
		}
		if st, err := m.Status(ctx, i); err == nil && st.State == "leader" {
			return i, st, nil
		}
	}
	return -1, nil, fmt.Errorf("%w: no master says it leads", ErrMesh)
}

// CreatePool creates a hard-limit pool.
func (m *MeshCluster) CreatePool(ctx context.Context, name string, seats int) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.CallTimeout)
	defer cancel()
	_, err := m.admin[0].CreatePool(ctx, connect.NewRequest(&licmeshv1.CreatePoolRequest{
		Name: name, Seats: uint32(seats), Enforce: "hard",
	}))
	if err != nil {
		return fmt.Errorf("%w: create pool %s: %w", ErrMesh, name, err)
	}
	return nil
}

// EnrollCollectors enrolls n collectors with one join token; collector i
// enrolls at, and is meant to talk to, master i mod Masters.
func (m *MeshCluster) EnrollCollectors(ctx context.Context, n int) ([]*Collector, error) {
	tctx, cancel := context.WithTimeout(ctx, m.cfg.CallTimeout)
	defer cancel()
	r, err := m.admin[0].CreateToken(tctx, connect.NewRequest(&licmeshv1.CreateTokenRequest{
		Role: "collector", TtlSeconds: 3600, MaxUses: uint32(n),
	}))
	if err != nil {
		return nil, fmt.Errorf("%w: create join token: %w", ErrMesh, err)
	}
	tok, err := ParseJoinToken(r.Msg.SecretToken)
	if err != nil {
		return nil, err
	}
	cols := make([]*Collector, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range cols {
		g.Go(func() error {
			ectx, cancel := context.WithTimeout(gctx, m.cfg.CallTimeout)
			defer cancel()
			c, err := Enroll(ectx, m.CollectorAddr(i%m.Masters()), m.ca, tok, fmt.Sprintf("bench-%d", i))
			cols[i] = c
			return err
		})
	}
	if err := g.Wait(); err != nil {
		closeCollectors(cols)
		return nil, err
	}
	return cols, nil
}

func closeCollectors(cols []*Collector) {
	for _, c := range cols {
		if c != nil {
			_ = c.Close()
		}
	}
}

// Kill sends SIGKILL to master i and waits for it to exit.
func (m *MeshCluster) Kill(i int) { m.c.Masters[i].Proc.Kill() }

// Restart starts master i again on its data directory and ports.
func (m *MeshCluster) Restart(i int) error {
	if err := m.tb.Do(m.c.Masters[i].Start); err != nil {
		return fmt.Errorf("%w: restart %s: %w", ErrMesh, m.c.Masters[i].ID, err)
	}
	return nil
}

// Metrics scrapes master i's /metrics and returns every sample without
// labels (and every labelled one under its full series name) by name.
func (m *MeshCluster) Metrics(ctx context.Context, i int) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.CallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+m.c.Masters[i].APIAddr()+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := m.https.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: metrics of %s: %w", ErrMesh, m.c.Masters[i].ID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: metrics of %s: %s", ErrMesh, m.c.Masters[i].ID, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// Profile fetches master i's CPU profile over the next d, and then its
// allocation and goroutine profiles, into dir as <name>-cpu.pprof,
// <name>-allocs.pprof and <name>-goroutine.txt (read the first two with go
// tool pprof; the last is the goroutines' stacks, grouped, as text).
func (m *MeshCluster) Profile(ctx context.Context, i int, d time.Duration, dir, name string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	secs := max(1, int(d/time.Second))
	for _, p := range []struct{ path, file string }{
		{fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), name + "-cpu.pprof"},
		{"/debug/pprof/allocs", name + "-allocs.pprof"},
		{"/debug/pprof/goroutine?debug=1", name + "-goroutine.txt"},
	} {
		if err := m.fetchTo(ctx, i, p.path, filepath.Join(dir, p.file), time.Duration(secs)*time.Second+m.cfg.CallTimeout); err != nil {
			return err
		}
	}
	return nil
}

func (m *MeshCluster) fetchTo(ctx context.Context, i int, path, file string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+m.c.Masters[i].APIAddr()+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+m.token)
	resp, err := m.https.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s of %s: %w", ErrMesh, path, m.c.Masters[i].ID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s of %s: %s", ErrMesh, path, m.c.Masters[i].ID, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// parseMetrics reads the Prometheus text format's samples, ignoring
// comments and timestamps.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// The value follows the series, whose labels may hold spaces; an
		// optional timestamp follows the value.
		name, rest := line, ""
		if cut := strings.LastIndexByte(line, '}'); cut >= 0 {
			name, rest = line[:cut+1], line[cut+1:]
		} else if i := strings.IndexAny(line, " \t"); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out[name] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: read metrics: %w", ErrMesh, err)
	}
	return out, nil
}

// poll calls cond every pollInterval until it returns nil or ctx ends, and
// then returns cond's last error.
func poll(ctx context.Context, cond func() error) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// newCollector is harness.NewCollector at the log level of production, as
// the masters run: the harness's debug lines cost collectord CPU that the
// measurements would count (a line per seat granted, in G2).
func newCollector(tb testing.TB, name string, masters []string, token, extraYAML string) *harness.Collector {
	c := harness.NewCollector(tb, name, masters, token, extraYAML)
	c.Args = append(c.Args, "--log-level", "info")
	return c
}
