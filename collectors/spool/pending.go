package spool

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
)

// segView is what Pending needs of a segment, copied under the lock.
type segView struct {
	name        string
	first, last uint64 // last is capped at the durable seq
	size        int64
	index       segIndex
}

// Pending returns up to maxRecords durable, unacknowledged records with seqs
// above afterSeq, in seq order, whose payloads total at most maxBytes (the
// first record is returned even when it alone is larger, so a batch always
// makes progress). It returns no records when there are none.
//
// Seqs are consecutive except where records were lost: dropped by the full
// policy or skipped as corrupt, which Stats reports. Memory is bounded by
// the batch plus one read buffer; segments are never loaded whole.
func (s *Spool) Pending(afterSeq uint64, maxRecords, maxBytes int) ([]Record, error) {
	if maxRecords <= 0 {
		return nil, fmt.Errorf("%w: max_records %d is not positive", ErrInvalidArgument, maxRecords)
	}
	if maxBytes <= 0 {
		return nil, fmt.Errorf("%w: max_bytes %d is not positive", ErrInvalidArgument, maxBytes)
	}
	if afterSeq == math.MaxUint64 {
		return nil, nil
	}
	// Sync what is written but not yet durable: with Sync off that is every
	// recent record, with it on one whose Append gave up waiting (ctx). Only
	// durable records may reach a master, or a crash could bring their seq
	// back with another record.
	s.mu.Lock()
	closed, last := s.closed, s.next-1
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if err := s.waitDurable(context.Background(), last); err != nil {
		return nil, err
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	start := max(afterSeq, s.acked) + 1
	s.smu.Lock()
	durable := s.synced
	s.smu.Unlock()
	var views []segView
	for _, seg := range s.segs {
		if last := min(seg.last, durable); last >= start && last >= seg.first {
			views = append(views, segView{seg.name, seg.first, last, seg.size, seg.index})
		}
	}
	s.mu.Unlock()

	b := batch{start: start, maxRecords: maxRecords, budget: maxBytes}
	for _, v := range views {
		if err := s.readSegment(v, &b); err != nil {
			return nil, err
		}
		if b.full {
			break
		}
	}
	return b.out, nil
}

// batch is a Pending call's progress.
type batch struct {
	start      uint64
	maxRecords int
	budget     int
	out        []Record
	full       bool
}

// readSegment appends v's records from b.start on to b until b is full.
// A record that fails its check marks the segment corrupt from there on.
func (s *Spool) readSegment(v segView, b *batch) error {
	f, err := os.Open(s.path(v.name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // acknowledged or dropped since the snapshot
	}
	if err != nil {
		return fmt.Errorf("spool: open %s: %w", v.name, err)
	}
	defer f.Close()
	seq, off := v.index.locate(v.first, max(b.start, v.first))
	br := bufio.NewReaderSize(io.NewSectionReader(f, off, v.size-off), readBufSize)
	crc := crc32.New(castagnoli)
	var raw [headerSize]byte
	for ; seq <= v.last; seq++ {
		if len(b.out) == b.maxRecords {
			b.full = true
			return nil
		}
		rec, n, err := readRecord(br, raw[:], crc, seq, seq >= b.start, len(b.out) > 0, b.budget)
		if errors.Is(err, errBudget) {
			b.full = true
			return nil
		}
		if err != nil {
			s.markCorrupt(v.name, seq, off, fmt.Errorf("offset %d: %w", off, err))
			return nil
		}
		off += n
		if rec.Payload != nil {
			b.out = append(b.out, rec)
			b.budget -= len(rec.Payload)
		}
	}
	return nil
}

// errBudget stops a batch at a record that does not fit its byte budget.
var errBudget = errors.New("spool: batch byte budget reached")

// readRecord reads the record at br, which must have seq. Unless want, it
// skips the payload unchecked; otherwise it returns the record, or errBudget
// (reading nothing more) when limit applies and the payload is over budget.
func readRecord(br *bufio.Reader, raw []byte, crc hash32, seq uint64, want, limit bool, budget int) (Record, int64, error) {
	if _, err := io.ReadFull(br, raw); err != nil {
		return Record{}, 0, fmt.Errorf("%w: header of seq %d: %w", errShort, seq, err)
	}
	h, err := parseHeader(raw)
	if err != nil {
		return Record{}, 0, err
	}
	if h.seq != seq {
		return Record{}, 0, fmt.Errorf("%w: seq %d, want %d", errCorrupt, h.seq, seq)
	}
	n := int64(headerSize) + int64(h.length)
	if !want {
		if _, err := br.Discard(int(h.length)); err != nil {
			return Record{}, 0, fmt.Errorf("%w: payload of seq %d: %w", errShort, seq, err)
		}
		return Record{}, n, nil
	}
	if limit && int(h.length) > budget {
		return Record{}, 0, errBudget
	}
	payload := make([]byte, h.length)
	if _, err := io.ReadFull(br, payload); err != nil {
		return Record{}, 0, fmt.Errorf("%w: payload of seq %d: %w", errShort, seq, err)
	}
	crc.Reset()
	crc.Write(payload)
	if err := h.checkCRC(crc.Sum32(), raw); err != nil {
		return Record{}, 0, err
	}
	return h.record(payload), n, nil
}

// hash32 is the part of hash.Hash32 readRecord uses.
type hash32 interface {
	io.Writer
	Reset()
	Sum32() uint32
}

// Ack records that a master has committed every record up to uptoSeq: they
// are never returned again, and segments holding nothing newer are deleted.
// The mark is durable before Ack returns. An older mark is a no-op (a
// repeated acknowledgement); one beyond the last appended seq is refused
// with ErrAckAhead and changes nothing.
func (s *Spool) Ack(uptoSeq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if uptoSeq >= s.next {
		return fmt.Errorf("%w: ack of seq %d, last appended is %d", ErrAckAhead, uptoSeq, s.next-1)
	}
	if uptoSeq <= s.acked {
		return nil
	}
	prev := s.acked
	s.acked = uptoSeq
	if err := writeState(s.dir, s.persistedLocked()); err != nil {
		s.acked = prev
		return err
	}
	s.pruneLocked()
	return nil
}

// pruneLocked deletes the segments, other than the active one, that hold no
// unacknowledged record. A deletion that a crash undoes only brings back
// records the ack mark hides; one that fails is retried next time.
func (s *Spool) pruneLocked() {
	keep := s.segs[:0]
	for i, seg := range s.segs {
		if i < len(s.segs)-1 && seg.last <= s.acked {
			err := os.Remove(s.path(seg.name))
			if err == nil || errors.Is(err, fs.ErrNotExist) {
				s.bytes -= seg.fileSize
				continue
			}
			s.log.Warn("spool: cannot delete an acknowledged segment", "segment", seg.name, "err", err)
		}
		keep = append(keep, seg)
	}
	clear(s.segs[len(keep):])
	s.segs = keep
}

// markCorrupt records that segment name is bad from record seq, at off, on.
func (s *Spool) markCorrupt(name string, seq uint64, off int64, cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seg := range s.segs {
		if seg.name == name {
			if seg.last >= seq {
				s.markCorruptLocked(seg, seq, off, cause)
			}
			return
		}
	}
}

// markCorruptLocked cuts seg's valid records before seq, which starts at
// off, counts it and logs once.
func (s *Spool) markCorruptLocked(seg *segment, seq uint64, off int64, cause error) {
	var before int64 // skipped bytes already counted
	if seg.corrupt {
		before = seg.fileSize - seg.size
	} else {
		s.corrupt++
		seg.corrupt = true
	}
	seg.last = min(seg.last, seq-1)
	seg.size = min(seg.size, off)
	s.skipped += seg.fileSize - seg.size - before
	if len(s.segs) > 0 && seg == s.active() {
		s.rotateNext = true
	}
	s.log.Warn("spool: corrupt segment; skipping the rest of it", "segment", seg.name,
		"offset", off, "seq", seq, "skipped_bytes", seg.fileSize-seg.size, "reason", cause)
}
