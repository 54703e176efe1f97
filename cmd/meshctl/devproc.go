package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// devProc is one child of `meshctl dev`: a real meshd, collectord or
// demoproduct process, its output prefixed with its name, restarted when
// it dies on its own.
type devProc struct {
	name string
	path string
	args []string
	out  *prefixer

	mu       sync.Mutex
	cmd      *exec.Cmd
	stopping bool
	exited   chan struct{} // closed when the current process has been waited for
}

// Restarts are bounded: a child that keeps dying is a broken setup, and
// `meshctl dev` says so instead of restarting it forever.
const (
	devMaxRestarts   = 5
	devRestartWindow = time.Minute
	devRestartDelay  = time.Second
)

func (p *devProc) start() error {
	cmd := exec.Command(p.path, p.args...)
	cmd.Stdout, cmd.Stderr = p.out, p.out
	// Its own process group: a Ctrl-C in the terminal reaches meshctl only,
	// which then stops the children in order (collectors before masters).
	// Pdeathsig: if meshctl itself is killed, the children go too.
	cmd.SysProcAttr = devSysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dev: start %s: %w", p.name, err)
	}
	p.mu.Lock()
	p.cmd, p.exited = cmd, make(chan struct{})
	p.mu.Unlock()
	return nil
}

// supervise waits for the process and restarts it when it exits on its
// own, until ctx ends or it has died devMaxRestarts times within
// devRestartWindow; then it returns why.
func (p *devProc) supervise(ctx context.Context) error {
	var deaths []time.Time
	for {
		p.mu.Lock()
		cmd, exited := p.cmd, p.exited
		p.mu.Unlock()
		err := cmd.Wait()
		close(exited)
		p.mu.Lock()
		stopping := p.stopping
		p.mu.Unlock()
		if stopping || ctx.Err() != nil {
			return nil
		}
		now := time.Now()
		deaths = append(deaths, now)
		for len(deaths) > 0 && now.Sub(deaths[0]) > devRestartWindow {
			deaths = deaths[1:]
		}
		if len(deaths) > devMaxRestarts {
			return fmt.Errorf("dev: %s exited %d times within %v (last: %v); giving up", p.name, len(deaths), devRestartWindow, exitText(err))
		}
		fmt.Fprintf(p.out, "exited (%s); restarting in %v\n", exitText(err), devRestartDelay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(devRestartDelay):
		}
		if err := p.start(); err != nil {
			return err
		}
	}
}

// stop asks the process to stop with SIGINT, as Ctrl-C would, and kills
// it if it has not exited within grace.
func (p *devProc) stop(grace time.Duration) {
	p.mu.Lock()
	p.stopping = true
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(grace):
		fmt.Fprintf(p.out, "did not stop within %v; killing it\n", grace)
		_ = cmd.Process.Kill()
		<-exited
	}
}

func exitText(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "status 0"
	case errors.As(err, &ee):
		return ee.ProcessState.String()
	default:
		return err.Error()
	}
}

// prefixer writes each whole line it is given to w behind "[name] ", so
// that the children's output stays readable side by side. Writes from all
// the children share one lock: lines never interleave.
type prefixer struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix []byte
	buf    []byte
}

func newPrefixer(mu *sync.Mutex, w io.Writer, name string) *prefixer {
	return &prefixer{mu: mu, w: w, prefix: fmt.Appendf(nil, "[%s] ", name)}
}

// Write prefixes every complete line of b; a partial line waits for its end.
func (p *prefixer) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		line := append(append([]byte(nil), p.prefix...), p.buf[:i+1]...)
		if _, err := p.w.Write(line); err != nil {
			return len(b), err
		}
		p.buf = p.buf[i+1:]
	}
	// A child that never ends its line must not grow this without bound.
	if len(p.buf) > 64<<10 {
		_, _ = p.w.Write(append(append(append([]byte(nil), p.prefix...), p.buf...), '\n'))
		p.buf = p.buf[:0]
	}
	return len(b), nil
}

// findBinary finds a licmesh binary beside meshctl (as `make build` puts
// them in bin/), or else on PATH.
func findBinary(name string) (string, error) {
	if self, err := os.Executable(); err == nil {
		path := filepath.Join(filepath.Dir(self), name)
		if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
			return path, nil
		}
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("dev: %s is neither beside meshctl nor on PATH (run make build)", name)
	}
	return path, nil
}
