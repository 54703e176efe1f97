package harness

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
)

// ProgramTB is a testing.TB for programs that are not tests (the benchmark
// table), so that they can start masters with StartCluster and drive them
// with the Cluster and Master helpers exactly as the e2e tests do.
//
// testing.T ends a failed test with runtime.Goexit; a program cannot, so
// Fatal, FailNow and Skip panic with a private value that Do recovers and
// turns into an error. Call harness functions only inside Do and on Do's
// goroutine. Cleanup functions run at Close, last registered first, and
// TempDir directories are removed after them.
type ProgramTB struct {
	// testing.TB has unexported methods, so only an embedded TB satisfies
	// it. It stays nil: every method is overridden below.
	testing.TB

	name   string
	dir    string
	out    io.Writer
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	cleanups []func()
	temps    []string
	fails    int // calls of Fail so far; Failed stays true once set
	skipped  bool
	last     string // the last line logged, for Do's error
}

var _ testing.TB = (*ProgramTB)(nil)

// programStop is the panic value of Fatal, FailNow and Skip.
type programStop struct{ skip bool }

// NewProgramTB returns a ProgramTB named name whose TempDir directories go
// under dir (empty for the OS temp dir) and whose logs go to out (nil
// discards them). The caller must Close it.
func NewProgramTB(name, dir string, out io.Writer) *ProgramTB {
	if out == nil {
		out = io.Discard
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &ProgramTB{name: name, dir: dir, out: out, ctx: ctx, cancel: cancel}
}

// Do runs fn and reports how it ended: nil, ErrFatal with the last line
// logged when fn called Fatal or FailNow or had called Error, or ErrSkipped.
// Any other panic is not recovered.
func (p *ProgramTB) Do(fn func()) (err error) {
	p.mu.Lock()
	before := p.fails
	p.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			stop, ok := r.(programStop)
			if !ok {
				panic(r)
			}
			if stop.skip {
				err = ErrSkipped
				return
			}
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.fails > before {
			err = fmt.Errorf("%w: %s", ErrFatal, p.last)
		}
	}()
	fn()
	return nil
}

// Close cancels Context, runs the cleanup functions (last registered first)
// and removes the TempDir directories. A cleanup that calls Fatal stops only
// itself. Close is safe to call more than once.
func (p *ProgramTB) Close() {
	p.cancel()
	for {
		p.mu.Lock()
		if len(p.cleanups) == 0 {
			temps := p.temps
			p.temps = nil
			p.mu.Unlock()
			for _, d := range temps {
				_ = os.RemoveAll(d)
			}
			return
		}
		f := p.cleanups[len(p.cleanups)-1]
		p.cleanups = p.cleanups[:len(p.cleanups)-1]
		p.mu.Unlock()
		_ = p.Do(f)
	}
}

// Cleanup registers f to run at Close.
func (p *ProgramTB) Cleanup(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cleanups = append(p.cleanups, f)
}

// TempDir returns a new directory that Close removes.
func (p *ProgramTB) TempDir() string {
	d, err := os.MkdirTemp(p.dir, "licmesh-"+p.name+"-")
	if err != nil {
		p.Fatalf("TempDir: %v", err)
	}
	p.mu.Lock()
	p.temps = append(p.temps, d)
	p.mu.Unlock()
	return d
}

// ArtifactDir returns a directory that Close removes: a program keeps no
// artifacts.
func (p *ProgramTB) ArtifactDir() string { return p.TempDir() }

// Log writes its arguments as one line, like testing.T.Log.
func (p *ProgramTB) Log(args ...any) { p.write(fmt.Sprintln(args...)) }

// Logf writes a formatted line, like testing.T.Logf.
func (p *ProgramTB) Logf(format string, args ...any) { p.write(fmt.Sprintf(format, args...) + "\n") }

func (p *ProgramTB) write(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = strings.TrimRight(s, "\n")
	fmt.Fprintf(p.out, "%s: %s", p.name, s)
}

// Error logs and marks the run failed; Do then returns ErrFatal.
func (p *ProgramTB) Error(args ...any) { p.Log(args...); p.Fail() }

// Errorf logs and marks the run failed; Do then returns ErrFatal.
func (p *ProgramTB) Errorf(format string, args ...any) { p.Logf(format, args...); p.Fail() }

// Fail marks the run failed.
func (p *ProgramTB) Fail() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fails++
}

// Failed reports whether anything has failed since NewProgramTB, so that
// cleanups such as DumpOnFailure's see an earlier failure.
func (p *ProgramTB) Failed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fails > 0
}

// FailNow marks the run failed and unwinds to Do.
func (p *ProgramTB) FailNow() {
	p.Fail()
	panic(programStop{})
}

// Fatal logs, marks the run failed and unwinds to Do.
func (p *ProgramTB) Fatal(args ...any) { p.Log(args...); p.FailNow() }

// Fatalf logs, marks the run failed and unwinds to Do.
func (p *ProgramTB) Fatalf(format string, args ...any) { p.Logf(format, args...); p.FailNow() }

// Skip logs and unwinds to Do, which returns ErrSkipped.
func (p *ProgramTB) Skip(args ...any) { p.Log(args...); p.SkipNow() }

// Skipf logs and unwinds to Do, which returns ErrSkipped.
func (p *ProgramTB) Skipf(format string, args ...any) { p.Logf(format, args...); p.SkipNow() }

// SkipNow unwinds to Do, which returns ErrSkipped.
func (p *ProgramTB) SkipNow() {
	p.mu.Lock()
	p.skipped = true
	p.mu.Unlock()
	panic(programStop{skip: true})
}

// Skipped reports whether the current Do was skipped.
func (p *ProgramTB) Skipped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.skipped
}

// Helper does nothing: log lines carry no file positions.
func (p *ProgramTB) Helper() {}

// Name returns the name given to NewProgramTB.
func (p *ProgramTB) Name() string { return p.name }

// Setenv sets an environment variable until Close.
func (p *ProgramTB) Setenv(key, value string) {
	prev, had := os.LookupEnv(key)
	if err := os.Setenv(key, value); err != nil {
		p.Fatalf("Setenv: %v", err)
	}
	p.Cleanup(func() {
		if had {
			_ = os.Setenv(key, prev)
		} else {
			_ = os.Unsetenv(key)
		}
	})
}

// Chdir changes the working directory until Close.
func (p *ProgramTB) Chdir(dir string) {
	prev, err := os.Getwd()
	if err != nil {
		p.Fatalf("Chdir: %v", err)
	}
	if err := os.Chdir(dir); err != nil {
		p.Fatalf("Chdir: %v", err)
	}
	p.Cleanup(func() { _ = os.Chdir(prev) })
}

// Attr logs a key and value, as testing.T.Attr does.
func (p *ProgramTB) Attr(key, value string) { p.Logf("attr %s=%s", key, value) }

// Context returns a context that Close cancels.
func (p *ProgramTB) Context() context.Context { return p.ctx }

// Output returns the writer log lines go to.
func (p *ProgramTB) Output() io.Writer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out
}
