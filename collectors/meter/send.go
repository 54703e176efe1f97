package meter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/licmesh/licmesh/collectors/failover"
	"github.com/licmesh/licmesh/collectors/spool"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// sendLoop delivers the spool until ctx ends or the spool is closed. It
// waits on kickc when there is nothing to send, so it costs nothing while
// idle.
func (m *Meter) sendLoop(ctx context.Context) {
	bo := failover.NewBackoff(m.cfg.RetryBase, m.cfg.RetryMax, m.opts.Rand)
	bs := bisect{full: m.cfg.BatchMaxRecords}
	for ctx.Err() == nil {
		recs, err := m.sp.Pending(0, bs.size(), m.cfg.BatchMaxBytes)
		if errors.Is(err, spool.ErrClosed) {
			return
		}
		if err == nil && len(recs) == 0 {
			select {
			case <-ctx.Done():
			case <-m.kickc:
			}
			continue
		}
		if err == nil {
			// Narrowing down a refused batch continues the report that was
			// refused: it does not wait for the pace.
			if wait := m.paceWait(); wait > 0 && !bs.active() {
				// Then read again: samples spooled meanwhile go along.
				if !m.sleep(ctx, wait) {
					return
				}
				continue
			}
			err = m.send(ctx, recs)
			if err != nil {
				err = m.settle(recs, err, &bs)
			}
			if err == nil {
				bs.passed(m.sp.Stats().AckedSeq)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !m.backOff(ctx, err, bo.Next()) {
				return
			}
			continue
		}
		if n := bo.Failures(); n > 0 {
			m.log.Info("meter: usage reports delivered again", "failures", n)
			bo.Reset()
		}
	}
}

// paceWait returns how long SendInterval still asks to wait since the last
// report.
func (m *Meter) paceWait() time.Duration {
	if m.cfg.SendInterval <= 0 {
		return 0
	}
	m.mu.Lock()
	last := m.st.lastReport
	m.mu.Unlock()
	if last.IsZero() {
		return 0
	}
	return last.Add(m.cfg.SendInterval).Sub(m.clock.Now())
}

// backOff records a failed report and waits before the next try; false
// when ctx ended meanwhile. It logs the 1st, 2nd, 4th, 8th... failure in a
// row, so that masters down for a day do not flood the log.
func (m *Meter) backOff(ctx context.Context, err error, wait time.Duration) bool {
	now := m.clock.Now()
	var n int
	m.update(func(c *counters) {
		c.failuresInRow++
		n = c.failuresInRow
		c.lastError, c.lastErrorAt, c.nextTry = err.Error(), now, now.Add(wait)
	})
	if n&(n-1) == 0 {
		m.log.Warn("meter: usage report failed; the records stay in the spool", "failures", n,
			"retry_in", wait.Round(time.Millisecond).String(), "error", err)
	}
	ok := m.sleep(ctx, wait)
	m.update(func(c *counters) { c.nextTry = time.Time{} })
	return ok
}

// sleep waits d on the meter's clock; false when ctx ended first.
func (m *Meter) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-m.clock.After(d):
		return true
	}
}

// settle deals with a failed report of recs that another try of the same
// report cannot fix, and returns nil when it did: a batch the masters
// refuse as invalid or too large is split (bs), a record refused alone is
// skipped, and an answer for a newer epoch moves this meter's epoch above
// it. Any other error is returned, to be retried after a backoff.
func (m *Meter) settle(recs []spool.Record, err error, bs *bisect) error {
	var newer *newerEpochError
	if errors.As(err, &newer) {
		m.mu.Lock()
		again := m.st.moveUnconfirmed
		m.mu.Unlock()
		if merr := m.moveEpoch(newer.sent, newer.theirs); merr != nil {
			return merr
		}
		if again {
			// Two spools taking turns above each other: resending at once
			// would have them do it as fast as the masters commit.
			return fmt.Errorf("%w: the masters knew a newer epoch again before any record went under the last one; is another collector running with this collector's identity?", ErrEpochMismatch)
		}
		return nil
	}
	reason, ok := batchFault(err)
	if !ok {
		return err
	}
	first, last := recs[0].Seq, recs[len(recs)-1].Seq
	if len(recs) > 1 {
		if !bs.active() {
			m.log.Info("meter: the masters refused a batch of usage records; sending it in smaller parts to find what they refuse",
				"first_seq", first, "last_seq", last, "records", len(recs), "reason", reason)
		}
		bs.refused(recs)
		return nil
	}
	// recs[0] is the first record past the spool's mark, so acknowledging
	// it skips it alone.
	prev := m.sp.Stats().AckedSeq
	if aerr := m.ack(prev, first, nil); aerr != nil {
		return aerr
	}
	m.log.Warn("meter: the masters refused a usage record; it is skipped and will not be sent again",
		"seq", first, "epoch", m.reportEpoch(), "reason", reason)
	m.update(func(c *counters) { c.rejected++ })
	return nil
}

// newerEpochError is an answer for a higher epoch than the one sent: the
// masters know a newer spool of this collector, and ignore this one.
type newerEpochError struct{ sent, theirs uint64 }

func (e *newerEpochError) Error() string {
	return fmt.Sprintf("%v: sent epoch %d, the masters know the newer epoch %d", ErrEpochMismatch, e.sent, e.theirs)
}

func (e *newerEpochError) Unwrap() error { return ErrEpochMismatch }

// reportEpoch is the epoch reports go under.
func (m *Meter) reportEpoch() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.epoch
}

// send reports one batch and acknowledges what the masters committed.
func (m *Meter) send(ctx context.Context, recs []spool.Record) error {
	epoch := m.reportEpoch()
	req := &licmeshv1.ReportUsageRequest{Installation: m.cfg.Installation, SpoolEpoch: epoch}
	for _, r := range recs {
		s := new(licmeshv1.UsageSample)
		if err := proto.Unmarshal(r.Payload, s); err != nil {
			// Its CRC held, so it is as it was written: no later try will
			// decode it either. The masters see its seq as a gap.
			m.update(func(c *counters) { c.undecodable++ })
			m.log.Warn("meter: skipping a spooled usage record that does not decode", "seq", r.Seq, "error", err)
			continue
		}
		req.Records = append(req.Records, &licmeshv1.UsageRecord{Seq: r.Seq, Sample: s})
	}
	first, last := recs[0].Seq, recs[len(recs)-1].Seq
	prev := m.sp.Stats().AckedSeq
	if len(req.Records) == 0 {
		// Nothing a master could take: only this spool's mark moves.
		return m.ack(prev, last, nil)
	}

	now := m.clock.Now()
	m.update(func(c *counters) { c.reports++; c.recordsSent += uint64(len(req.Records)); c.lastReport = now })
	sctx, cancel := context.WithTimeout(ctx, m.cfg.SendTimeout)
	resp, err := m.rep.ReportUsage(sctx, req)
	cancel()
	if err != nil {
		return fmt.Errorf("meter: report of seqs %d..%d: %w", first, last, err)
	}
	if got := resp.GetSpoolEpoch(); got > epoch {
		return &newerEpochError{sent: epoch, theirs: got}
	} else if got != epoch {
		return fmt.Errorf("%w: sent epoch %d, the answer is for epoch %d", ErrEpochMismatch, epoch, got)
	}
	acked := resp.GetAckedSeq()
	if acked <= prev {
		return fmt.Errorf("%w: sent seqs %d..%d, acked_seq %d is not past this spool's mark %d", ErrNoProgress, first, last, acked, prev)
	}
	if lastSeq := m.sp.Stats().LastSeq; acked > lastSeq {
		// The masters hold seqs of this epoch that this spool never handed
		// out: records up to acked will look like duplicates to them.
		m.log.Warn("meter: the masters acknowledged more than this spool ever wrote; later records up to it may be ignored as duplicates",
			"epoch", epoch, "acked_seq", acked, "last_seq", lastSeq)
	}
	// Only what was in this batch is acknowledged here: a master ahead of
	// it (after a crash lost an ack) is caught up by the next report. The
	// batch's undecodable tail, if any, goes with its last sent record.
	upto := min(acked, last)
	if acked >= req.Records[len(req.Records)-1].GetSeq() {
		upto = last
	}
	return m.ack(prev, upto, req.Records)
}

// ack moves the spool's mark from prev to upto and counts the sent records
// it covers.
func (m *Meter) ack(prev, upto uint64, sent []*licmeshv1.UsageRecord) error {
	if err := m.sp.Ack(upto); err != nil {
		return err
	}
	var n uint64
	for _, r := range sent {
		if r.GetSeq() > prev && r.GetSeq() <= upto {
			n++
		}
	}
	now := m.clock.Now()
	m.update(func(c *counters) {
		c.recordsAcked += n
		if sent != nil {
			c.lastAck, c.moveUnconfirmed = now, false
		}
		c.failuresInRow, c.lastError, c.lastErrorAt = 0, "", time.Time{}
	})
	return nil
}
