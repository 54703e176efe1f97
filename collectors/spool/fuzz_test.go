package spool

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
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
			if !errors.Is(err, errShort) && !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v is neither short nor corrupt", err)
			}
			return
		}
		if n < headerSize || n > len(b) || len(rec.Payload) != n-headerSize || rec.Seq == 0 {
			t.Fatalf("decoded %d bytes of %d, payload %d, seq %d", n, len(b), len(rec.Payload), rec.Seq)
		}
		if again := encodeRecord(rec.Seq, rec.Time.UnixNano(), rec.Payload); !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, b[:n])
		}
		for cut := range n {
			if _, _, err := decodeRecord(b[:cut]); !errors.Is(err, errShort) {
				t.Fatalf("prefix of %d bytes: %v, want errShort", cut, err)
			}
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
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := smallConfig(t, newTestClock())
		cfg.Logger = nil
		cfg.Sync = false
		s, err := Open(dir, cfg)
		if err != nil {
			t.Fatalf("Open of a damaged segment failed: %v", err)
		}
		recs, err := s.Pending(0, 1<<20, 1<<30)
		if err != nil {
			t.Fatalf("Pending: %v", err)
		}
		if !slices.Equal(seqsOf(recs), seqRange(1, uint64(len(recs)))) {
			t.Fatalf("recovered seqs %v are not 1..n", seqsOf(recs))
		}
		st := s.Stats()
		if st.Records != uint64(len(recs)) {
			t.Fatalf("Stats.Records %d, Pending %d", st.Records, len(recs))
		}
		seq, err := s.Append(t.Context(), []byte("after"))
		if err != nil || seq <= uint64(len(recs)) {
			t.Fatalf("Append after recovery = %d, %v", seq, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// Recovery is stable: a second Open finds what the first kept.
		s, err = Open(dir, cfg)
		if err != nil {
			t.Fatalf("second Open: %v", err)
		}
		defer s.Close()
		again, err := s.Pending(0, 1<<20, 1<<30)
		if err != nil || len(again) != len(recs)+1 || again[len(again)-1].Seq != seq {
			t.Fatalf("second Open: %d records (%v), want %d then seq %d", len(again), err, len(recs), seq)
		}
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
