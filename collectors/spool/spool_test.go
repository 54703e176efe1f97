package spool

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	clock := newTestClock()
	s := openSpool(t, t.TempDir(), smallConfig(t, clock))
	var times []time.Time
	for i := range 10 {
		times = append(times, clock.Now())
		seq, err := s.Append(t.Context(), payloadFor(i))
		require.NoError(t, err, "Append(%d)", i)
		require.Equal(t, uint64(i+1), seq, "Append(%d)", i)
		clock.Advance(time.Second)
	}
	recs := pendingAll(t, s, 0)
	require.Equal(t, seqRange(1, 10), seqsOf(recs), "Pending(0) seqs")
	checkPayloads(t, recs, identity)
	for i, r := range recs {
		assert.True(t, r.Time.Equal(times[i]), "seq %d: time %v, want %v", r.Seq, r.Time, times[i])
	}

	assert.Equal(t, seqRange(7, 10), seqsOf(pendingAll(t, s, 6)), "Pending(6) seqs")
	recs, err := s.Pending(0, 3, 1<<20)
	assert.NoError(t, err, "Pending(0, 3 records)")
	assert.Equal(t, seqRange(1, 3), seqsOf(recs), "Pending(0, 3 records)")
	one := len(payloadFor(0))
	recs, err = s.Pending(0, 100, 2*one+1)
	assert.NoError(t, err, "Pending(0, 2.5 payloads of bytes)")
	assert.Equal(t, seqRange(1, 2), seqsOf(recs), "Pending(0, 2.5 payloads of bytes)")
	recs, err = s.Pending(0, 100, 1)
	assert.NoError(t, err, "Pending(0, 1 byte)")
	assert.Equal(t, []uint64{1}, seqsOf(recs), "Pending(0, 1 byte); want the first record alone")

	require.NoError(t, s.Ack(4), "Ack(4)")
	assert.Equal(t, seqRange(5, 10), seqsOf(pendingAll(t, s, 0)), "after Ack(4), Pending(0) seqs")
	st := s.Stats()
	assert.Equal(t, uint64(6), st.Records, "Stats = %+v", st)
	assert.Equal(t, uint64(5), st.FirstSeq, "Stats = %+v", st)
	assert.Equal(t, uint64(10), st.LastSeq, "Stats = %+v", st)
	assert.Equal(t, uint64(10), st.DurableSeq, "Stats = %+v", st)
	assert.Equal(t, uint64(4), st.AckedSeq, "Stats = %+v", st)
	require.NoError(t, s.Ack(10), "Ack(10)")
	assert.Empty(t, seqsOf(pendingAll(t, s, 0)), "after Ack(10), Pending")
	st = s.Stats()
	assert.Zero(t, st.Records, "Stats after acking all = %+v", st)
	assert.Zero(t, st.FirstSeq, "Stats after acking all = %+v", st)
}

func TestRestartContinues(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, newTestClock())
	s := openSpool(t, dir, cfg)
	appendN(t, s, 0, 100) // ~ 3.5 KiB per 60 records: several segments
	require.GreaterOrEqual(t, len(segmentFiles(t, dir)), 2, "segment files; the test wants several")
	closeSpool(t, s)

	s = openSpool(t, dir, cfg)
	recs := pendingAll(t, s, 0)
	require.Equal(t, seqRange(1, 100), seqsOf(recs), "after restart, Pending seqs")
	checkPayloads(t, recs, identity)
	assert.Equal(t, seqRange(101, 105), appendN(t, s, 100, 5), "after restart, seqs")
	checkPayloads(t, pendingAll(t, s, 0), identity)
}

func TestAckDeletesSegmentsAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, newTestClock())
	s := openSpool(t, dir, cfg)
	appendN(t, s, 0, 150)
	before := len(segmentFiles(t, dir))
	require.NoError(t, s.Ack(120), "Ack(120)")
	after := len(segmentFiles(t, dir))
	assert.Less(t, after, before, "Ack(120) left too many segment files")
	assert.NoError(t, s.Ack(50), "Ack(50) after Ack(120); want a no-op")
	st := s.Stats()
	assert.Equal(t, uint64(120), st.AckedSeq, "Stats = %+v", st)
	assert.Equal(t, after, st.Segments, "Stats = %+v", st)
	closeSpool(t, s)

	// Acknowledged records never come back, even from a segment that
	// still holds some.
	s = openSpool(t, dir, cfg)
	assert.Equal(t, seqRange(121, 150), seqsOf(pendingAll(t, s, 0)), "after restart, Pending seqs")
	require.NoError(t, s.Ack(150))
	assert.Len(t, segmentFiles(t, dir), 1, "segment files after acking everything; want the active one")
	closeSpool(t, s)

	// Without any segment, the seq still continues (from the state file).
	for _, f := range segmentFiles(t, dir) {
		require.NoError(t, os.Remove(f))
	}
	s = openSpool(t, dir, cfg)
	assert.Equal(t, uint64(151), appendN(t, s, 150, 1)[0], "with no segments left, next seq")
	closeSpool(t, s)

	// Without the state file, the segments still say where seqs stand.
	require.NoError(t, os.Remove(filepath.Join(dir, stateFile)))
	s = openSpool(t, dir, cfg)
	assert.Equal(t, uint64(152), appendN(t, s, 151, 1)[0], "without the state file, next seq")
}

func TestAckAheadChangesNothing(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, smallConfig(t, newTestClock()))
	appendN(t, s, 0, 3)
	require.ErrorIs(t, s.Ack(4), ErrAckAhead, "Ack(4) with 3 records")
	assert.Equal(t, seqRange(1, 3), seqsOf(pendingAll(t, s, 0)), "after a refused Ack, Pending")
	assert.Zero(t, s.Stats().AckedSeq, "after a refused Ack, AckedSeq")
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, newTestClock())
	s := openSpool(t, dir, cfg)
	ctx := t.Context()
	_, err := s.Append(ctx, nil)
	assert.ErrorIs(t, err, ErrInvalidArgument, "Append(nil)")
	_, err = s.Append(ctx, make([]byte, cfg.MaxRecordBytes+1))
	assert.ErrorIs(t, err, ErrTooLarge, "Append(too large)")
	seq, err := s.Append(ctx, make([]byte, cfg.MaxRecordBytes))
	assert.NoError(t, err, "Append(max size)")
	assert.Equal(t, uint64(1), seq, "Append(max size)")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Append(cancelled, []byte("x"))
	assert.ErrorIs(t, err, context.Canceled, "Append(cancelled ctx)")
	_, err = s.Pending(0, 0, 10)
	assert.ErrorIs(t, err, ErrInvalidArgument, "Pending(max_records 0)")
	_, err = s.Pending(0, 10, -1)
	assert.ErrorIs(t, err, ErrInvalidArgument, "Pending(max_bytes -1)")
	st := s.Stats()
	assert.Equal(t, uint64(1), st.LastSeq, "refused calls changed the spool: %+v", st)
	assert.Equal(t, uint64(1), st.Records, "refused calls changed the spool: %+v", st)

	_, err = Open(dir, cfg)
	assert.ErrorIs(t, err, ErrLocked, "second Open of the same dir")
	closeSpool(t, s)
	_, err = s.Append(ctx, []byte("x"))
	assert.ErrorIs(t, err, ErrClosed, "Append after Close")
	_, err = s.Pending(0, 1, 1)
	assert.ErrorIs(t, err, ErrClosed, "Pending after Close")
	assert.ErrorIs(t, s.Ack(1), ErrClosed, "Ack after Close")
	assert.ErrorIs(t, s.Close(), ErrClosed, "second Close")
	_, err = Open("", cfg)
	assert.ErrorIs(t, err, ErrInvalidArgument, `Open("")`)
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate(), "DefaultConfig().Validate()")
	for name, mutate := range map[string]func(*Config){
		"zero record":        func(c *Config) { c.MaxRecordBytes = 0 },
		"huge record":        func(c *Config) { c.MaxRecordBytes = MaxRecordLimit + 1 },
		"segment too small":  func(c *Config) { c.SegmentBytes = int64(c.MaxRecordBytes) },
		"one segment in all": func(c *Config) { c.MaxBytes = c.SegmentBytes*2 - 1 },
	} {
		cfg := DefaultConfig()
		mutate(&cfg)
		assert.ErrorIs(t, cfg.Validate(), ErrInvalidConfig, "%s: Validate()", name)
		_, err := Open(t.TempDir(), cfg)
		assert.ErrorIs(t, err, ErrInvalidConfig, "%s: Open", name)
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
		require.NoError(t, os.WriteFile(filepath.Join(dir, stateFile), []byte(content), 0o600))
		_, err := Open(dir, cfg)
		assert.ErrorIs(t, err, ErrCorruptState, "%s: Open", name)
		raw, _ := os.ReadFile(filepath.Join(dir, stateFile))
		assert.Equal(t, content, string(raw), "%s: Open changed the state file", name)
		// The lock was released: a fixed file opens.
		require.NoError(t, os.Remove(filepath.Join(dir, stateFile)))
		closeSpool(t, openSpool(t, dir, cfg))
	}
}

func TestUnknownFilesIgnored(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, newTestClock())
	for _, name := range []string{"notes.txt", "seg-1.log", "seg-00000000000000000000.log", "seg-0000000000000000000x.log"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("hello"), 0o600))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, segmentName(7)), 0o700))
	s := openSpool(t, dir, cfg)
	st := s.Stats()
	assert.Equal(t, 5, st.UnknownFiles, "Stats = %+v, want 5 unknown files", st)
	assert.Zero(t, st.CorruptSegments, "Stats = %+v", st)
	assert.Equal(t, uint64(1), appendN(t, s, 0, 1)[0], "first seq")
	raw, err := os.ReadFile(filepath.Join(dir, "notes.txt"))
	assert.NoError(t, err, "unknown file")
	assert.Equal(t, []byte("hello"), raw, "unknown file changed")
}

func TestSyncOffPendingSyncsFirst(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, newTestClock())
	cfg.Sync = false
	s := openSpool(t, dir, cfg)
	appendN(t, s, 0, 10)
	assert.Zero(t, s.Stats().DurableSeq, "without Sync, DurableSeq before Pending")
	assert.Equal(t, seqRange(1, 10), seqsOf(pendingAll(t, s, 0)), "Pending")
	st := s.Stats()
	assert.Equal(t, uint64(10), st.DurableSeq, "after Pending, Stats = %+v, want durable 10 after one sync", st)
	assert.Equal(t, uint64(1), st.Syncs, "after Pending, Stats = %+v, want durable 10 after one sync", st)
}
