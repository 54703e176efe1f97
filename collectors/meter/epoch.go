package meter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/licmesh/licmesh/mesh/diskfile"
)

// epochFileVersion is the format of the epoch file.
const epochFileVersion = 1

// maxEpochFile bounds what loadEpoch reads.
const maxEpochFile = 1 << 10

// epochFile is the epoch file's content.
type epochFile struct {
	Version int `json:"version"`
	// SpoolEpoch is the spool's own epoch when the meter moved on from it.
	SpoolEpoch uint64 `json:"spool_epoch"`
	// Epoch is the epoch reports are sent under.
	Epoch uint64 `json:"epoch"`
}

// epochPath is where the report epoch of the spool in dir is kept: beside
// the directory, which belongs to the spool alone.
func epochPath(dir string) string { return filepath.Clean(dir) + ".epoch" }

// loadEpoch returns the epoch to report under: the one the meter moved to,
// if the file at path holds one for this spool's epoch, else the spool's.
// A file that is unreadable or names another spool epoch is set aside with
// a warning: at worst the masters answer with their higher epoch again and
// the meter moves on again.
func (m *Meter) loadEpoch(path string, spoolEpoch uint64) uint64 {
	f, err := readEpochFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return spoolEpoch
	case err != nil:
		m.log.Warn("meter: ignoring the report epoch file", "path", path, "error", err)
	case f.SpoolEpoch != spoolEpoch:
		m.log.Info("meter: the spool started over since the report epoch was moved; reporting under the spool's epoch",
			"path", path, "spool_epoch", spoolEpoch, "file_spool_epoch", f.SpoolEpoch)
	case f.Epoch <= spoolEpoch:
		m.log.Warn("meter: ignoring the report epoch file: its epoch is not above the spool's", "path", path,
			"epoch", f.Epoch, "spool_epoch", spoolEpoch)
	default:
		return f.Epoch
	}
	return spoolEpoch
}

func readEpochFile(path string) (epochFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return epochFile{}, err
	}
	defer fh.Close()
	raw, err := io.ReadAll(io.LimitReader(fh, maxEpochFile+1))
	if err != nil {
		return epochFile{}, err
	}
	if len(raw) > maxEpochFile {
		return epochFile{}, fmt.Errorf("larger than %d bytes", maxEpochFile)
	}
	var f epochFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return epochFile{}, fmt.Errorf("not an epoch file: %w", err)
	}
	if f.Version != epochFileVersion {
		return epochFile{}, fmt.Errorf("version %d, want %d", f.Version, epochFileVersion)
	}
	return f, nil
}

// writeEpochFile replaces the file at path atomically and durably, so that
// a crash leaves the old epoch or the new one, never neither.
func writeEpochFile(path string, f epochFile) error {
	f.Version = epochFileVersion
	raw, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return diskfile.Replace(path, append(raw, '\n'), 0o600)
}

// nextEpoch returns an epoch above the masters': the time now in Unix
// nanoseconds, like the spool's own epochs, unless the masters' is later.
// ok is false when none is left above theirs.
func nextEpoch(masters uint64, nowNanos int64) (uint64, bool) {
	if masters == math.MaxUint64 {
		return 0, false
	}
	return max(masters+1, uint64(max(nowNanos, 0))), true
}

// moveEpoch starts reporting under an epoch above the masters', theirs,
// once it is durable in the epoch file; the pending records go again under
// it, from the spool's mark on. The package comment says why that is the
// safe choice.
func (m *Meter) moveEpoch(sent, theirs uint64) error {
	next, ok := nextEpoch(theirs, m.clock.Now().UnixNano())
	if !ok {
		return fmt.Errorf("%w: the masters know epoch %d, above which there is none", ErrEpochMismatch, theirs)
	}
	spoolEpoch := m.sp.Epoch()
	if err := writeEpochFile(m.epochPath, epochFile{SpoolEpoch: spoolEpoch, Epoch: next}); err != nil {
		return fmt.Errorf("%w: the masters know a newer epoch %d; saving a new one to %s failed: %w",
			ErrEpochMismatch, theirs, m.epochPath, err)
	}
	var n uint64
	m.update(func(c *counters) {
		c.epoch = next
		c.epochMoves++
		c.moveUnconfirmed = true
		n = c.epochMoves
	})
	if n&(n-1) == 0 {
		m.log.Error("meter: the masters know a newer spool of this collector than this one (restored from a backup, or recreated with the clock set back); reporting under a new epoch and sending the pending records again",
			"sent_epoch", sent, "masters_epoch", theirs, "new_epoch", next, "spool_epoch", spoolEpoch,
			"pending", m.sp.Stats().Records, "epoch_file", m.epochPath, "moves", n)
	}
	return nil
}
