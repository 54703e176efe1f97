package meter

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/licmesh/licmesh/collectors/sources"
	"github.com/licmesh/licmesh/mesh/diskfile"
)

// KeyBytes is the size of a pseudonym key LoadKey creates.
const KeyBytes = 32

// maxKeyFile bounds what LoadKey reads.
const maxKeyFile = 4 << 10

// LoadKey returns the pseudonym key in the file at path (its bytes, as they
// are), creating the file with KeyBytes random bytes, mode 0600, when it
// does not exist. The key makes user IDs pseudonyms (sources.Pseudonym): it
// must stay the same for the installation's life, on every collector that
// measures the installation, or its users are counted again under new
// pseudonyms. LoadKey refuses a file that others may read or write, or
// that is shorter than sources.MinHashKeyLength; errors never hold the key.
func LoadKey(path string) ([]byte, error) {
	key, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createKey(path); err != nil {
			return nil, err
		}
		key, err = readKey(path)
	}
	return key, err
}

func readKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	switch {
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrKey, path)
	case fi.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("%w: %s has mode %04o; only its owner may read it (chmod 600)", ErrKey, path, fi.Mode().Perm())
	}
	key, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: read %s: %w", ErrKey, path, err)
	case len(key) > maxKeyFile:
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrKey, path, maxKeyFile)
	case len(key) < sources.MinHashKeyLength:
		return nil, fmt.Errorf("%w: %s holds %d bytes, at least %d are needed", ErrKey, path, len(key), sources.MinHashKeyLength)
	}
	return key, nil
}

// createKey writes a new key beside path and links it into place, so that a
// crash never leaves a short key file and a concurrent creator's key wins
// whole.
func createKey(path string) error {
	key := make([]byte, KeyBytes)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("%w: %w", ErrKey, err)
	}
	defer clear(key)
	if _, err := diskfile.Create(path, key, 0o600); err != nil {
		return fmt.Errorf("%w: create %s: %w", ErrKey, path, err)
	}
	return nil
}
