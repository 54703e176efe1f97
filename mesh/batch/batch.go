// Package batch turns many concurrent requests into few batches, with no
// timer: the masters gather lease operations into Raft entries with it, and
// collectors gather their product's acquires and releases into one call.
package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrClosed is the error of requests still queued when the coalescer's Run
// ends.
var ErrClosed = errors.New("batch: shutting down")

// Coalescer turns many concurrent requests into few batches. It never waits
// for a timer: a batch leaves as soon as a flush slot is free, and whatever
// arrives while the slots are busy rides in the next one. At low load every
// request goes alone with no added latency; under load the batches grow by
// themselves, which is what lets one Raft entry carry hundreds of grants.
type Coalescer[Op, Res any] struct {
	flush    func(ctx context.Context, ops []Op) ([]Res, error)
	maxBatch int
	slots    chan struct{} // one token per batch in flight
	in       chan pending[Op, Res]
	wg       sync.WaitGroup
}

type pending[Op, Res any] struct {
	ctx  context.Context
	op   Op
	done chan outcome[Res]
}

type outcome[Res any] struct {
	res Res
	err error
}

// New returns a coalescer that calls flush with at most maxBatch
// operations and at most inflight batches at once.
func New[Op, Res any](maxBatch, inflight int, flush func(context.Context, []Op) ([]Res, error)) *Coalescer[Op, Res] {
	return &Coalescer[Op, Res]{
		flush:    flush,
		maxBatch: maxBatch,
		slots:    make(chan struct{}, inflight),
		in:       make(chan pending[Op, Res], maxBatch*inflight),
	}
}

// Run gathers and flushes batches until ctx ends; requests still queued then
// fail with ErrClosed.
func (c *Coalescer[Op, Res]) Run(ctx context.Context) error {
	defer func() {
		c.wg.Wait()
		for {
			select {
			case p := <-c.in:
				p.done <- outcome[Res]{err: ErrClosed}
			default:
				return
			}
		}
	}()
	for {
		var first pending[Op, Res]
		select {
		case <-ctx.Done():
			return nil
		case first = <-c.in:
		}
		select {
		case <-ctx.Done():
			first.done <- outcome[Res]{err: ErrClosed}
			return nil
		case c.slots <- struct{}{}:
		}
		batch := []pending[Op, Res]{first}
	gather:
		for len(batch) < c.maxBatch {
			select {
			case p := <-c.in:
				batch = append(batch, p)
			default:
				break gather
			}
		}
		c.wg.Add(1)
		go func() {
			defer func() { <-c.slots; c.wg.Done() }()
			c.flushBatch(ctx, batch)
		}()
	}
}

func (c *Coalescer[Op, Res]) flushBatch(ctx context.Context, batch []pending[Op, Res]) {
	live := batch[:0:0]
	ops := make([]Op, 0, len(batch))
	for _, p := range batch {
		// A caller that gave up before its op left must not have it applied.
		if err := p.ctx.Err(); err != nil {
			p.done <- outcome[Res]{err: err}
			continue
		}
		live = append(live, p)
		ops = append(ops, p.op)
	}
	if len(ops) == 0 {
		return
	}
	res, err := c.flush(ctx, ops)
	if err == nil && len(res) != len(ops) {
		err = fmt.Errorf("batch: %d operations got %d results", len(ops), len(res))
	}
	for i, p := range live {
		if err != nil {
			p.done <- outcome[Res]{err: err}
			continue
		}
		p.done <- outcome[Res]{res: res[i]}
	}
}

// Queued is how many requests wait for a batch.
func (c *Coalescer[Op, Res]) Queued() int { return len(c.in) }

// DoMany queues ops together, so they ride in as few batches as the load
// allows, and waits for all their results, in order.
func (c *Coalescer[Op, Res]) DoMany(ctx context.Context, ops []Op) ([]Res, []error) {
	res := make([]Res, len(ops))
	errs := make([]error, len(ops))
	done := make([]chan outcome[Res], len(ops))
	for i, op := range ops {
		ch := make(chan outcome[Res], 1)
		select {
		case c.in <- pending[Op, Res]{ctx: ctx, op: op, done: ch}:
			done[i] = ch
		case <-ctx.Done():
			errs[i] = ctx.Err()
		}
	}
	for i, ch := range done {
		if ch == nil {
			continue
		}
		select {
		case o := <-ch:
			res[i], errs[i] = o.res, o.err
		case <-ctx.Done():
			errs[i] = ctx.Err()
		}
	}
	return res, errs
}

// Do queues op and waits for its result. Once the op has left in a batch,
// ctx ending no longer stops it: the caller gets ctx's error, but the
// operation may still be applied (as with any write whose reply is lost).
func (c *Coalescer[Op, Res]) Do(ctx context.Context, op Op) (Res, error) {
	p := pending[Op, Res]{ctx: ctx, op: op, done: make(chan outcome[Res], 1)}
	var zero Res
	select {
	case c.in <- p:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	select {
	case o := <-p.done:
		return o.res, o.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}
