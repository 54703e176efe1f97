package batch

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	p := pending[int, int]{ctx: dead, op: 1, done: make(chan outcome[int], 1)}
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
	require.Less(t, flushes.Load(), int64(50), "flushes for 50 ops queued together")
}
