package spool

import (
	"context"
	"errors"
	"fmt"
)

// syncRound is one group-commit sync: every record up to target is durable
// once done is closed and err is nil.
type syncRound struct {
	done   chan struct{}
	target uint64
	err    error
}

// waitDurable returns once seq is durable. The first waiter to find no sync
// running becomes the leader and syncs the active segment for everyone whose
// record was written by then; the others wait for that round and, if it did
// not cover them, run the next one. So N concurrent Appends cost about two
// syncs, not N.
func (s *Spool) waitDurable(ctx context.Context, seq uint64) error {
	var failed error
	for {
		s.smu.Lock()
		if s.synced >= seq {
			s.smu.Unlock()
			return nil
		}
		if failed != nil {
			s.smu.Unlock()
			return failed
		}
		if r := s.round; r != nil {
			s.smu.Unlock()
			select {
			case <-r.done:
				if r.err != nil && (seq <= r.target || errors.Is(r.err, ErrClosed)) {
					failed = r.err
				}
				continue
			case <-ctx.Done():
				return fmt.Errorf("spool: record %d written but not yet synced: %w", seq, ctx.Err())
			}
		}
		r := &syncRound{done: make(chan struct{})}
		s.round = r
		s.smu.Unlock()

		// The leader finishes its round whatever ctx says: others wait on it.
		target, synced, err := s.syncActive()
		s.smu.Lock()
		r.target, r.err = target, err
		if err == nil && target > s.synced {
			s.synced = target
		}
		if synced {
			s.syncs++
		}
		s.round = nil
		close(r.done)
		s.smu.Unlock()
		if err != nil {
			failed = err
		}
	}
}

// syncActive makes every record written so far durable and returns the last
// seq it covers. Records in older segments were synced when their segment
// was closed. synced says whether it called fdatasync itself.
func (s *Spool) syncActive() (target uint64, synced bool, err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, false, ErrClosed
	}
	seg, target, earlier := s.active(), s.next-1, s.syncErr
	s.syncErr = nil
	s.mu.Unlock()
	if earlier != nil {
		// A rotation failed to sync the previous segment: this round covers
		// its records too, so it fails, whatever this sync does.
		defer func() {
			if err == nil {
				err = earlier
			}
		}()
	}

	s.fileMu.Lock()
	if seg.file == nil {
		// Closed meanwhile by a rotation or Close, which synced it first.
		err = seg.closeErr
		s.fileMu.Unlock()
		return target, false, err
	}
	err = datasync(seg.file)
	s.fileMu.Unlock()
	if err != nil {
		// Whether the failed write-back reached the disk is unknown, and a
		// retried fsync may report success without writing it: take no more
		// records into this file.
		s.mu.Lock()
		s.rotateNext = true
		s.mu.Unlock()
		return target, true, fmt.Errorf("%w: %s: %w", ErrSync, seg.name, err)
	}
	return target, true, nil
}
