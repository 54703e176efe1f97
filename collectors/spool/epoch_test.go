package spool

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// stateOnDisk reads dir's state file as the masters' peer would see it
// after a restart.
func stateOnDisk(t *testing.T, dir string) persisted {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	var st persisted
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("state file %q: %v", raw, err)
	}
	return st
}

func TestEpochChosenOnceAndKept(t *testing.T) {
	clock := newTestClock()
	cfg := smallConfig(t, clock)
	dir := t.TempDir()
	s := openSpool(t, dir, cfg)
	want := uint64(clock.Now().UnixNano())
	if s.Epoch() != want || s.Stats().Epoch != want {
		t.Fatalf("Epoch() = %d, Stats().Epoch = %d; want the creation time %d", s.Epoch(), s.Stats().Epoch, want)
	}
	if got := stateOnDisk(t, dir).Epoch; got != want {
		t.Fatalf("state file epoch = %d right after Open, want %d", got, want)
	}
	appendN(t, s, 0, 5)
	closeSpool(t, s)

	// A restart later keeps the epoch: the seqs continue in it.
	clock.Advance(time.Hour)
	s = openSpool(t, dir, cfg)
	if s.Epoch() != want {
		t.Errorf("after restart, Epoch() = %d, want %d", s.Epoch(), want)
	}
	if got := appendN(t, s, 5, 1); got[0] != 6 {
		t.Errorf("after restart, next seq = %d", got[0])
	}

	// A spool in another (or a wiped) directory, created later, starts a
	// higher epoch.
	other := openSpool(t, t.TempDir(), cfg)
	if other.Epoch() <= want {
		t.Errorf("a spool created an hour later has epoch %d, not above %d", other.Epoch(), want)
	}
}

// TestEpochForOldStateFile: a state file written before epochs existed gets
// one, and nothing else changes.
func TestEpochForOldStateFile(t *testing.T) {
	clock := newTestClock()
	cfg := smallConfig(t, clock)
	dir := t.TempDir()
	s := openSpool(t, dir, cfg)
	appendN(t, s, 0, 10)
	if err := s.Ack(4); err != nil {
		t.Fatal(err)
	}
	closeSpool(t, s)
	old := `{"version":1,"acked_seq":4,"next_seq":11,"dropped_records":0,"dropped_segments":0}`
	if err := os.WriteFile(filepath.Join(dir, stateFile), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}

	clock.Advance(time.Minute)
	s = openSpool(t, dir, cfg)
	epoch := s.Epoch()
	if epoch < uint64(clock.Now().UnixNano()) {
		t.Fatalf("epoch %d for an old state file, want at least the time now %d", epoch, clock.Now().UnixNano())
	}
	if got := seqsOf(pendingAll(t, s, 0)); !slices.Equal(got, seqRange(5, 10)) {
		t.Errorf("Pending = %v, want 5..10", got)
	}
	if st := stateOnDisk(t, dir); st.Epoch != epoch || st.AckedSeq != 4 {
		t.Errorf("state file = %+v, want epoch %d saved and acked_seq kept", st, epoch)
	}
	closeSpool(t, s)
	if s = openSpool(t, dir, cfg); s.Epoch() != epoch {
		t.Errorf("reopened: epoch %d, want %d", s.Epoch(), epoch)
	}
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
	if err := os.Remove(filepath.Join(dir, stateFile)); err != nil {
		t.Fatal(err)
	}

	clock.Advance(-3 * time.Hour) // the clock was set back
	s = openSpool(t, dir, cfg)
	if s.Epoch() <= first || s.Epoch() <= uint64(last.UnixNano()) {
		t.Fatalf("epoch %d after losing the state file; the old one was %d, the newest record %d",
			s.Epoch(), first, last.UnixNano())
	}
	if got := appendN(t, s, 4, 1); got[0] != 5 {
		t.Errorf("next seq = %d, want 5 (the segments still say where seqs stand)", got[0])
	}
}
