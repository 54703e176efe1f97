package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// execPath is the whole PATH a command gets: the environment is scrubbed so
// the collector's own variables (and whatever secrets they hold) stay with
// it.
const execPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Bounds for a command.
const (
	// maxStderr is how much standard error is kept, for the error message.
	maxStderr = 4 << 10
	// execWaitDelay is how long output pipes may stay open after the
	// command exits or is killed (a child holding them), before Wait gives
	// up on them.
	execWaitDelay = time.Second
	// execNice is the priority the command's process group runs at, so a
	// measurement yields the CPU to the product.
	execNice = 10
)

// execSource runs a command and reads its standard output.
type execSource struct {
	cfg     *ExecConfig
	name    string
	prog    string
	timeout time.Duration
	rep     *reporter
	picks   picks
}

func newExec(cfg Config, rep *reporter) (*execSource, error) {
	x := cfg.Exec
	if !processGroups {
		return nil, rep.failf("kind", ErrConfig, "exec sources need process groups, which this platform lacks")
	}
	prog, err := resolveProgram(x.Command[0])
	if err != nil {
		return nil, rep.failf("exec.command[0]", ErrConfig, "%v", err)
	}
	if fi, err := os.Stat(x.Dir); err != nil || !fi.IsDir() {
		return nil, rep.failf("exec.dir", ErrConfig, "%s is not a directory", x.Dir)
	}
	p, err := newPicks(x.Scalars, x.Users, x.Logons)
	if err != nil {
		return nil, rep.fail("exec", ErrConfig, err)
	}
	for _, v := range x.Env {
		if len(v) >= 6 { // shorter values are flags, not credentials
			rep.scrub.add(v)
		}
	}
	return &execSource{cfg: x, name: cfg.Name, prog: prog, timeout: cfg.Timeout, rep: rep, picks: p}, nil
}

// resolveProgram finds the program once, at start: an absolute path, or a
// bare name in execPath.
func resolveProgram(name string) (string, error) {
	if strings.Contains(name, "/") {
		if !filepath.IsAbs(name) {
			return "", fmt.Errorf("%q must be an absolute path or a bare name to look up in %s", clip(name), execPath)
		}
		return name, checkExecutable(name)
	}
	for _, dir := range filepath.SplitList(execPath) {
		p := filepath.Join(dir, name)
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q is not an executable in %s", clip(name), execPath)
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return errors.New(fileProblem(p, err))
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", p)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}

func (s *execSource) close() error { return nil }

func (s *execSource) env(since time.Time) []string {
	env := []string{
		"PATH=" + execPath,
		"LANG=C",
		"LC_ALL=C",
		"HOME=/",
		"LICMESH_SOURCE=" + s.name,
		"LICMESH_SINCE=" + since.UTC().Format(time.RFC3339),
	}
	for _, k := range slices.Sorted(maps.Keys(s.cfg.Env)) {
		env = append(env, k+"="+s.cfg.Env[k])
	}
	return env
}

func (s *execSource) measure(ctx context.Context, req *request) error {
	cmd := exec.CommandContext(ctx, s.prog, s.cfg.Command[1:]...)
	cmd.Args[0] = s.cfg.Command[0]
	cmd.Dir = s.cfg.Dir
	cmd.Env = s.env(req.since)
	stdout := &capBuffer{max: int(s.cfg.MaxOutputBytes), full: make(chan struct{})}
	stderr := &capBuffer{max: maxStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = execWaitDelay
	inProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return s.rep.failf("exec.command", ErrQuery, "cannot start: %v", err)
	}
	pid := cmd.Process.Pid
	lowerPriority(pid, execNice)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-stdout.full:
		killGroup(pid)
		err = <-done
	}
	// Whatever the command left behind in its group goes with it.
	killGroup(pid)

	switch {
	case stdout.overflowed():
		return s.rep.failf("exec.max_output_bytes", ErrTooLarge, "the command wrote more than %d bytes; it was killed", s.cfg.MaxOutputBytes)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		e := s.rep.failf("exec.command", ErrTimeout, "the command did not finish within the source's timeout (%v); its process group was killed", s.timeout)
		e.cause = context.DeadlineExceeded
		return e
	case ctx.Err() != nil:
		e := s.rep.failf("exec.command", ErrQuery, "cancelled; the command's process group was killed")
		e.cause = context.Canceled
		return e
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		msg := firstLine(stderr.bytes())
		if msg == "" {
			return s.rep.failf("exec.command", ErrExit, "%v", ee)
		}
		return s.rep.failf("exec.command", ErrExit, "%v: %s", ee, msg)
	case errors.Is(err, exec.ErrWaitDelay):
		return s.rep.failf("exec.command", ErrQuery, "the command exited but left a process holding its output open; the process group was killed")
	case err != nil:
		return s.rep.failf("exec.command", ErrQuery, "%v", err)
	}
	return s.picks.apply(s.rep, "exec", stdout.bytes(), req)
}

// firstLine returns the first non-empty line of b, clipped.
func firstLine(b []byte) string {
	for _, l := range bytes.Split(b, []byte("\n")) {
		if s := strings.TrimSpace(string(l)); s != "" {
			if len(s) > 200 {
				s = s[:200] + "..."
			}
			return s
		}
	}
	return ""
}

// capBuffer keeps the first max bytes written to it and discards the rest,
// never failing a write (a failed write would leave the command blocked on
// a full pipe). When full is set it is closed at the first byte past max.
type capBuffer struct {
	max  int
	full chan struct{}

	mu   sync.Mutex
	buf  []byte
	over bool
}

func (c *capBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.max - len(c.buf)
	if len(p) > room {
		c.buf = append(c.buf, p[:max(room, 0)]...)
		if !c.over && c.full != nil {
			close(c.full)
		}
		c.over = true
		return len(p), nil
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

func (c *capBuffer) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf
}

func (c *capBuffer) overflowed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.over
}
