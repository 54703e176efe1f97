package spool

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stateOnDisk reads dir's state file as the masters' peer would see it
// after a restart.
func stateOnDisk(t *testing.T, dir string) persisted {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, stateFile))
	require.NoError(t, err)
	var st persisted
	require.NoError(t, json.Unmarshal(raw, &st), "state file %q", raw)
	return st
}

func TestEpochChosenOnceAndKept(t *testing.T) {
	clock := newTestClock()
	cfg := smallConfig(t, clock)
	dir := t.TempDir()
	s := openSpool(t, dir, cfg)
	want := uint64(clock.Now().UnixNano())
	require.Equal(t, want, s.Epoch(), "Epoch(), want the creation time")
	require.Equal(t, want, s.Stats().Epoch, "Stats().Epoch, want the creation time")
	require.Equal(t, want, stateOnDisk(t, dir).Epoch, "state file epoch right after Open")
	appendN(t, s, 0, 5)
	closeSpool(t, s)

	// A restart later keeps the epoch: the seqs continue in it.
	clock.Advance(time.Hour)
	s = openSpool(t, dir, cfg)
	assert.Equal(t, want, s.Epoch(), "after restart, Epoch()")
	assert.Equal(t, uint64(6), appendN(t, s, 5, 1)[0], "after restart, next seq")

	// A spool in another (or a wiped) directory, created later, starts a
	// higher epoch.
	other := openSpool(t, t.TempDir(), cfg)
	assert.Greater(t, other.Epoch(), want, "a spool created an hour later has an epoch not above the first")
}

// TestEpochForOldStateFile: a state file written before epochs existed gets
// one, and nothing else changes.
func TestEpochForOldStateFile(t *testing.T) {
	clock := newTestClock()
	cfg := smallConfig(t, clock)
	dir := t.TempDir()
	s := openSpool(t, dir, cfg)
	appendN(t, s, 0, 10)
	require.NoError(t, s.Ack(4))
	closeSpool(t, s)
	old := `{"version":1,"acked_seq":4,"next_seq":11,"dropped_records":0,"dropped_segments":0}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, stateFile), []byte(old), 0o600))

	clock.Advance(time.Minute)
	s = openSpool(t, dir, cfg)
	epoch := s.Epoch()
	require.GreaterOrEqual(t, epoch, uint64(clock.Now().UnixNano()), "epoch for an old state file, want at least the time now")
	assert.Equal(t, seqRange(5, 10), seqsOf(pendingAll(t, s, 0)), "Pending, want 5..10")
	st := stateOnDisk(t, dir)
	assert.Equal(t, epoch, st.Epoch, "state file = %+v, want the epoch saved", st)
	assert.Equal(t, uint64(4), st.AckedSeq, "state file = %+v, want acked_seq kept", st)
	closeSpool(t, s)
	s = openSpool(t, dir, cfg)
	assert.Equal(t, epoch, s.Epoch(), "reopened: epoch")
}

// TestEpochAfterLostStateFile: without the state file the old epoch is
// unknown, so the spool takes a new one, above the old even when the clock
// now reads earlier than when the old records were written.
func TestEpochAfterLostStateFile(t *testing.T) {
	clock := newTestClock()
	cfg := smallConfig(t, clock)
	dir := t.TempDir()
	clock.Advance(2 * time.Hour)
	s := openSpool(t, dir, cfg)
	first := s.Epoch()
	appendN(t, s, 0, 3)
	clock.Advance(time.Minute)
	last := clock.Now()
	appendN(t, s, 3, 1)
	closeSpool(t, s)
	require.NoError(t, os.Remove(filepath.Join(dir, stateFile)))

	clock.Advance(-3 * time.Hour) // the clock was set back
	s = openSpool(t, dir, cfg)
	require.Greater(t, s.Epoch(), first, "epoch after losing the state file, against the old one")
	require.Greater(t, s.Epoch(), uint64(last.UnixNano()), "epoch after losing the state file, against the newest record")
	assert.Equal(t, uint64(5), appendN(t, s, 4, 1)[0], "next seq, want 5 (the segments still say where seqs stand)")
}
