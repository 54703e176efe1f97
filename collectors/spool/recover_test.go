package spool

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordOffsets returns where each record of a clean segment file starts.
func recordOffsets(t testing.TB, path string) []int {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var offs []int
	for off := 0; off < len(raw); {
		_, n, err := decodeRecord(raw[off:])
		require.NoError(t, err, "%s at %d", path, off)
		offs = append(offs, off)
		off += n
	}
	return offs
}

// twoSegments makes the image that kill -9 leaves of a spool holding
// records 1..n in at least two segments (copied while it is open, so no
// Close has run), and returns its dir and the path of its newest segment.
func twoSegments(t *testing.T, cfg Config, n int) (string, string) {
	t.Helper()
	s := openSpool(t, t.TempDir(), cfg)
	appendN(t, s, 0, n)
	dir := copyDir(t, s.dir)
	closeSpool(t, s)
	segs := segmentFiles(t, dir)
	require.GreaterOrEqual(t, len(segs), 2, "segments; the test wants two")
	return dir, segs[len(segs)-1]
}

// TestTornTailAtEveryOffset simulates kill -9 (or power loss) in the middle
// of writing the last record: the file ends anywhere inside it.
func TestTornTailAtEveryOffset(t *testing.T) {
	cfg := smallConfig(t, newTestClock())
	const n = 90
	pristine, last := twoSegments(t, cfg, n)
	offs := recordOffsets(t, last)
	start := offs[len(offs)-1]
	fi, err := os.Stat(last)
	require.NoError(t, err)
	end := int(fi.Size())

	for cut := start; cut < end; cut++ {
		dir := copyDir(t, pristine)
		require.NoError(t, os.Truncate(filepath.Join(dir, filepath.Base(last)), int64(cut)))
		s := openSpool(t, dir, cfg)
		st := s.Stats()
		require.Equal(t, int64(cut-start), st.TornBytes, "cut at %d: Stats = %+v; want the torn bytes", cut, st)
		require.Zero(t, st.CorruptSegments, "cut at %d: Stats = %+v; want nothing corrupt", cut, st)
		require.Equal(t, uint64(n-1), st.LastSeq, "cut at %d: Stats = %+v; want the last seq", cut, st)
		recs := pendingAll(t, s, 0)
		require.Equal(t, seqRange(1, n-1), seqsOf(recs), "cut at %d: Pending seqs", cut)
		checkPayloads(t, recs, identity)
		// The torn record was never durable, so its seq is free again.
		require.Equal(t, uint64(n), appendN(t, s, n-1, 1)[0], "cut at %d: next seq", cut)
		closeSpool(t, s)
		s = openSpool(t, dir, cfg)
		st = s.Stats()
		require.Zero(t, st.TornBytes, "cut at %d: second Open Stats = %+v", cut, st)
		require.Equal(t, uint64(n), st.LastSeq, "cut at %d: second Open Stats = %+v", cut, st)
		checkPayloads(t, pendingAll(t, s, 0), identity)
		closeSpool(t, s)
	}
}

// TestTornTailGarbage covers a tail the file system extended without
// writing: zeros or stale bytes where the last record should be.
func TestTornTailGarbage(t *testing.T) {
	cfg := smallConfig(t, newTestClock())
	const n = 90
	pristine, last := twoSegments(t, cfg, n)
	offs := recordOffsets(t, last)
	start := offs[len(offs)-1]
	for name, fill := range map[string]byte{"zeros": 0, "stale": 0xA7} {
		dir := copyDir(t, pristine)
		path := filepath.Join(dir, filepath.Base(last))
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		tail := raw[start:]
		for i := headerSize / 2; i < len(tail); i++ {
			tail[i] = fill
		}
		require.NoError(t, os.WriteFile(path, append(raw, bytes.Repeat([]byte{fill}, 100)...), 0o600))
		s := openSpool(t, dir, cfg)
		st := s.Stats()
		assert.NotZero(t, st.TornBytes, "%s: Stats = %+v; want a torn tail", name, st)
		assert.Zero(t, st.CorruptSegments, "%s: Stats = %+v; want a torn tail", name, st)
		assert.Equal(t, uint64(n-1), st.LastSeq, "%s: Stats = %+v; want a torn tail", name, st)
		assert.Equal(t, seqRange(1, n-1), seqsOf(pendingAll(t, s, 0)), "%s: Pending seqs", name)
	}
}

// TestCorruptMiddleOfLastSegment flips each byte of a record that has others
// after it: that is corruption, not a torn write, at every position.
func TestCorruptMiddleOfLastSegment(t *testing.T) {
	cfg := smallConfig(t, newTestClock())
	const n = 90
	pristine, last := twoSegments(t, cfg, n)
	offs := recordOffsets(t, last)
	require.GreaterOrEqual(t, len(offs), 3, "records in the last segment; the test wants 3")
	victim := len(offs) - 3
	firstSeq, _ := parseSegmentName(filepath.Base(last))
	badSeq := firstSeq + uint64(victim)

	for pos := offs[victim]; pos < offs[victim+1]; pos++ {
		dir := copyDir(t, pristine)
		path := filepath.Join(dir, filepath.Base(last))
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		raw[pos] ^= 0xFF
		require.NoError(t, os.WriteFile(path, raw, 0o600))
		s := openSpool(t, dir, cfg)
		st := s.Stats()
		require.Equal(t, 1, st.CorruptSegments, "flip at %d: Stats = %+v; want one corrupt segment", pos, st)
		require.Zero(t, st.TornBytes, "flip at %d: Stats = %+v", pos, st)
		require.Equal(t, int64(len(raw)-offs[victim]), st.SkippedBytes, "flip at %d: Stats = %+v; skipped bytes", pos, st)
		require.Equal(t, seqRange(1, badSeq-1), seqsOf(pendingAll(t, s, 0)), "flip at %d: Pending seqs", pos)
		// The skipped records may have reached a master: their seqs stay used.
		require.Greater(t, appendN(t, s, 1000, 1)[0], uint64(n), "flip at %d: next seq reuses a skipped one", pos)
		got := pendingAll(t, s, badSeq-1)
		require.Len(t, got, 1, "flip at %d: after the corrupt segment, Pending = %v", pos, seqsOf(got))
		closeSpool(t, s)
	}
}

// TestCorruptOlderSegment damages a segment that is not the newest: the rest
// of it is skipped, every other segment is served, seqs go on.
func TestCorruptOlderSegment(t *testing.T) {
	cfg := smallConfig(t, newTestClock())
	const n = 150
	pristine, _ := twoSegments(t, cfg, n)
	dir := copyDir(t, pristine)
	segs := segmentFiles(t, dir)
	offs := recordOffsets(t, segs[0])
	victim := len(offs) / 2
	raw, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	raw[offs[victim]+headerSize+1] ^= 0x01
	require.NoError(t, os.WriteFile(segs[0], raw, 0o600))
	nextFirst, _ := parseSegmentName(filepath.Base(segs[1]))

	s := openSpool(t, dir, cfg)
	st := s.Stats()
	assert.Equal(t, 1, st.CorruptSegments, "Stats = %+v", st)
	assert.Equal(t, int64(len(raw)-offs[victim]), st.SkippedBytes, "Stats = %+v", st)
	assert.Zero(t, st.TornBytes, "Stats = %+v", st)
	want := append(seqRange(1, uint64(victim)), seqRange(nextFirst, n)...)
	recs := pendingAll(t, s, 0)
	assert.Equal(t, want, seqsOf(recs), "Pending seqs")
	checkPayloads(t, recs, identity)
	assert.Equal(t, uint64(n+1), appendN(t, s, n, 1)[0], "next seq")
	// Acknowledging past the damage deletes the damaged segment.
	require.NoError(t, s.Ack(nextFirst))
	_, err = os.Stat(segs[0])
	assert.ErrorIs(t, err, os.ErrNotExist, "the corrupt segment survived an ack past it")
}

// TestCorruptionFoundByPending damages a record after Open: Pending skips
// the rest of that segment, reports it once and serves the others.
func TestCorruptionFoundByPending(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, newTestClock())
	s := openSpool(t, dir, cfg)
	const n = 150
	appendN(t, s, 0, n)
	segs := segmentFiles(t, dir)
	offs := recordOffsets(t, segs[0])
	victim := 10
	f, err := os.OpenFile(segs[0], os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{0xEE}, int64(offs[victim]+headerSize))
	require.NoError(t, err)
	f.Close()
	nextFirst, _ := parseSegmentName(filepath.Base(segs[1]))
	want := append(seqRange(1, uint64(victim)), seqRange(nextFirst, n)...)
	for range 2 {
		require.Equal(t, want, seqsOf(pendingAll(t, s, 0)), "Pending seqs")
		st := s.Stats()
		require.Equal(t, 1, st.CorruptSegments, "Stats = %+v, want one corrupt segment", st)
	}
	assert.Equal(t, uint64(n+1), appendN(t, s, n, 1)[0], "next seq")
}
