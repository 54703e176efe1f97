package selfupdate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Suffixes of the files kept beside the binary.
const (
	NextSuffix = ".next"
	PrevSuffix = ".prev"
)

// VersionTimeout bounds a build's `version` run.
const VersionTimeout = 10 * time.Second

// Stage writes the new build beside exe as exe+".next" (mode 0755, fsynced)
// from r, checking that r holds exactly size bytes whose SHA-256 is
// sha256hex as it copies; then it runs `<exe>.next version` (bounded by
// VersionTimeout and ctx) and requires the version it prints (see
// ParseVersion) to be wantVersion. On any failure .next is removed and the
// error names what failed (ErrSize, ErrChecksum, ErrVersion or the file
// operation).
func Stage(ctx context.Context, exe string, r io.Reader, size int64, sha256hex, wantVersion string) error {
	want, err := hex.DecodeString(sha256hex)
	if err != nil || len(want) != sha256.Size {
		return fmt.Errorf("%w: %q is not a hex SHA-256", ErrChecksum, sha256hex)
	}
	if size <= 0 {
		return fmt.Errorf("%w: %d bytes announced", ErrSize, size)
	}
	next := exe + NextSuffix
	if err := stage(ctx, next, r, size, want, wantVersion); err != nil {
		_ = os.Remove(next)
		return err
	}
	return nil
}

func stage(ctx context.Context, next string, r io.Reader, size int64, want []byte, wantVersion string) error {
	f, err := os.OpenFile(next, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("selfupdate: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, size+1))
	if err == nil {
		err = f.Chmod(0o755) // whatever the umask
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return fmt.Errorf("selfupdate: write %s after %d bytes: %w", next, n, err)
	case n > size:
		return fmt.Errorf("%w: more than the %d bytes announced", ErrSize, size)
	case n < size:
		return fmt.Errorf("%w: %d bytes, %d announced", ErrSize, n, size)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return fmt.Errorf("%w: got %x, want %x", ErrChecksum, got, want)
	}
	got, err := RunVersion(ctx, next)
	if err != nil {
		return err
	}
	if got != wantVersion {
		return fmt.Errorf("%w: %s says version %q, want %q", ErrVersion, next, got, wantVersion)
	}
	return nil
}

// Discard removes a staged build, if any.
func Discard(exe string) error {
	if err := os.Remove(exe + NextSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("selfupdate: %w", err)
	}
	return nil
}

// RunVersion runs `<path> version`, bounded by VersionTimeout and ctx, and
// returns the version it prints (see ParseVersion). A build that does not
// run, exits with an error or prints nothing fails with ErrVersion.
func RunVersion(ctx context.Context, path string) (string, error) {
	out, err := Run(ctx, path, "version")
	if err != nil {
		return "", fmt.Errorf("%w: %s version: %w", ErrVersion, path, err)
	}
	v := ParseVersion(string(out))
	if v == "" {
		return "", fmt.Errorf("%w: %s version printed nothing", ErrVersion, path)
	}
	return v, nil
}

// Run runs a build with args, bounded by VersionTimeout and ctx, and
// returns the first 4 KiB of its standard output; a failure carries the
// first 4 KiB of its standard error. It is how a build just staged is
// asked about itself before it is swapped in.
func Run(ctx context.Context, path string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, VersionTimeout)
	defer cancel()
	// A file just written can be "busy" for a moment: another goroutine's
	// fork may still hold a copy of its write descriptor until that child
	// execs (golang.org/issue/22315).
	for try := 0; ; try++ {
		var stdout, stderr capped
		cmd := exec.CommandContext(ctx, path, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.WaitDelay = time.Second
		err := cmd.Run()
		if errors.Is(err, syscall.ETXTBSY) && try < 10 && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			if msg := strings.TrimSpace(stderr.String()); msg != "" {
				err = fmt.Errorf("%w: %s", err, msg)
			}
			return nil, err
		}
		return stdout.b, nil
	}
}

// ParseVersion reads the version out of a `version` command's output: the
// first line is either the version alone ("1.4.0", as meshd prints it) or
// the program's name, the version and more ("collectord 1.4.0 (collector
// protocol 1)"). It returns "" for an empty output.
func ParseVersion(out string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	f := strings.Fields(line)
	switch len(f) {
	case 0:
		return ""
	case 1:
		return f[0]
	default:
		return f[1]
	}
}

// capped keeps the first 4 KiB written to it.
type capped struct{ b []byte }

func (c *capped) Write(p []byte) (int, error) {
	if room := 4096 - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (c *capped) String() string { return string(c.b) }
