package spool

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// recordOffsets returns where each record of a clean segment file starts.
func recordOffsets(t testing.TB, path string) []int {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int
	for off := 0; off < len(raw); {
		_, n, err := decodeRecord(raw[off:])
		if err != nil {
			t.Fatalf("%s at %d: %v", path, off, err)
		}
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
	if len(segs) < 2 {
		t.Fatalf("%d segments; the test wants two", len(segs))
	}
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
	if err != nil {
		t.Fatal(err)
	}
	end := int(fi.Size())

	for cut := start; cut < end; cut++ {
		dir := copyDir(t, pristine)
		if err := os.Truncate(filepath.Join(dir, filepath.Base(last)), int64(cut)); err != nil {
			t.Fatal(err)
		}
		s := openSpool(t, dir, cfg)
		st := s.Stats()
		if st.TornBytes != int64(cut-start) || st.CorruptSegments != 0 || st.LastSeq != n-1 {
			t.Fatalf("cut at %d: Stats = %+v; want %d torn bytes, nothing corrupt, last seq %d", cut, st, cut-start, n-1)
		}
		recs := pendingAll(t, s, 0)
		if !slices.Equal(seqsOf(recs), seqRange(1, n-1)) {
			t.Fatalf("cut at %d: Pending seqs = %v", cut, seqsOf(recs))
		}
		checkPayloads(t, recs, identity)
		// The torn record was never durable, so its seq is free again.
		if got := appendN(t, s, n-1, 1); got[0] != n {
			t.Fatalf("cut at %d: next seq %d, want %d", cut, got[0], n)
		}
		closeSpool(t, s)
		s = openSpool(t, dir, cfg)
		if st := s.Stats(); st.TornBytes != 0 || st.LastSeq != n {
			t.Fatalf("cut at %d: second Open Stats = %+v", cut, st)
		}
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
		if err != nil {
			t.Fatal(err)
		}
		tail := raw[start:]
		for i := headerSize / 2; i < len(tail); i++ {
			tail[i] = fill
		}
		if err := os.WriteFile(path, append(raw, bytes.Repeat([]byte{fill}, 100)...), 0o600); err != nil {
			t.Fatal(err)
		}
		s := openSpool(t, dir, cfg)
		if st := s.Stats(); st.TornBytes == 0 || st.CorruptSegments != 0 || st.LastSeq != n-1 {
			t.Errorf("%s: Stats = %+v; want a torn tail", name, st)
		}
		if got := seqsOf(pendingAll(t, s, 0)); !slices.Equal(got, seqRange(1, n-1)) {
			t.Errorf("%s: Pending seqs = %v", name, got)
		}
	}
}

// TestCorruptMiddleOfLastSegment flips each byte of a record that has others
// after it: that is corruption, not a torn write, at every position.
func TestCorruptMiddleOfLastSegment(t *testing.T) {
	cfg := smallConfig(t, newTestClock())
	const n = 90
	pristine, last := twoSegments(t, cfg, n)
	offs := recordOffsets(t, last)
	if len(offs) < 3 {
		t.Fatalf("%d records in the last segment; the test wants 3", len(offs))
	}
	victim := len(offs) - 3
	firstSeq, _ := parseSegmentName(filepath.Base(last))
	badSeq := firstSeq + uint64(victim)

	for pos := offs[victim]; pos < offs[victim+1]; pos++ {
		dir := copyDir(t, pristine)
		path := filepath.Join(dir, filepath.Base(last))
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		raw[pos] ^= 0xFF
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		s := openSpool(t, dir, cfg)
		st := s.Stats()
		if st.CorruptSegments != 1 || st.TornBytes != 0 || st.SkippedBytes != int64(len(raw)-offs[victim]) {
			t.Fatalf("flip at %d: Stats = %+v; want one corrupt segment, %d skipped bytes", pos, st, len(raw)-offs[victim])
		}
		if got := seqsOf(pendingAll(t, s, 0)); !slices.Equal(got, seqRange(1, badSeq-1)) {
			t.Fatalf("flip at %d: Pending seqs = %v", pos, got)
		}
		// The skipped records may have reached a master: their seqs stay used.
		if got := appendN(t, s, 1000, 1); got[0] <= n {
			t.Fatalf("flip at %d: next seq %d reuses a skipped one", pos, got[0])
		}
		if got := pendingAll(t, s, badSeq-1); len(got) != 1 {
			t.Fatalf("flip at %d: after the corrupt segment, Pending = %v", pos, seqsOf(got))
		}
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
	if err != nil {
		t.Fatal(err)
	}
	raw[offs[victim]+headerSize+1] ^= 0x01
	if err := os.WriteFile(segs[0], raw, 0o600); err != nil {
		t.Fatal(err)
	}
	nextFirst, _ := parseSegmentName(filepath.Base(segs[1]))

	s := openSpool(t, dir, cfg)
	st := s.Stats()
	if st.CorruptSegments != 1 || st.SkippedBytes != int64(len(raw)-offs[victim]) || st.TornBytes != 0 {
		t.Errorf("Stats = %+v", st)
	}
	want := append(seqRange(1, uint64(victim)), seqRange(nextFirst, n)...)
	recs := pendingAll(t, s, 0)
	if !slices.Equal(seqsOf(recs), want) {
		t.Errorf("Pending seqs = %v, want %v", seqsOf(recs), want)
	}
	checkPayloads(t, recs, identity)
	if got := appendN(t, s, n, 1); got[0] != n+1 {
		t.Errorf("next seq = %d, want %d", got[0], n+1)
	}
	// Acknowledging past the damage deletes the damaged segment.
	if err := s.Ack(nextFirst); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(segs[0]); !os.IsNotExist(err) {
		t.Errorf("the corrupt segment survived an ack past it: %v", err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xEE}, int64(offs[victim]+headerSize)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	nextFirst, _ := parseSegmentName(filepath.Base(segs[1]))
	want := append(seqRange(1, uint64(victim)), seqRange(nextFirst, n)...)
	for range 2 {
		if got := seqsOf(pendingAll(t, s, 0)); !slices.Equal(got, want) {
			t.Fatalf("Pending seqs = %v, want %v", got, want)
		}
		if st := s.Stats(); st.CorruptSegments != 1 {
			t.Fatalf("Stats = %+v, want one corrupt segment", st)
		}
	}
	if got := appendN(t, s, n, 1); got[0] != n+1 {
		t.Errorf("next seq = %d", got[0])
	}
}
