package selfupdate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/licmesh/licmesh/mesh/diskfile"
)

// Swap makes the staged exe+".next" the current build: the running exe is
// kept as exe+".prev" (a hard link, or a copy where links fail), then .next
// is renamed over exe and the directory is fsynced. After Swap, exe is the
// new build and .prev the old one. The running process is not affected
// until it restarts.
func Swap(exe string) error {
	next := exe + NextSuffix
	if _, err := os.Stat(next); err != nil {
		return fmt.Errorf("%w: %w", ErrNoNext, err)
	}
	if err := cloneOver(exe, exe+PrevSuffix); err != nil {
		return err
	}
	if err := os.Rename(next, exe); err != nil {
		return fmt.Errorf("selfupdate: %w", err)
	}
	return syncDir(filepath.Dir(exe))
}

// Revert puts exe+".prev" back as exe, by an atomic rename of a link (or
// copy) of it, and keeps the build it replaces as the new .prev: a revert
// can itself be reverted, and the failed build stays at hand for
// diagnostics. It fails with ErrNoPrev when there is no .prev.
func Revert(exe string) error {
	prev := exe + PrevSuffix
	if _, err := os.Stat(prev); err != nil {
		return fmt.Errorf("%w: %w", ErrNoPrev, err)
	}
	back := exe + ".revert"
	if err := clone(prev, back); err != nil {
		return err
	}
	// The current build becomes .prev once the old one is in place; a
	// crash in between leaves the old build as both, which is safe.
	cur := exe + PrevSuffix + ".tmp"
	if err := clone(exe, cur); err != nil {
		_ = os.Remove(back)
		return err
	}
	if err := os.Rename(back, exe); err != nil {
		_ = os.Remove(back)
		_ = os.Remove(cur)
		return fmt.Errorf("selfupdate: %w", err)
	}
	if err := os.Rename(cur, prev); err != nil {
		_ = os.Remove(cur)
		return fmt.Errorf("selfupdate: %w", err)
	}
	return syncDir(filepath.Dir(exe))
}

// PrevVersion runs `<exe>.prev version` and returns the version it prints;
// it fails with ErrNoPrev when there is no .prev.
func PrevVersion(ctx context.Context, exe string) (string, error) {
	prev := exe + PrevSuffix
	if _, err := os.Stat(prev); err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoPrev, err)
	}
	return RunVersion(ctx, prev)
}

// cloneOver makes dst a clone of src by way of a temporary file renamed
// over dst.
func cloneOver(src, dst string) error {
	tmp := dst + ".tmp"
	if err := clone(src, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("selfupdate: %w", err)
	}
	return nil
}

// clone makes dst (replacing any file there) a hard link to src, or a copy
// with src's mode, fsynced, when the file system does not link.
func clone(src, dst string) error {
	if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("selfupdate: %w", err)
	}
	if os.Link(src, dst) == nil {
		return nil
	}
	if err := copyFile(src, dst); err != nil {
		_ = os.Remove(dst)
		return err
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("selfupdate: %w", err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return fmt.Errorf("selfupdate: %w", err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return fmt.Errorf("selfupdate: %w", err)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Chmod(fi.Mode().Perm())
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("selfupdate: copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// syncDir makes the renames in dir durable. Windows cannot fsync a
// directory (and needs not).
func syncDir(dir string) error {
	if err := diskfile.SyncDir(dir); err != nil {
		return fmt.Errorf("selfupdate: fsync %s: %w", dir, err)
	}
	return nil
}
