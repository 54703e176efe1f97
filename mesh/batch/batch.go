// Package batch turns many concurrent requests into few batches, with no
// timer: the masters gather lease operations into Raft entries with it, and
// collectors gather their product's acquires and releases into one call.
package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
	orphans  func(ops []Op, res []Res)
}

// pending is one request: a group of operations that rides in one batch,
// in order, with one answer.
type pending[Op, Res any] struct {
	ctx  context.Context
	ops  []Op
	done chan outcome[Res]
	// state settles who has the outcome: the caller, or, if it gave up
	// first, the orphans hook. Exactly one of them does.
	state *atomic.Int32
}

func newPending[Op, Res any](ctx context.Context, ops []Op) pending[Op, Res] {
	return pending[Op, Res]{ctx: ctx, ops: ops, done: make(chan outcome[Res], 1), state: new(atomic.Int32)}
}

// pending states.
const (
	waiting   = iota
	answered  // the outcome is (or is about to be) in done
	abandoned // the caller left; a late outcome goes to the orphans hook
)

// answer hands o to p's caller, or to the orphans hook if the caller has
// gone.
func (c *Coalescer[Op, Res]) answer(p pending[Op, Res], o outcome[Res]) {
	if p.state.CompareAndSwap(waiting, answered) {
		p.done <- o
		return
	}
	if o.err == nil && c.orphans != nil {
		c.orphans(p.ops, o.res)
	}
}

type outcome[Res any] struct {
	res []Res
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

// OnOrphans sets fn to receive the results of operations whose caller gave
// up after they had left in a batch: they were applied (a seat granted, say)
// and nobody will hear of it, so fn can undo or record them. It runs on the
// batch's goroutine and must not block; call it before Run.
func (c *Coalescer[Op, Res]) OnOrphans(fn func(ops []Op, res []Res)) { c.orphans = fn }

// Run gathers and flushes batches until ctx ends; requests still queued then
// fail with ErrClosed.
func (c *Coalescer[Op, Res]) Run(ctx context.Context) error {
	defer func() {
		c.wg.Wait()
		for {
			select {
			case p := <-c.in:
				c.answer(p, outcome[Res]{err: ErrClosed})
			default:
				return
			}
		}
	}()
	// carry is a group that did not fit the last batch: the next begins
	// with it.
	var carry *pending[Op, Res]
	for {
		var first pending[Op, Res]
		if carry != nil {
			first, carry = *carry, nil
		} else {
			select {
			case <-ctx.Done():
				return nil
			case first = <-c.in:
			}
		}
		select {
		case <-ctx.Done():
			c.answer(first, outcome[Res]{err: ErrClosed})
			return nil
		case c.slots <- struct{}{}:
		}
		batch := []pending[Op, Res]{first}
		n := len(first.ops)
	gather:
		for n < c.maxBatch {
			select {
			case p := <-c.in:
				if n+len(p.ops) > c.maxBatch {
					carry = &p
					break gather
				}
				batch = append(batch, p)
				n += len(p.ops)
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
	var ops []Op
	for _, p := range batch {
		// A caller that gave up before its ops left must not have them
		// applied.
		if err := p.ctx.Err(); err != nil {
			c.answer(p, outcome[Res]{err: err})
			continue
		}
		live = append(live, p)
		ops = append(ops, p.ops...)
	}
	if len(ops) == 0 {
		return
	}
	res, err := c.flush(ctx, ops)
	if err == nil && len(res) != len(ops) {
		err = fmt.Errorf("batch: %d operations got %d results", len(ops), len(res))
	}
	off := 0
	for _, p := range live {
		if err != nil {
			c.answer(p, outcome[Res]{err: err})
			continue
		}
		c.answer(p, outcome[Res]{res: res[off : off+len(p.ops) : off+len(p.ops)]})
		off += len(p.ops)
	}
}

// Queued is how many requests wait for a batch.
func (c *Coalescer[Op, Res]) Queued() int { return len(c.in) }

// DoMany runs ops as one group, in one batch and in order (in groups of
// maxBatch when there are more), and waits for their results.
func (c *Coalescer[Op, Res]) DoMany(ctx context.Context, ops []Op) ([]Res, []error) {
	res := make([]Res, len(ops))
	errs := make([]error, len(ops))
	for lo := 0; lo < len(ops); lo += c.maxBatch {
		hi := min(lo+c.maxBatch, len(ops))
		r, err := c.do(ctx, ops[lo:hi])
		for i := lo; i < hi; i++ {
			if err != nil {
				errs[i] = err
				continue
			}
			res[i] = r[i-lo]
		}
	}
	return res, errs
}

// Do queues op and waits for its result. Once the op has left in a batch,
// ctx ending no longer stops it: the caller gets ctx's error, but the
// operation may still be applied, and its result then goes to the orphans
// hook (see OnOrphans).
func (c *Coalescer[Op, Res]) Do(ctx context.Context, op Op) (Res, error) {
	r, err := c.do(ctx, []Op{op})
	if err != nil {
		var zero Res
		return zero, err
	}
	return r[0], nil
}

func (c *Coalescer[Op, Res]) do(ctx context.Context, ops []Op) ([]Res, error) {
	p := newPending[Op, Res](ctx, ops)
	select {
	case c.in <- p:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case o := <-p.done:
		return o.res, o.err
	case <-ctx.Done():
		if p.state.CompareAndSwap(waiting, abandoned) {
			return nil, ctx.Err()
		}
		// An outcome that came at the same moment wins: an operation
		// applied must not be reported as given up.
		o := <-p.done
		return o.res, o.err
	}
}
