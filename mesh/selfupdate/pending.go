package selfupdate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/licmesh/licmesh/mesh/diskfile"
)

// Pending is the marker that survives the restart into a new build: written
// (atomically, mode 0600) before the restart and read at the next start.
// The build that finds itself To runs a trial; any other knows it was put
// back, and reports Detail.
type Pending struct {
	// RolloutID and Action ("install" or "rollback") are the order's.
	RolloutID string `json:"rollout_id"`
	Action    string `json:"action"`
	// From is the version that swapped, To the one it swapped in.
	From string `json:"from"`
	To   string `json:"to"`
	// StartedAt is when the swap began; by Deadline the new build must be
	// healthy or be reverted.
	StartedAt time.Time `json:"started_at"`
	Deadline  time.Time `json:"deadline"`
	// Detail is why the new build was reverted, set before the revert.
	Detail string `json:"detail,omitempty"`
}

// maxMarker bounds the marker file; a real one is a few hundred bytes.
const maxMarker = 64 << 10

// WritePending writes p to path atomically (a temporary file, fsynced,
// renamed over path, the directory fsynced), mode 0600.
func WritePending(path string, p Pending) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("selfupdate: marker: %w", err)
	}
	if err := diskfile.Replace(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("selfupdate: marker: %w", err)
	}
	return nil
}

// ReadPending reads the marker at path. ok is false, with no error, when
// there is none; a marker that does not parse, or lacks its rollout, action
// or target, fails with ErrBadMarker.
func ReadPending(path string) (p Pending, ok bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Pending{}, false, nil
	}
	if err != nil {
		return Pending{}, false, fmt.Errorf("selfupdate: marker: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMarker+1))
	if err != nil {
		return Pending{}, false, fmt.Errorf("selfupdate: marker: %w", err)
	}
	if len(b) > maxMarker {
		return Pending{}, false, fmt.Errorf("%w: %s is over %d bytes", ErrBadMarker, path, maxMarker)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&p); err != nil {
		return Pending{}, false, fmt.Errorf("%w: %s: %w", ErrBadMarker, path, err)
	}
	if err := dec.Decode(new(json.RawMessage)); !errors.Is(err, io.EOF) {
		return Pending{}, false, fmt.Errorf("%w: %s: data after the marker", ErrBadMarker, path)
	}
	switch {
	case p.RolloutID == "":
		return Pending{}, false, fmt.Errorf("%w: %s: no rollout_id", ErrBadMarker, path)
	case p.Action == "":
		return Pending{}, false, fmt.Errorf("%w: %s: no action", ErrBadMarker, path)
	case p.To == "":
		return Pending{}, false, fmt.Errorf("%w: %s: no target version", ErrBadMarker, path)
	}
	return p, true, nil
}

// ClearPending removes the marker; no marker is not an error.
func ClearPending(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("selfupdate: marker: %w", err)
	}
	return nil
}
