package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/collectors/config"
	"github.com/licmesh/licmesh/collectors/meter"
	"github.com/licmesh/licmesh/collectors/sources"
)

// lockedBuffer is a log sink the test can read while collectord writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// TestRunRefusesBadSources: a usage source misconfigured is reported at
// start, naming the file, the source and the field, and collectord does not
// run.
func TestRunRefusesBadSources(t *testing.T) {
	c := agenttest.NewCluster(t)
	dir := t.TempDir()
	cases := map[string]struct{ sources, want string }{
		"bad source":   {"sources:\n  - name: db\n    kind: sql\n    sql: {driver: oracle, dsn: x, scalars: {users: SELECT 1}}\n", `"db": sql.driver`},
		"unknown key":  {"sources:\n  - name: db\n    kind: exec\n    exec: {command: [echo, '1'], scalars: {n: .}}\n    every: 5s\n", `unknown field "every"`},
		"not yaml":     {"sources: [\n", "sources.yaml"},
		"missing tool": {"sources:\n  - name: cmd\n    kind: exec\n    exec: {command: [no-such-tool-x], scalars: {n: .}}\n", `"cmd"`},
	}
	// A driver this build left out (make test runs this package with the
	// Makefile's collectord tags too) is a config error at start.
	for _, d := range []string{sources.DriverPostgres, sources.DriverMySQL, sources.DriverSQLite} {
		if !slices.Contains(sources.SQLDrivers(), d) {
			cases["no "+d] = struct{ sources, want string }{
				"sources:\n  - name: db\n    kind: sql\n    sql: {driver: " + d + ", dsn: /x.db, scalars: {users: SELECT 1}}\n",
				`"db": sql.driver: the ` + d + ` driver is not built into this collectord`,
			}
		}
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			src := writeFile(t, filepath.Join(t.TempDir(), "sources.yaml"), tc.sources)
			file := writeFile(t, filepath.Join(t.TempDir(), "c.yaml"), strings.Join([]string{
				"masters: [m1]",
				"token: " + c.Token(),
				"data_dir: " + filepath.Join(dir, name),
				"listen: ''",
				"socket: ''",
				"usage:",
				"  sources_file: " + src,
			}, "\n"))
			_, err := execute(context.Background(), "run", "--config", file)
			require.ErrorContains(t, err, "usage.sources_file "+src)
			require.ErrorContains(t, err, tc.want)
			_, serr := os.Stat(filepath.Join(dir, name, config.SpoolDirName))
			assert.ErrorIs(t, serr, os.ErrNotExist, "a refused start created the spool")
		})
	}
}

// TestRunMeters runs collectord with a usage source against a master that
// does not take usage reports yet: samples are spooled under data_dir, the
// pseudonym key is created, and reports reach the master through the
// agent's mutual-TLS link (which answers Unimplemented), so nothing is
// acknowledged.
func TestRunMeters(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	sock := filepath.Join(dir, "c.sock")
	src := writeFile(t, filepath.Join(dir, "sources.yaml"),
		"sources:\n  - name: cmd\n    kind: exec\n    interval: 1s\n    timeout: 1s\n    exec: {command: [echo, '42'], scalars: {users: .}}\n")
	file := writeFile(t, filepath.Join(dir, "c.yaml"), strings.Join([]string{
		"masters: [" + m.Addr() + "]",
		"token: " + c.Token(),
		"data_dir: " + data,
		"listen: ''",
		"socket: " + sock,
		"transport: tcp",
		"log_level: info",
		"usage:",
		"  sources_file: " + src,
		"  installation: acme-prod",
	}, "\n"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runCommandLine(ctx, []string{"run", "-c", file}, logs, logs)
	}()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(logs.String(), "ReportUsage is not implemented") {
		if time.Now().After(deadline) {
			t.Fatalf("no usage report reached the master; log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := client.Get("http://collectord/readyz")
	if assert.NoError(t, err, "the agent is not ready beside the meter") {
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode, "the agent is not ready beside the meter: %v", resp)
	}
	cancel()
	require.NoError(t, <-done, "run")
	out := logs.String()
	t.Log("\n" + out)
	for _, want := range []string{"usage metering on", "installation=acme-prod", "usage report failed"} {
		assert.Contains(t, out, want, "log")
	}
	segs, _ := filepath.Glob(filepath.Join(data, config.SpoolDirName, "seg-*.log"))
	var size int64
	for _, s := range segs {
		if fi, err := os.Stat(s); err == nil {
			size += fi.Size()
		}
	}
	assert.NotZero(t, size, "no sample in the spool under data_dir (%v)", segs)
	fi, err := os.Stat(filepath.Join(data, config.PseudonymKeyName))
	if assert.NoError(t, err, "pseudonym key") {
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "pseudonym key mode")
		assert.Equal(t, int64(meter.KeyBytes), fi.Size(), "pseudonym key size")
	}
}

// TestUsageLimitsAgree: every spool size the config accepts makes a valid
// meter config.
func TestUsageLimitsAgree(t *testing.T) {
	for _, mib := range []int{config.MinSpoolMaxMiB, 3, config.DefaultSpoolMaxMiB, config.MaxSpoolMaxMiB} {
		u := config.DefaultConfig().Usage
		u.Installation, u.SpoolDir, u.SpoolMaxMiB = "x", "/x", mib
		assert.NoError(t, meterConfig(u).Validate(), "spool_max_mib %d", mib)
	}
}
