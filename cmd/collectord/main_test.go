package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/collectors/localapi"
	"github.com/licmesh/licmesh/collectors/sources"
)

// execute runs the CLI with args and returns its output and error.
func execute(ctx context.Context, args ...string) (string, error) {
	var out bytes.Buffer
	err := runCommandLine(ctx, args, &out, &out)
	return out.String(), err
}

func TestRunRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown field": {"masters: [m1]\nmastrs: [m2]\n", `unknown field "mastrs"`},
		"bad port":      {"masters: [m1, \"x:y\"]\n", `masters[1] "x:y": invalid port`},
		"public listen": {"masters: [m1]\nlisten: 0.0.0.0:7480\ndata_dir: " + dir + "\n", "must not listen on all interfaces"},
		"no token":      {"masters: [m1]\ndata_dir: " + dir + "\nsocket: ''\nlisten: ''\n", "join token"},
		"missing data":  {"masters: [m1]\ndata_dir: ''\n", "data_dir: is required"},
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(file, []byte(tc.yaml), 0o600)
			_, err := execute(context.Background(), "run", "--config", file)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := execute(context.Background(), "run", "--config", filepath.Join(dir, "missing.yaml"))
	require.Error(t, err, "missing config file accepted")
}

// TestRunFlags: a flag given on the command line overrides the file, even
// to empty; one not given leaves the file's value alone.
func TestRunFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("masters: [m1]\nlisten: 0.0.0.0:7480\nsocket: ''\ndata_dir: "+dir+"\n"), 0o600)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"file as is":        {nil, "must not listen on all interfaces"},
		"listen overridden": {[]string{"--listen", "127.0.0.1:7480"}, "join token"},
		"single dash, =":    {[]string{"-listen=127.0.0.1:7480"}, "join token"},
		"masters, commas":   {[]string{"--listen=", "--masters", "m1,x:y"}, `masters[1] "x:y": invalid port`},
		"masters, repeated": {[]string{"--listen=", "--masters", "m1", "--masters=m2,x:z"}, `masters[2] "x:z": invalid port`},
		"set to empty":      {[]string{"--listen=", "--data-dir="}, "data_dir: is required"},
		"bad int":           {[]string{"--max-leases", "many"}, `invalid value "many" for flag -max-leases`},
		"unknown flag":      {[]string{"--bogus"}, "flag provided but not defined: -bogus"},
		"stray argument":    {[]string{"extra"}, `run: unexpected argument "extra"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := execute(context.Background(), append([]string{"run", "-c", file}, tc.args...)...)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{nil, {"help"}, {"--help"}} {
		out, err := execute(context.Background(), args...)
		if assert.NoError(t, err, "%q", args) {
			assert.Contains(t, out, "Commands:", "%q", args)
			assert.Contains(t, out, "status ", "%q", args)
		}
	}
	out, err := execute(context.Background(), "run", "-h")
	if assert.NoError(t, err, "run -h") {
		assert.Contains(t, out, "Usage: collectord run", "run -h")
		assert.Contains(t, out, "-release-on-shutdown", "run -h")
	}
	_, err = execute(context.Background(), "frobnicate")
	assert.ErrorContains(t, err, `unknown command "frobnicate"`, "unknown command")
}

func TestRunAndStatus(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	dir := t.TempDir()
	sock := filepath.Join(dir, "c.sock")
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte(strings.Join([]string{
		"masters: [" + m.Addr() + "]",
		"token: " + c.Token(),
		"data_dir: " + filepath.Join(dir, "data"),
		"listen: ''",
		"socket: " + sock,
		"transport: tcp",
		"log_level: warn",
	}, "\n")), 0o600)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := execute(ctx, "run", "-c", file)
		done <- err
	}()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get("http://collectord/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("collectord not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := client.Post("http://collectord/v1/leases", "application/json", strings.NewReader(`{"pool":"seats","holder":"alice"}`))
	require.NoError(t, err, "acquire over the socket")
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, "acquire over the socket: %v", resp)

	out, err := execute(context.Background(), "status", "-o", "json", "--socket", sock)
	require.NoError(t, err)
	var st localapi.Status
	require.NoError(t, json.Unmarshal([]byte(out), &st), "status json %q", out)
	require.NotEmpty(t, st.CollectorID, "status: %+v", st)
	require.Equal(t, 1, st.Leases.Valid, "status: %+v", st)
	require.Equal(t, "h2", st.Protocol, "status: %+v", st)
	require.Equal(t, m.Addr(), st.CurrentMaster, "status: %+v", st)
	out, err = execute(context.Background(), "status", "--config", file)
	require.NoError(t, err)
	t.Log("\n" + out)
	for _, want := range []string{"collector", st.CollectorID, "via h2", "1 held (1 valid, 0 expired)", "certificate"} {
		assert.Contains(t, out, want, "status table")
	}

	cancel()
	require.NoError(t, <-done, "run")
	require.Empty(t, c.Leases(), "leases left at the masters after SIGTERM-like stop")
	_, err = os.Stat(sock)
	require.ErrorIs(t, err, os.ErrNotExist, "socket left behind")
	_, err = execute(context.Background(), "status", "--socket", sock)
	require.ErrorContains(t, err, "is collectord running", "status with no collector")
}

func TestVersion(t *testing.T) {
	out, err := execute(context.Background(), "version")
	require.NoError(t, err, "version")
	require.Contains(t, out, "collectord dev (collector protocol 1)", "version")
	require.Contains(t, out, "\nsql drivers: "+strings.Join(sources.SQLDrivers(), ", ")+"\n", "version")
	_, err = execute(context.Background(), "status", "-o", "yaml")
	require.Error(t, err, "-o yaml accepted")
}

// TestCheckSources: check loads a sources file as run would, with this
// build's drivers, and connects to nothing.
func TestCheckSources(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sources.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`sources:
  - name: db
    kind: sql
    interval: 10s
    sql:
      driver: sqlite
      dsn: /nonexistent/product.db
      scalars:
        users: SELECT COUNT(*) FROM users
`), 0o600))
	out, err := execute(t.Context(), "check", "-sources", file)
	if slices.Contains(sources.SQLDrivers(), "sqlite") {
		require.NoError(t, err, out)
		assert.Contains(t, out, file+": ok")
	} else {
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the sqlite driver is not built into this collectord")
	}
	_, err = execute(t.Context(), "check", "-sources", filepath.Join(t.TempDir(), "none.yaml"))
	require.Error(t, err, "a missing file")
	_, err = execute(t.Context(), "check")
	require.ErrorContains(t, err, "-sources FILE is needed")
}
