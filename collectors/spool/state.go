package spool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/licmesh/licmesh/mesh/diskfile"
)

// File names inside the spool directory.
const (
	stateFile   = "state.json"
	stateTmp    = "state.json.tmp"
	lockFile    = "lock"
	stateFormat = 1
	// maxStateBytes bounds what Open reads of the state file.
	maxStateBytes = 4 << 10
)

// persisted is the state file. It holds what the segments cannot say after
// they are deleted.
type persisted struct {
	Version int `json:"version"`
	// AckedSeq is the highest seq a master acknowledged.
	AckedSeq uint64 `json:"acked_seq"`
	// NextSeq is a floor for the next seq.
	NextSeq uint64 `json:"next_seq"`
	// DroppedRecords and DroppedSegments count what the full policy dropped
	// over the spool's life.
	DroppedRecords  uint64 `json:"dropped_records"`
	DroppedSegments uint64 `json:"dropped_segments"`
	// Epoch identifies this spool's sequence numbers (see Spool.Epoch); 0
	// in files written before epochs existed, which get one at Open.
	Epoch uint64 `json:"epoch,omitempty"`
}

// readState reads the state file; a missing one is a zero state.
func readState(dir string) (persisted, error) {
	path := filepath.Join(dir, stateFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return persisted{Version: stateFormat}, nil
	}
	if err != nil {
		return persisted{}, fmt.Errorf("spool: open %s: %w", path, err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxStateBytes+1))
	if err != nil {
		return persisted{}, fmt.Errorf("spool: read %s: %w", path, err)
	}
	if len(raw) > maxStateBytes {
		return persisted{}, fmt.Errorf("%w: %s is larger than %d bytes", ErrCorruptState, path, maxStateBytes)
	}
	var st persisted
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return persisted{}, fmt.Errorf("%w: %s: %w", ErrCorruptState, path, err)
	}
	if dec.More() {
		return persisted{}, fmt.Errorf("%w: %s: trailing data after the JSON object", ErrCorruptState, path)
	}
	if st.Version != stateFormat {
		return persisted{}, fmt.Errorf("%w: %s: version %d, want %d", ErrCorruptState, path, st.Version, stateFormat)
	}
	if st.NextSeq != 0 && st.AckedSeq >= st.NextSeq {
		return persisted{}, fmt.Errorf("%w: %s: acked_seq %d is not below next_seq %d", ErrCorruptState, path, st.AckedSeq, st.NextSeq)
	}
	return st, nil
}

// writeState replaces the state file atomically and durably.
func writeState(dir string, st persisted) error {
	st.Version = stateFormat
	raw, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("spool: encode state: %w", err)
	}
	if err := diskfile.Replace(filepath.Join(dir, stateFile), append(raw, '\n'), 0o600); err != nil {
		return fmt.Errorf("spool: write state: %w", err)
	}
	return nil
}

// isStateTemp reports whether name is a temporary file of a state write
// that did not reach its rename (the old state stands).
func isStateTemp(name string) bool {
	return strings.HasPrefix(name, "."+stateFile+".tmp") || name == stateTmp
}

// lockDir takes an exclusive flock on the directory's lock file. The lock is
// per open file, so a second Open in the same process is refused too.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: open lock file %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("spool: lock %s: %w", dir, err)
	}
	return f, nil
}
