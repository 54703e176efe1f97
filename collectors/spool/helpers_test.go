package spool

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/clock/clocktest"
)

// newTestClock is an injected clock that moves only when told.
func newTestClock() *clocktest.Fake {
	return clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
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
func smallConfig(t testing.TB, clock *clocktest.Fake) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.MaxRecordBytes = 1 << 10
	cfg.SegmentBytes = 4 << 10
	cfg.MaxBytes = 16 << 10
	cfg.Clock = clock
	cfg.Logger = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return cfg
}

// openSpool opens dir and closes it when the test ends.
func openSpool(t testing.TB, dir string, cfg Config) *Spool {
	t.Helper()
	s, err := Open(dir, cfg)
	require.NoError(t, err, "Open(%s)", dir)
	t.Cleanup(func() {
		if err := s.Close(); !errors.Is(err, ErrClosed) {
			assert.NoError(t, err, "Close")
		}
	})
	return s
}

// closeSpool closes s, failing the test on error.
func closeSpool(t testing.TB, s *Spool) {
	t.Helper()
	require.NoError(t, s.Close(), "Close")
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
		require.NoError(t, err, "Append(%d)", i)
		seqs = append(seqs, seq)
	}
	return seqs
}

// pendingAll returns every pending record after afterSeq.
func pendingAll(t testing.TB, s *Spool, afterSeq uint64) []Record {
	t.Helper()
	recs, err := s.Pending(afterSeq, 1<<20, 1<<30)
	require.NoError(t, err, "Pending(%d)", afterSeq)
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
	require.NoError(t, err)
	sort.Strings(matches)
	return matches
}

// copyDir copies the regular files of src into a new scratch dir.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := scratchDir(t)
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), raw, 0o600))
	}
	return dst
}

// checkPayloads checks that each record holds payloadFor(key(seq)).
func checkPayloads(t testing.TB, recs []Record, key func(seq uint64) int) {
	t.Helper()
	for _, r := range recs {
		require.Equal(t, payloadFor(key(r.Seq)), r.Payload, "seq %d: payload", r.Seq)
	}
}

// identity maps seq n to key n-1 (records appended from key 0 on a fresh
// spool).
func identity(seq uint64) int { return int(seq) - 1 }
