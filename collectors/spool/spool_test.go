package spool

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	clock := newTestClock()
	s := openSpool(t, t.TempDir(), smallConfig(t, clock))
	var times []time.Time
	for i := range 10 {
		times = append(times, clock.Now())
		seq, err := s.Append(t.Context(), payloadFor(i))
		if err != nil || seq != uint64(i+1) {
			t.Fatalf("Append(%d) = %d, %v; want %d", i, seq, err, i+1)
		}
		clock.Advance(time.Second)
	}
	recs := pendingAll(t, s, 0)
	if !slices.Equal(seqsOf(recs), seqRange(1, 10)) {
		t.Fatalf("Pending(0) seqs = %v", seqsOf(recs))
	}
	checkPayloads(t, recs, identity)
	for i, r := range recs {
		if !r.Time.Equal(times[i]) {
			t.Errorf("seq %d: time %v, want %v", r.Seq, r.Time, times[i])
		}
	}

	if got := seqsOf(pendingAll(t, s, 6)); !slices.Equal(got, seqRange(7, 10)) {
		t.Errorf("Pending(6) seqs = %v", got)
	}
	recs, err := s.Pending(0, 3, 1<<20)
	if err != nil || !slices.Equal(seqsOf(recs), seqRange(1, 3)) {
		t.Errorf("Pending(0, 3 records) = %v, %v", seqsOf(recs), err)
	}
	one := len(payloadFor(0))
	recs, err = s.Pending(0, 100, 2*one+1)
	if err != nil || !slices.Equal(seqsOf(recs), seqRange(1, 2)) {
		t.Errorf("Pending(0, 2.5 payloads of bytes) = %v, %v", seqsOf(recs), err)
	}
	recs, err = s.Pending(0, 100, 1)
	if err != nil || !slices.Equal(seqsOf(recs), []uint64{1}) {
		t.Errorf("Pending(0, 1 byte) = %v, %v; want the first record alone", seqsOf(recs), err)
	}

	if err := s.Ack(4); err != nil {
		t.Fatalf("Ack(4): %v", err)
	}
	if got := seqsOf(pendingAll(t, s, 0)); !slices.Equal(got, seqRange(5, 10)) {
		t.Errorf("after Ack(4), Pending(0) seqs = %v", got)
	}
	st := s.Stats()
	if st.Records != 6 || st.FirstSeq != 5 || st.LastSeq != 10 || st.DurableSeq != 10 || st.AckedSeq != 4 {
		t.Errorf("Stats = %+v", st)
	}
	if err := s.Ack(10); err != nil {
		t.Fatalf("Ack(10): %v", err)
	}
	if recs := pendingAll(t, s, 0); len(recs) != 0 {
		t.Errorf("after Ack(10), Pending = %v", seqsOf(recs))
	}
	if st := s.Stats(); st.Records != 0 || st.FirstSeq != 0 {
		t.Errorf("Stats after acking all = %+v", st)
	}
}

func TestRestartContinues(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, newTestClock())
	s := openSpool(t, dir, cfg)
	appendN(t, s, 0, 100) // ~ 3.5 KiB per 60 records: several segments
	if n := len(segmentFiles(t, dir)); n < 2 {
		t.Fatalf("%d segment files; the test wants several", n)
	}
	closeSpool(t, s)

	s = openSpool(t, dir, cfg)
	recs := pendingAll(t, s, 0)
	if !slices.Equal(seqsOf(recs), seqRange(1, 100)) {
		t.Fatalf("after restart, Pending seqs = %v", seqsOf(recs))
	}
	checkPayloads(t, recs, identity)
	if got := appendN(t, s, 100, 5); !slices.Equal(got, seqRange(101, 105)) {
		t.Errorf("after restart, seqs = %v, want 101..105", got)
	}
	checkPayloads(t, pendingAll(t, s, 0), identity)
}

func TestAckDeletesSegmentsAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, newTestClock())
	s := openSpool(t, dir, cfg)
	appendN(t, s, 0, 150)
	before := len(segmentFiles(t, dir))
	if err := s.Ack(120); err != nil {
		t.Fatalf("Ack(120): %v", err)
	}
	after := len(segmentFiles(t, dir))
	if after >= before {
		t.Errorf("Ack(120) left %d of %d segment files", after, before)
	}
	if err := s.Ack(50); err != nil {
		t.Errorf("Ack(50) after Ack(120) = %v; want a no-op", err)
	}
	if st := s.Stats(); st.AckedSeq != 120 || st.Segments != after {
		t.Errorf("Stats = %+v", st)
	}
	closeSpool(t, s)

	// Acknowledged records never come back, even from a segment that
	// still holds some.
	s = openSpool(t, dir, cfg)
	if got := seqsOf(pendingAll(t, s, 0)); !slices.Equal(got, seqRange(121, 150)) {
		t.Errorf("after restart, Pending seqs = %v", got)
	}
	if err := s.Ack(150); err != nil {
		t.Fatal(err)
	}
	if n := len(segmentFiles(t, dir)); n != 1 {
		t.Errorf("%d segment files after acking everything; want the active one", n)
	}
	closeSpool(t, s)

	// Without any segment, the seq still continues (from the state file).
	for _, f := range segmentFiles(t, dir) {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	s = openSpool(t, dir, cfg)
	if got := appendN(t, s, 150, 1); got[0] != 151 {
		t.Errorf("with no segments left, next seq = %d, want 151", got[0])
	}
	closeSpool(t, s)

	// Without the state file, the segments still say where seqs stand.
	if err := os.Remove(filepath.Join(dir, stateFile)); err != nil {
		t.Fatal(err)
	}
	s = openSpool(t, dir, cfg)
	if got := appendN(t, s, 151, 1); got[0] != 152 {
		t.Errorf("without the state file, next seq = %d, want 152", got[0])
	}
}

func TestAckAheadChangesNothing(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, smallConfig(t, newTestClock()))
	appendN(t, s, 0, 3)
	if err := s.Ack(4); !errors.Is(err, ErrAckAhead) {
		t.Fatalf("Ack(4) with 3 records = %v, want ErrAckAhead", err)
	}
	if got := seqsOf(pendingAll(t, s, 0)); !slices.Equal(got, seqRange(1, 3)) {
		t.Errorf("after a refused Ack, Pending = %v", got)
	}
	if st := s.Stats(); st.AckedSeq != 0 {
		t.Errorf("after a refused Ack, AckedSeq = %d", st.AckedSeq)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, newTestClock())
	s := openSpool(t, dir, cfg)
	ctx := t.Context()
	if _, err := s.Append(ctx, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Append(nil) = %v", err)
	}
	if _, err := s.Append(ctx, make([]byte, cfg.MaxRecordBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append(too large) = %v", err)
	}
	if seq, err := s.Append(ctx, make([]byte, cfg.MaxRecordBytes)); err != nil || seq != 1 {
		t.Errorf("Append(max size) = %d, %v", seq, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Append(cancelled, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Append(cancelled ctx) = %v", err)
	}
	if _, err := s.Pending(0, 0, 10); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Pending(max_records 0) = %v", err)
	}
	if _, err := s.Pending(0, 10, -1); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Pending(max_bytes -1) = %v", err)
	}
	if st := s.Stats(); st.LastSeq != 1 || st.Records != 1 {
		t.Errorf("refused calls changed the spool: %+v", st)
	}

	if _, err := Open(dir, cfg); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open of the same dir = %v, want ErrLocked", err)
	}
	closeSpool(t, s)
	if _, err := s.Append(ctx, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v", err)
	}
	if _, err := s.Pending(0, 1, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Pending after Close = %v", err)
	}
	if err := s.Ack(1); !errors.Is(err, ErrClosed) {
		t.Errorf("Ack after Close = %v", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
	if _, err := Open("", cfg); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Open(\"\") = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"zero record":        func(c *Config) { c.MaxRecordBytes = 0 },
		"huge record":        func(c *Config) { c.MaxRecordBytes = MaxRecordLimit + 1 },
		"segment too small":  func(c *Config) { c.SegmentBytes = int64(c.MaxRecordBytes) },
		"one segment in all": func(c *Config) { c.MaxBytes = c.SegmentBytes*2 - 1 },
	} {
		cfg := DefaultConfig()
		mutate(&cfg)
		if err := cfg.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate() = %v, want ErrInvalidConfig", name, err)
		}
		if _, err := Open(t.TempDir(), cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Open = %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestCorruptStateFileRefused(t *testing.T) {
	cfg := smallConfig(t, newTestClock())
	for name, content := range map[string]string{
		"garbage":       "not json",
		"unknown field": `{"version":1,"acked_seq":1,"next_seq":5,"extra":1}`,
		"version":       `{"version":9,"acked_seq":1,"next_seq":5}`,
		"ack past next": `{"version":1,"acked_seq":9,"next_seq":5}`,
		"trailing":      `{"version":1,"acked_seq":1,"next_seq":5} {}`,
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, stateFile), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, cfg)
		if !errors.Is(err, ErrCorruptState) {
			t.Errorf("%s: Open = %v, want ErrCorruptState", name, err)
		}
		if raw, _ := os.ReadFile(filepath.Join(dir, stateFile)); string(raw) != content {
			t.Errorf("%s: Open changed the state file", name)
		}
		// The lock was released: a fixed file opens.
		if err := os.Remove(filepath.Join(dir, stateFile)); err != nil {
			t.Fatal(err)
		}
		closeSpool(t, openSpool(t, dir, cfg))
	}
}

func TestUnknownFilesIgnored(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, newTestClock())
	for _, name := range []string{"notes.txt", "seg-1.log", "seg-00000000000000000000.log", "seg-0000000000000000000x.log"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("hello"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, segmentName(7)), 0o700); err != nil {
		t.Fatal(err)
	}
	s := openSpool(t, dir, cfg)
	if st := s.Stats(); st.UnknownFiles != 5 || st.CorruptSegments != 0 {
		t.Errorf("Stats = %+v, want 5 unknown files", st)
	}
	if got := appendN(t, s, 0, 1); got[0] != 1 {
		t.Errorf("first seq = %d", got[0])
	}
	if raw, err := os.ReadFile(filepath.Join(dir, "notes.txt")); err != nil || !bytes.Equal(raw, []byte("hello")) {
		t.Errorf("unknown file changed: %q, %v", raw, err)
	}
}

func TestSyncOffPendingSyncsFirst(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, newTestClock())
	cfg.Sync = false
	s := openSpool(t, dir, cfg)
	appendN(t, s, 0, 10)
	if st := s.Stats(); st.DurableSeq != 0 {
		t.Errorf("without Sync, DurableSeq = %d before Pending", st.DurableSeq)
	}
	if got := seqsOf(pendingAll(t, s, 0)); !slices.Equal(got, seqRange(1, 10)) {
		t.Errorf("Pending = %v", got)
	}
	if st := s.Stats(); st.DurableSeq != 10 || st.Syncs != 1 {
		t.Errorf("after Pending, Stats = %+v, want durable 10 after one sync", st)
	}
}
