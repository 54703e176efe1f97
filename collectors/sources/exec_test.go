//go:build unix

package sources

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func execConfig(argv ...string) Config {
	return Config{
		Name:     "cmd",
		Kind:     KindExec,
		Interval: time.Minute,
		Timeout:  2 * time.Second,
		Exec:     &ExecConfig{Command: argv, Scalars: map[string]string{"n": "."}},
	}
}

func TestExecNumber(t *testing.T) {
	s, err := mustNew(t, execConfig("echo", "42"), testOptions()).Collect(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(42), s.Scalars["n"], "scalars %v", s.Scalars)
}

func TestExecJSON(t *testing.T) {
	script := `printf '{"stats":{"users":%s,"cases":9},"users":[{"id":"emp-1","role":"manager","enabled":1}],"since":"%s"}' 3 "$LICMESH_SINCE"`
	cfg := execConfig("sh", "-c", script)
	cfg.Exec.Scalars = map[string]string{"users": "stats.users", "cases": "stats.cases"}
	cfg.Exec.Users = "users"
	s, err := mustNew(t, cfg, testOptions()).Collect(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(3), s.Scalars["users"], "sample %+v", s)
	assert.Equal(t, int64(9), s.Scalars["cases"], "sample %+v", s)
	assert.Len(t, s.Users, 1, "sample %+v", s)
	u := userByRaw(t, s.Users, "emp-1")
	assert.Equal(t, "manager", u.Role.String(), "user %+v", u)
	assert.True(t, u.Enabled, "user %+v", u)
	noRawIDs(t, s, "emp-1")
}

func TestExecEnvironmentScrubbed(t *testing.T) {
	t.Setenv("LICMESH_TEST_LEAK", "77")
	cfg := execConfig("sh", "-c", `echo "{\"leak\": ${LICMESH_TEST_LEAK:-0}, \"mine\": ${MINE:-0}, \"since\": ${#LICMESH_SINCE}, \"path\": \"$PATH\"}"`)
	cfg.Exec.Env = map[string]string{"MINE": "5"}
	cfg.Exec.Scalars = map[string]string{"leak": "leak", "mine": "mine", "since": "since"}
	s, err := mustNew(t, cfg, testOptions()).Collect(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(0), s.Scalars["leak"], "scalars %v: want the collector's variables hidden", s.Scalars)
	assert.Equal(t, int64(5), s.Scalars["mine"], "scalars %v: want env passed", s.Scalars)
	assert.Equal(t, int64(len(time.RFC3339)-5), s.Scalars["since"], "scalars %v: want LICMESH_SINCE passed", s.Scalars)
}

func TestExecTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	// The child sleeps in the background, as a daemonizing helper would.
	cfg := execConfig("sh", "-c", `sleep 30 & echo $! > "$PIDFILE"; wait`)
	cfg.Exec.Env = map[string]string{"PIDFILE": pidFile}
	cfg.Timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := mustNew(t, cfg, testOptions()).Collect(context.Background())
	wantErr(t, err, ErrTimeout, "exec.command", "process group was killed")
	took := time.Since(start)
	assert.LessOrEqual(t, took, 3*time.Second, "took %v with a 300ms timeout", took)
	t.Logf("Collect returned after %v", took)
	b, rerr := os.ReadFile(pidFile)
	require.NoError(t, rerr)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// The kill is delivered asynchronously.
	require.Eventually(t, func() bool { return !alive(pid) }, 3*time.Second, 20*time.Millisecond,
		"the background child %d survived the timeout", pid)
}

// alive reports whether pid runs: a zombie (killed, waiting for whoever
// inherited it to reap it) does not.
func alive(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no procfs: trust kill(2)
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestExecOutputBounded(t *testing.T) {
	cfg := execConfig("yes")
	cfg.Exec.MaxOutputBytes = 1000
	start := time.Now()
	_, err := mustNew(t, cfg, testOptions()).Collect(context.Background())
	wantErr(t, err, ErrTooLarge, "exec.max_output_bytes", "more than 1000 bytes")
	took := time.Since(start)
	assert.LessOrEqual(t, took, time.Second, "took %v to stop an endless writer", took)
}

func TestExecFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		argv  []string
		kind  error
		parts []string
	}{
		{"exit status", []string{"sh", "-c", "echo boom >&2; exit 3"}, ErrExit, []string{"exit status 3: boom"}},
		{"not json", []string{"echo", "12 users"}, ErrBadResult, []string{"unexpected text after the first value"}},
		{"two values", []string{"echo", "1 2"}, ErrBadResult, []string{"more than one JSON value"}},
		{"empty", []string{"true"}, ErrBadResult, []string{"empty"}},
		{"child keeps output", []string{"sh", "-c", "sleep 5 & echo 1"}, ErrQuery, []string{"left a process holding its output"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mustNew(t, execConfig(tc.argv...), testOptions()).Collect(context.Background())
			wantErr(t, err, tc.kind, append([]string{`sources: "cmd": `}, tc.parts...)...)
		})
	}
}

func TestExecConfigAtStart(t *testing.T) {
	plain := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644)
	for _, tc := range []struct {
		argv  []string
		parts []string
	}{
		{[]string{"no-such-program-x"}, []string{"exec.command[0]", "not an executable"}},
		{[]string{"bin/sh"}, []string{"must be an absolute path"}},
		{[]string{plain}, []string{"not executable"}},
		{[]string{"/nonexistent/prog"}, []string{"does not exist"}},
	} {
		_, err := New(execConfig(tc.argv...), testOptions())
		wantErr(t, err, ErrConfig, tc.parts...)
	}
	cfg := execConfig("true")
	cfg.Exec.Dir = "/nonexistent"
	_, err := New(cfg, testOptions())
	wantErr(t, err, ErrConfig, "exec.dir")
}
