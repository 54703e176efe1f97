package spool

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func FuzzDecodeRecord(f *testing.F) {
	valid := encodeRecord(7, 1_700_000_000_000_000_000, []byte("users=3"))
	f.Add(valid)
	f.Add(valid[:headerSize])
	f.Add(append(append([]byte{}, valid...), valid...))
	f.Add([]byte{})
	f.Add(make([]byte, headerSize))
	bad := append([]byte{}, valid...)
	bad[5] ^= 0x80 // a huge length
	f.Add(bad)
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, n, err := decodeRecord(b)
		if err != nil {
			require.True(t, errors.Is(err, errShort) || errors.Is(err, errCorrupt), "error %v is neither short nor corrupt", err)
			return
		}
		require.GreaterOrEqual(t, n, headerSize, "decoded bytes")
		require.LessOrEqual(t, n, len(b), "decoded bytes")
		require.Len(t, rec.Payload, n-headerSize, "payload")
		require.NotZero(t, rec.Seq, "seq")
		require.Equal(t, b[:n], encodeRecord(rec.Seq, rec.Time.UnixNano(), rec.Payload), "re-encoding differs")
		for cut := range n {
			_, _, err := decodeRecord(b[:cut])
			require.ErrorIs(t, err, errShort, "prefix of %d bytes", cut)
		}
	})
}

func FuzzOpenSegment(f *testing.F) {
	var seg []byte
	for i := range 5 {
		seg = append(seg, encodeRecord(uint64(i+1), int64(i), payloadFor(i))...)
	}
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	f.Add(append(append([]byte{}, seg...), 0, 0, 0))
	mid := append([]byte{}, seg...)
	mid[len(seg)/2] ^= 0x10
	f.Add(mid)
	f.Add([]byte("SP\x01\x00garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := scratchDir(t)
		require.NoError(t, os.WriteFile(filepath.Join(dir, segmentName(1)), data, 0o600))
		cfg := smallConfig(t, newTestClock())
		cfg.Logger = nil
		cfg.Sync = false
		s, err := Open(dir, cfg)
		require.NoError(t, err, "Open of a damaged segment failed")
		recs, err := s.Pending(0, 1<<20, 1<<30)
		require.NoError(t, err, "Pending")
		for i, r := range recs {
			require.Equal(t, uint64(i+1), r.Seq, "recovered seqs %v are not 1..n", seqsOf(recs))
		}
		require.Equal(t, uint64(len(recs)), s.Stats().Records, "Stats.Records against Pending")
		seq, err := s.Append(t.Context(), []byte("after"))
		require.NoError(t, err, "Append after recovery")
		require.Greater(t, seq, uint64(len(recs)), "Append after recovery")
		require.NoError(t, s.Close())
		// Recovery is stable: a second Open finds what the first kept.
		s, err = Open(dir, cfg)
		require.NoError(t, err, "second Open")
		defer s.Close()
		again, err := s.Pending(0, 1<<20, 1<<30)
		require.NoError(t, err, "second Open")
		require.Len(t, again, len(recs)+1, "second Open")
		require.Equal(t, seq, again[len(again)-1].Seq, "second Open: the last record")
	})
}

// scratchDir returns a temporary directory, on tmpfs when /dev/shm has one,
// for tests that open hundreds of spools from crash images: every Open and
// Close syncs files and directories, and on a real disk those syncs, not the
// code under test, would set the pace.
func scratchDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "spoolfuzz")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
