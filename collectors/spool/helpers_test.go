package spool

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"
)

// testClock is an injected clock that moves only when told.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// tWriter sends log lines to t.Log.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// smallConfig is a spool of 4 KiB segments and 16 KiB in all, so tests
// cross segment boundaries and the bound with few records.
func smallConfig(t testing.TB, clock *testClock) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.MaxRecordBytes = 1 << 10
	cfg.SegmentBytes = 4 << 10
	cfg.MaxBytes = 16 << 10
	cfg.Now = clock.Now
	cfg.Logger = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return cfg
}

// openSpool opens dir and closes it when the test ends.
func openSpool(t testing.TB, dir string, cfg Config) *Spool {
	t.Helper()
	s, err := Open(dir, cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// closeSpool closes s, failing the test on error.
func closeSpool(t testing.TB, s *Spool) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// payloadFor is the payload the tests store under key i.
func payloadFor(i int) []byte {
	return fmt.Appendf(nil, "sample-%06d|users=%d|cases=%d", i, i%97, i*7)
}

// appendN appends payloadFor(from..from+n-1) and returns their seqs.
func appendN(t testing.TB, s *Spool, from, n int) []uint64 {
	t.Helper()
	seqs := make([]uint64, 0, n)
	for i := from; i < from+n; i++ {
		seq, err := s.Append(t.Context(), payloadFor(i))
		if err != nil {
			t.Fatalf("Append(%d): %v", i, err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// pendingAll returns every pending record after afterSeq.
func pendingAll(t testing.TB, s *Spool, afterSeq uint64) []Record {
	t.Helper()
	recs, err := s.Pending(afterSeq, 1<<20, 1<<30)
	if err != nil {
		t.Fatalf("Pending(%d): %v", afterSeq, err)
	}
	return recs
}

// seqsOf returns the records' seqs.
func seqsOf(recs []Record) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

// seqRange returns from..to inclusive.
func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// segmentFiles lists dir's segment files, oldest first.
func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(matches)
	return matches
}

// copyDir copies the regular files of src into a new scratch dir.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := scratchDir(t)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// checkPayloads checks that each record holds payloadFor(key(seq)).
func checkPayloads(t testing.TB, recs []Record, key func(seq uint64) int) {
	t.Helper()
	for _, r := range recs {
		if want := payloadFor(key(r.Seq)); !bytes.Equal(r.Payload, want) {
			t.Fatalf("seq %d: payload %q, want %q", r.Seq, r.Payload, want)
		}
	}
}

// identity maps seq n to key n-1 (records appended from key 0 on a fresh
// spool).
func identity(seq uint64) int { return int(seq) - 1 }
