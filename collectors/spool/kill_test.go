package spool

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
)

// killChildEnv names the spool dir when the test binary runs as the child of
// TestKill9.
const killChildEnv = "SPOOL_TEST_KILL_CHILD_DIR"

// TestMain lets the test binary be the process TestKill9 kills.
func TestMain(m *testing.M) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		killChild(dir)
		return
	}
	os.Exit(m.Run())
}

// killChild appends from several goroutines until killed, printing
// "seq key" for every Append that returned.
func killChild(dir string) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 4 << 10
	cfg.MaxRecordBytes = 1 << 10
	cfg.MaxBytes = 64 << 20
	s, err := Open(dir, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				key := w*1_000_000 + i
				seq, err := s.Append(context.Background(), payloadFor(key))
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(out, "%d %d\n", seq, key)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestKill9 kills a process in the middle of concurrent appends: every
// record whose Append returned is there after Open, with its payload, and
// seqs go on from the last one on disk.
func TestKill9(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = tWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	acked := map[uint64]int{}
	sc := bufio.NewScanner(stdout)
	for len(acked) < 500 && sc.Scan() {
		var seq uint64
		var key int
		if _, err := fmt.Sscanf(sc.Text(), "%d %d", &seq, &key); err != nil {
			t.Fatalf("child said %q: %v", sc.Text(), err)
		}
		acked[seq] = key
	}
	if len(acked) < 500 {
		t.Fatalf("child stopped after %d appends: %v", len(acked), sc.Err())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// Appends that returned before the kill but were not read yet.
	for sc.Scan() {
		var seq uint64
		var key int
		if _, err := fmt.Sscanf(sc.Text(), "%d %d", &seq, &key); err == nil {
			acked[seq] = key
		}
	}

	cfg := smallConfig(t, newTestClock())
	cfg.MaxBytes = 64 << 20
	s := openSpool(t, dir, cfg)
	st := s.Stats()
	t.Logf("after kill -9: %+v", st)
	recs := pendingAll(t, s, 0)
	if !slices.Equal(seqsOf(recs), seqRange(1, st.LastSeq)) || st.CorruptSegments != 0 {
		t.Fatalf("recovered seqs are not 1..%d (%d records, stats %+v)", st.LastSeq, len(recs), st)
	}
	got := map[uint64][]byte{}
	for _, r := range recs {
		got[r.Seq] = r.Payload
	}
	for seq, key := range acked {
		if string(got[seq]) != string(payloadFor(key)) {
			t.Fatalf("seq %d: payload %q after the kill, want %q", seq, got[seq], payloadFor(key))
		}
	}
	if next := appendN(t, s, 0, 1)[0]; next != st.LastSeq+1 {
		t.Errorf("next seq %d, want %d", next, st.LastSeq+1)
	}
}
