package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
)

// maxUnknownLogged bounds the names one log line lists.
const maxUnknownLogged = 10

// recover rebuilds the spool from the directory: state file, segments (torn
// tails truncated, corruption recorded), the next seq and the active segment.
func (s *Spool) recover() error {
	st, err := readState(s.dir)
	if err != nil {
		return err
	}
	s.acked = st.AckedSeq
	s.dropped.records, s.dropped.segments = st.DroppedRecords, st.DroppedSegments
	s.epoch = st.Epoch

	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("spool: list %s: %w", s.dir, err)
	}
	type found struct {
		name  string
		first uint64
	}
	var segs []found
	var unknown []string
	for _, e := range entries {
		switch name := e.Name(); {
		case name == lockFile || name == stateFile:
		case isStateTemp(name):
			// A state write that did not reach its rename; the old file stands.
			if err := os.Remove(s.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("spool: remove %s: %w", name, err)
			}
		default:
			first, ok := parseSegmentName(name)
			if !ok || !e.Type().IsRegular() {
				unknown = append(unknown, name)
				continue
			}
			segs = append(segs, found{name, first})
		}
	}
	if len(unknown) > 0 {
		s.unknown = len(unknown)
		s.log.Warn("spool: ignoring files that are not the spool's", "count", len(unknown), "names", unknown[:min(len(unknown), maxUnknownLogged)])
	}
	slices.SortFunc(segs, func(a, b found) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})

	next := max(st.NextSeq, s.acked+1, 1)
	var prevLast uint64
	for i, f := range segs {
		seg, floor, err := s.recoverSegment(f.name, f.first, i == len(segs)-1, prevLast)
		if err != nil {
			return err
		}
		s.segs = append(s.segs, seg)
		s.bytes += seg.fileSize
		prevLast = max(prevLast, seg.last)
		next = max(next, seg.first, seg.last+1, floor)
	}
	s.next = next
	if s.epoch == 0 {
		s.epoch = s.newEpoch()
	}

	if n := len(s.segs); n > 0 && s.reusable(s.segs[n-1]) {
		seg := s.segs[n-1]
		f, err := os.OpenFile(s.path(seg.name), os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("spool: open %s: %w", seg.name, err)
		}
		seg.file = f
		// After kill -9 its last records may sit in the page cache only.
		if err := datasync(f); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrSync, seg.name, err)
		}
	} else if err := s.rotateLocked(); err != nil {
		return err
	}
	s.synced = s.next - 1
	s.pruneLocked()
	return writeState(s.dir, s.persistedLocked())
}

// newEpoch picks the epoch of a spool whose state file has none: the time
// now in Unix nanoseconds, or just past the newest record the directory
// holds if the clock reads earlier. An earlier spool here chose its epoch
// before writing any of its records, so, unless the clock went back between
// the two, the new epoch is above the old one even when the old state file
// is gone. A wiped directory leaves nothing to compare with: the clock
// alone decides.
func (s *Spool) newEpoch() uint64 {
	var newest int64
	for _, seg := range s.segs {
		newest = max(newest, seg.newest)
	}
	epoch := uint64(max(s.cfg.Clock.Now().UnixNano(), newest+1, 1))
	s.log.Info("spool: new epoch", "epoch", epoch, "next_seq", s.next)
	return epoch
}

// reusable says whether appends may continue in seg after Open.
func (s *Spool) reusable(seg *segment) bool {
	return !seg.corrupt && seg.last+1 == s.next && seg.fileSize < s.cfg.SegmentBytes
}

// recoverSegment scans one segment file. floor is a lower bound for the next
// seq that the segment's skipped bytes impose: they may have held records a
// master has seen, whose seqs must not come back.
func (s *Spool) recoverSegment(name string, first uint64, isLast bool, prevLast uint64) (seg *segment, floor uint64, err error) {
	f, err := os.Open(s.path(name))
	if err != nil {
		return nil, 0, fmt.Errorf("spool: open %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("spool: stat %s: %w", name, err)
	}
	size := fi.Size()
	seg = &segment{name: name, first: first, last: first - 1, fileSize: size}
	if first <= prevLast {
		s.markCorruptLocked(seg, first, 0, fmt.Errorf("%w: first seq %d overlaps the previous segment, which ends at %d", errCorrupt, first, prevLast))
		return seg, 0, nil
	}
	res := scanSegment(f, size, first, isLast)
	seg.last, seg.size, seg.index, seg.newest = res.last, res.validEnd, res.index, res.newest
	if res.bad == nil {
		return seg, 0, nil
	}
	if res.torn {
		err := os.Truncate(s.path(name), res.validEnd)
		if err == nil {
			err = f.Sync()
		}
		if err == nil {
			s.torn += size - res.validEnd
			seg.fileSize = res.validEnd
			s.log.Info("spool: truncated a torn write left by a crash", "segment", name, "offset", res.validEnd, "bytes", size-res.validEnd, "reason", res.bad)
			return seg, 0, nil
		}
		s.log.Warn("spool: cannot truncate a torn write; treating it as corruption", "segment", name, "err", err)
	}
	s.markCorruptLocked(seg, res.last+1, res.validEnd, res.bad)
	skippedRecords := uint64((size - res.validEnd + headerSize - 1) / headerSize)
	return seg, res.last + 1 + skippedRecords, nil
}
