// Package diskfile writes small state files (a collector's identity, keys,
// spool state and epochs; a master's admin token file) so that a crash at
// any point, or a reader at any moment, finds the old content or the new,
// never a torn file: the data goes to a temporary file
// in the same directory, is synced, then renamed or linked into place, and
// the directory is synced so the new name survives too.
package diskfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// SyncDir makes creations, renames and removals in dir durable. Windows
// cannot sync a directory (and needs not: its renames are durable once
// done), so there it does nothing.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Replace atomically and durably replaces path's content with data, with
// mode perm.
func Replace(path string, data []byte, perm fs.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// Create puts data at path, with mode perm, only if nothing is there yet:
// when two writers race, the first complete file wins whole and created
// is false for the other.
func Create(path string, data []byte, perm fs.FileMode) (created bool, err error) {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, SyncDir(filepath.Dir(path))
}

// writeTemp writes data to a new, synced temporary file beside path and
// returns its name.
func writeTemp(path string, data []byte, perm fs.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}
