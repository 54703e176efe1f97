package e2e

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
)

// TestReservationsThroughLeaderKill: ten holders in two departments and
// none compete for a five-seat hard pool where eng has 2 seats reserved
// and a cap of 3, and sales 2 reserved and a cap of 2, while the leader is
// killed with -9 and restarted. The leader never holds more than five
// leases nor a department above its cap, and the history of acquires and
// releases is linearizable against the seat model with the departments.
func TestReservationsThroughLeaderKill(t *testing.T) {
	t.Parallel()
	c, cols := startSite(t, harness.Options{}, seatPool, seatCount, "hard", 3)
	leader := c.Leader()
	for _, args := range [][]string{
		{"dept", "set", "eng", "--holders", "h0,h1,h2,h3"},
		{"dept", "set", "sales", "--holders", "h4,h5,h6"},
		{"dept", "reserve", "eng", "--pool", seatPool, "--reserved", "2", "--cap", "3"},
		{"dept", "reserve", "sales", "--pool", seatPool, "--reserved", "2", "--cap", "2"},
	} {
		_, errOut, code := leader.Meshctl(args...)
		require.Equal(t, 0, code, "%v: %s", args, errOut)
	}
	_, errOut, code := leader.Meshctl("dept", "reserve", "sales", "--pool", seatPool, "--reserved", "4")
	require.Equal(t, 1, code, "over-reserving")
	assert.Contains(t, errOut, "its reservations would hold 6")
	depts := []deptShare{{holders: 0b1111, reserved: 2, cap: 3}, {holders: 0b111_0000, reserved: 2, cap: 2}}
	caps := map[string]uint32{"eng": 3, "sales": 2}

	h := &history{start: time.Now()}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range holders {
		wg.Go(func() { runHolder(t, w, cols[w%len(cols)], h, stop) })
	}
	var samples atomic.Int64
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(150 * time.Millisecond):
			}
			m := c.Leader()
			if m == nil {
				continue
			}
			out, _, code := m.Meshctl("dept", "list", "-o", "json")
			if code != 0 {
				continue
			}
			var list struct {
				Departments []struct {
					Name string
					Held map[string]uint32
				}
			}
			if json.Unmarshal([]byte(out), &list) != nil {
				continue
			}
			samples.Add(1)
			for _, d := range list.Departments {
				assert.LessOrEqual(t, d.Held[seatPool], caps[d.Name], "department %s above its cap on the leader", d.Name)
			}
			out, _, code = m.Meshctl("lease", "list", "--pool", seatPool, "-o", "csv")
			if code == 0 {
				assert.LessOrEqual(t, strings.Count(out, "\n")-1, seatCount, "leases on the leader:\n%s", out)
			}
		}
	})

	time.Sleep(4 * time.Second)
	victim := c.Leader()
	require.NotNil(t, victim)
	t.Logf("killing leader %s", victim.ID)
	killedAt := time.Now()
	victim.Proc.Kill()
	require.Eventually(t, func() bool { return !h.firstGrantAfter(killedAt).IsZero() }, 15*time.Second, 50*time.Millisecond, "grants after the kill")
	victim.Start()
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()

	h.mu.Lock()
	ops := h.ops
	h.mu.Unlock()
	model := seatModelWith(seatCount, depts)
	res, info := porcupine.CheckOperationsVerbose(model.ToModel(), ops, time.Minute)
	t.Logf("history: %d operations, %d samples of the departments", len(ops), samples.Load())
	if res != porcupine.Ok {
		path := t.TempDir() + "/reservations.html"
		_ = porcupine.VisualizePath(model.ToModel(), info, path)
		t.Fatalf("seat history with reservations is not linearizable (%v); visualization in %s", res, path)
	}
	require.GreaterOrEqual(t, len(ops), 50, "operations: the run did not exercise the pool")
	assert.Positive(t, samples.Load())

	// The model is not vacuous: a grant past a department's cap is not a
	// history it accepts.
	bad := []porcupine.Operation{}
	for i := range 4 {
		bad = append(bad, porcupine.Operation{ClientId: i, Input: seatInput{acquire: true, holder: i}, Call: int64(2 * i), Output: outOK, Return: int64(2*i + 1)})
	}
	assert.False(t, porcupine.CheckOperations(model.ToModel(), bad), "four eng seats with a cap of 3 is not a legal history")
	assert.True(t, porcupine.CheckOperations(model.ToModel(), bad[:3]), "three are")
}
