package batch

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBatchesUnderLoad(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var flushes, maxSeen atomic.Int64
	release := make(chan struct{})
	c := New(64, 1, func(_ context.Context, ops []int) ([]int, error) {
		n := flushes.Add(1)
		if n == 1 {
			<-release // hold the only slot so the rest pile up
		}
		if int64(len(ops)) > maxSeen.Load() {
			maxSeen.Store(int64(len(ops)))
		}
		out := make([]int, len(ops))
		for i, op := range ops {
			out[i] = op * 2
		}
		return out, nil
	})
	go c.Run(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.Do(ctx, i)
			if err != nil || r != i*2 {
				errs <- err
			}
		}()
	}
	// Wait until the first op's flush holds the only slot and the rest
	// have queued behind it (the queue holds 64).
	deadline := time.Now().Add(10 * time.Second)
	for (flushes.Load() != 1 || len(c.in) < 50) && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.FailNowf(t, "wrong result", "%v", err)
	}
	require.Less(t, flushes.Load(), int64(100), "no coalescing: flushes, largest batch %d", maxSeen.Load())
	require.GreaterOrEqual(t, maxSeen.Load(), int64(2), "no coalescing: largest batch, %d flushes", flushes.Load())
}

func TestCancelledBeforeFlushIsNotApplied(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var applied atomic.Int64
	c := New(8, 1, func(_ context.Context, ops []int) ([]int, error) {
		applied.Add(int64(len(ops)))
		return ops, nil
	})
	dead, kill := context.WithCancel(ctx)
	kill()
	// Queue directly so the op is in the channel with a dead context.
	p := newPending[int, int](dead, []int{1})
	c.in <- p
	go c.Run(ctx)
	o := <-p.done
	require.Error(t, o.err, "cancelled op reported success")
	require.Zero(t, applied.Load(), "cancelled op was applied")
}

func TestDoManyKeepsOrder(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var flushes atomic.Int64
	c := New(64, 1, func(_ context.Context, ops []int) ([]int, error) {
		flushes.Add(1)
		out := make([]int, len(ops))
		for i, op := range ops {
			out[i] = op + 1000
		}
		return out, nil
	})
	go c.Run(ctx)
	ops := make([]int, 50)
	for i := range ops {
		ops[i] = i
	}
	res, errs := c.DoMany(ctx, ops)
	for i := range ops {
		require.NoError(t, errs[i], "op %d", i)
		require.Equal(t, i+1000, res[i], "op %d", i)
	}
	require.Equal(t, int64(1), flushes.Load(), "50 ops queued together leave in one batch")
}

// TestGroupsStayWhole: a group of operations rides in one batch, whole; a
// group that does not fit the batch being gathered starts the next, and
// one larger than a batch is split in batch-sized groups.
func TestGroupsStayWhole(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var batches [][]int
	c := New(10, 1, func(_ context.Context, ops []int) ([]int, error) {
		mu.Lock()
		batches = append(batches, append([]int(nil), ops...))
		mu.Unlock()
		return ops, nil
	})
	group := func(from, n int) pending[int, int] {
		ops := make([]int, n)
		for i := range ops {
			ops[i] = from + i
		}
		return newPending[int, int](ctx, ops)
	}
	// Queued before Run starts, so that both wait together.
	a, b := group(100, 6), group(200, 6)
	c.in <- a
	c.in <- b
	go c.Run(ctx)
	for _, p := range []pending[int, int]{a, b} {
		o := <-p.done
		require.NoError(t, o.err)
		assert.Equal(t, p.ops, o.res)
	}
	ops := make([]int, 25) // larger than a batch: 10, 10, 5
	for i := range ops {
		ops[i] = 300 + i
	}
	res, errs := c.DoMany(ctx, ops)
	for i := range ops {
		require.NoError(t, errs[i])
		assert.Equal(t, ops[i], res[i])
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, batches, 5)
	assert.Equal(t, a.ops, batches[0], "the second group does not fit with the first")
	assert.Equal(t, b.ops, batches[1])
	assert.Equal(t, ops[:10], batches[2])
	assert.Equal(t, ops[10:20], batches[3])
	assert.Equal(t, ops[20:], batches[4])
}

// TestLateResultsGoToTheOrphansHook: an operation whose caller gives up
// after it left is applied all the same, and its result goes to the
// orphans hook; racing callers and answers, every applied operation is
// heard of exactly once, by its caller or by the hook.
func TestLateResultsGoToTheOrphansHook(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var applied atomic.Int64
	var mu sync.Mutex
	var orphaned []int
	c := New(16, 2, func(_ context.Context, ops []int) ([]int, error) {
		if ops[0] == -1 {
			entered <- struct{}{}
			<-release
		}
		for range 200 {
			runtime.Gosched() // a while at the masters, for deadlines to race
		}
		applied.Add(int64(len(ops)))
		return ops, nil
	})
	c.OnOrphans(func(ops, res []int) {
		require.Equal(t, ops, res)
		mu.Lock()
		orphaned = append(orphaned, res...)
		mu.Unlock()
	})
	go c.Run(ctx)

	// One caller that gives up while its operation is at the masters.
	cctx, ccancel := context.WithCancel(ctx)
	got := make(chan error, 1)
	go func() { _, err := c.Do(cctx, -1); got <- err }()
	<-entered
	ccancel()
	require.ErrorIs(t, <-got, context.Canceled)
	close(release)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(orphaned) == 1 }, 5*time.Second, time.Millisecond)
	mu.Lock()
	require.Equal(t, []int{-1}, orphaned)
	orphaned = nil
	mu.Unlock()

	// Many callers whose deadlines race their answers.
	applied.Store(0)
	var heard atomic.Int64
	var wg sync.WaitGroup
	for i := range 2000 {
		wg.Go(func() {
			dctx, dcancel := context.WithTimeout(ctx, time.Duration(i%40)*25*time.Microsecond)
			defer dcancel()
			if r, err := c.Do(dctx, i); err == nil {
				assert.Equal(t, i, r)
				heard.Add(1)
			}
		})
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return heard.Load()+int64(len(orphaned)) == applied.Load()
	}, 5*time.Second, time.Millisecond, "applied operations that nobody heard of, or heard of twice")
	mu.Lock()
	t.Logf("%d applied: %d answered, %d orphaned", applied.Load(), heard.Load(), len(orphaned))
	mu.Unlock()
}
