package spool

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.NoError(t, err)
	cmd.Stderr = tWriter{t}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	acked := map[uint64]int{}
	sc := bufio.NewScanner(stdout)
	for len(acked) < 500 && sc.Scan() {
		var seq uint64
		var key int
		_, err := fmt.Sscanf(sc.Text(), "%d %d", &seq, &key)
		require.NoError(t, err, "child said %q", sc.Text())
		acked[seq] = key
	}
	require.GreaterOrEqual(t, len(acked), 500, "child stopped early: %v", sc.Err())
	require.NoError(t, cmd.Process.Kill())
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
	require.Equal(t, seqRange(1, st.LastSeq), seqsOf(recs), "recovered seqs are not 1..%d (stats %+v)", st.LastSeq, st)
	require.Zero(t, st.CorruptSegments, "stats %+v", st)
	got := map[uint64][]byte{}
	for _, r := range recs {
		got[r.Seq] = r.Payload
	}
	for seq, key := range acked {
		require.Equal(t, string(payloadFor(key)), string(got[seq]), "seq %d: payload after the kill", seq)
	}
	assert.Equal(t, st.LastSeq+1, appendN(t, s, 0, 1)[0], "next seq")
}
