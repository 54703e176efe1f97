package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"slices"

	"github.com/licmesh/licmesh/mesh/diskfile"
)

// Append stores payload as a new record and returns its seq. With
// Config.Sync it returns once the record is durable; concurrent Appends
// share one sync. It never waits for room: when the spool is full it drops
// the oldest segment (see the package comment) and still succeeds.
//
// If ctx ends while the record waits for its sync, Append returns the seq
// with an error wrapping ctx.Err(): the record is written and will normally
// become durable, so the caller must not append it again. An error wrapping
// ErrSync means the disk failed; the record may or may not survive a crash.
// Any other error means nothing was stored.
func (s *Spool) Append(ctx context.Context, payload []byte) (uint64, error) {
	if len(payload) == 0 {
		return 0, fmt.Errorf("%w: empty payload", ErrInvalidArgument)
	}
	if len(payload) > s.cfg.MaxRecordBytes {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(payload), s.cfg.MaxRecordBytes)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// The payload and its CRC are done before taking the lock.
	buf := make([]byte, headerSize+len(payload))
	copy(buf[headerSize:], payload)
	payloadCRC := crc32.Checksum(payload, castagnoli)
	now := s.cfg.Clock.Now().UnixNano()

	s.mu.Lock()
	seq, drop, err := s.appendLocked(buf, payloadCRC, now)
	var st Stats
	if drop.records > 0 {
		st = s.statsLocked()
	}
	s.mu.Unlock()
	if drop.records > 0 {
		s.log.Warn("spool: full; dropped the oldest unacknowledged records",
			"dropped_records", drop.records, "dropped_segments", drop.segments,
			"first_seq", drop.last.First, "last_seq", drop.last.Last, "max_bytes", s.cfg.MaxBytes)
		if s.cfg.OnFull != nil {
			s.cfg.OnFull(st)
		}
	}
	if err != nil {
		return 0, err
	}
	if s.cfg.Sync {
		if err := s.waitDurable(ctx, seq); err != nil {
			return seq, err
		}
	}
	return seq, nil
}

// appendLocked writes one encoded record (header still blank) to the active
// segment, rotating and dropping first as needed.
func (s *Spool) appendLocked(buf []byte, payloadCRC uint32, unixNano int64) (uint64, dropTotals, error) {
	if s.closed {
		return 0, dropTotals{}, ErrClosed
	}
	need := int64(len(buf))
	act := s.active()
	if act.file == nil || s.rotateNext || (act.fileSize > 0 && act.fileSize+need > s.cfg.SegmentBytes) {
		if err := s.rotateLocked(); err != nil {
			return 0, dropTotals{}, err
		}
		act = s.active()
	}
	drop, err := s.makeRoomLocked(need)
	if err != nil {
		return 0, drop, err
	}
	seq := s.next
	putHeader(buf, len(buf)-headerSize, seq, unixNano)
	binary.LittleEndian.PutUint32(buf[crcOffset:], recordCRC(payloadCRC, buf))
	off := act.fileSize
	if n, err := act.file.WriteAt(buf, off); err != nil {
		// Take back a partial write so the segment stays whole; if that fails
		// too, leave the partial bytes to recovery and write elsewhere.
		if n > 0 {
			if terr := act.file.Truncate(off); terr != nil {
				s.rotateNext = true
				act.fileSize += int64(n)
				s.bytes += int64(n)
			}
		}
		return 0, drop, fmt.Errorf("spool: write %s: %w", act.name, err)
	}
	act.index.add(seq, off)
	act.last = seq
	act.size = off + need
	act.fileSize = off + need
	s.bytes += need
	s.next++
	return seq, drop, nil
}

// rotateLocked closes the active segment (after syncing it) and starts a new
// one at the next seq. On failure the old segment stays active, without a
// write handle, so that the next Append tries again.
func (s *Spool) rotateLocked() error {
	if n := len(s.segs); n > 0 {
		old := s.segs[n-1]
		if err := s.closeFileLocked(old); err != nil {
			// The next sync round fails with it, so that the Appends waiting
			// on the old segment's records hear of it; new records go to the
			// new segment.
			s.syncErr = err
			s.log.Warn("spool: sync of a full segment failed", "segment", old.name, "err", err)
		}
		if old.fileSize == 0 && old.first == s.next {
			// Never written, and its name is the one a new segment needs:
			// start it again instead.
			f, err := os.OpenFile(s.path(old.name), os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				s.rotateNext = true
				return fmt.Errorf("spool: reopen segment %s: %w", old.name, err)
			}
			s.fileMu.Lock()
			old.file, old.closeErr = f, nil
			s.fileMu.Unlock()
			s.rotateNext = false
			return nil
		}
	}
	name := segmentName(s.next)
	f, err := os.OpenFile(s.path(name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err == nil {
		if err = diskfile.SyncDir(s.dir); err != nil {
			f.Close()
			os.Remove(s.path(name))
		}
	}
	if err != nil {
		s.rotateNext = true
		return fmt.Errorf("spool: create segment %s: %w", name, err)
	}
	s.segs = append(s.segs, &segment{name: name, first: s.next, last: s.next - 1, file: f})
	s.rotateNext = false
	s.pruneLocked()
	return nil
}

// makeRoomLocked applies the full policy: while need more bytes would pass
// MaxBytes, delete the oldest segment other than the active one. Validate
// guarantees that the active segment alone leaves room.
func (s *Spool) makeRoomLocked(need int64) (dropTotals, error) {
	var d dropTotals
	for s.bytes+need > s.cfg.MaxBytes && len(s.segs) > 1 {
		old := s.segs[0]
		if err := os.Remove(s.path(old.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return d, fmt.Errorf("spool: full, and dropping %s failed: %w", old.name, err)
		}
		s.segs = slices.Delete(s.segs, 0, 1)
		s.bytes -= old.fileSize
		if lo := max(old.first, s.acked+1); old.last >= lo {
			d.records += old.last - lo + 1
			d.segments++
			if d.last.First == 0 {
				d.last.First = lo
			}
			d.last.Last = old.last
		}
	}
	if d.records == 0 {
		return d, nil
	}
	s.dropped.records += d.records
	s.dropped.segments += d.segments
	s.dropped.last = d.last
	if err := writeState(s.dir, s.persistedLocked()); err != nil {
		// The counts stay in memory and reach the file with the next write.
		s.log.Warn("spool: cannot save the drop counts", "err", err)
	}
	return d, nil
}
