package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Spool is a durable, bounded queue of records in one directory. Open it with
// Open; every method is safe for concurrent use.
type Spool struct {
	dir  string
	cfg  Config
	log  *slog.Logger
	lock *os.File

	// mu guards everything below it up to fileMu. Lock order: mu, then
	// fileMu or smu; never mu while holding either.
	mu         sync.Mutex
	closed     bool
	segs       []*segment // oldest first; never empty once open, the last is the active one
	next       uint64     // seq of the next Append
	acked      uint64
	bytes      int64 // sum of the segments' fileSize
	rotateNext bool  // the active segment must not take more records
	syncErr    error // a rotation's failed sync, for the next sync round
	dropped    dropTotals
	epoch      uint64 // set at Open, never changed
	corrupt    int    // segments found corrupt since Open
	skipped    int64  // bytes of them skipped
	torn       int64  // bytes truncated as torn tails at Open
	unknown    int    // files in dir that are not the spool's

	// fileMu is held to sync, close or set a segment's write handle, which
	// changes only under both mu and fileMu, so that the group-commit leader
	// never syncs a file that a rotation or Close is closing.
	fileMu sync.Mutex

	// smu guards the group-commit state.
	smu    sync.Mutex
	synced uint64     // every seq up to it is durable
	round  *syncRound // the sync in progress, nil when none
	syncs  uint64
}

// segment is one segment file.
type segment struct {
	name  string
	first uint64
	// last is the last valid seq; first-1 when there is none.
	last uint64
	// size is where the valid records end: the part Pending may read.
	size int64
	// fileSize is the file's size, counted against MaxBytes; beyond size
	// when the tail was skipped as corrupt.
	fileSize int64
	// newest is the latest record time found at Open (Unix ns), 0 for
	// segments written since.
	newest  int64
	corrupt bool
	index   segIndex
	// file is the write handle of the active segment, nil once closed (under
	// fileMu). closeErr is the result of the sync done before closing it.
	file     *os.File
	closeErr error
}

// dropTotals counts what the full policy dropped over the spool's life.
type dropTotals struct {
	records  uint64
	segments uint64
	last     SeqRange
}

// SeqRange is an inclusive range of seqs; zero when empty.
type SeqRange struct {
	First, Last uint64
}

// Stats describes a spool at one moment.
type Stats struct {
	// Epoch is the spool's epoch (see Spool.Epoch).
	Epoch uint64
	// Records is how many unacknowledged records the spool holds, and
	// Bytes the size of its segment files (records, headers and skipped
	// bytes).
	Records  uint64
	Bytes    int64
	Segments int
	// FirstSeq is the first unacknowledged record held, 0 when none.
	// LastSeq is the last seq handed out, DurableSeq the last known on disk,
	// AckedSeq the acknowledgement mark.
	FirstSeq   uint64
	LastSeq    uint64
	DurableSeq uint64
	AckedSeq   uint64
	// DroppedRecords and DroppedSegments count unacknowledged records and
	// segments the full policy deleted over the spool's life (they survive
	// restarts); LastDropped is the seq range of the latest drop since Open.
	DroppedRecords  uint64
	DroppedSegments uint64
	LastDropped     SeqRange
	// CorruptSegments counts segments found corrupt since Open and
	// SkippedBytes what was skipped in them; TornBytes is what Open
	// truncated as torn writes.
	CorruptSegments int
	SkippedBytes    int64
	TornBytes       int64
	// UnknownFiles counts files in the directory that Open ignored.
	UnknownFiles int
	// Syncs counts fdatasync calls for appended records since Open; with
	// group commit it is well below the number of appends.
	Syncs uint64
}

// Open opens the spool in dir, creating dir (mode 0700) if needed, recovers
// what a crash left, and locks the directory until Close. It fails with
// ErrLocked when the directory is already open, and ErrCorruptState when the
// state file is unreadable; corrupt or torn segments do not fail it.
func Open(dir string, cfg Config) (*Spool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, fmt.Errorf("%w: empty directory", ErrInvalidArgument)
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{dir: dir, cfg: cfg, log: cfg.Logger.With("spool", dir), lock: lock}
	if err := s.recover(); err != nil {
		s.closeSegments()
		lock.Close()
		return nil, err
	}
	return s, nil
}

// Close syncs and closes the active segment, saves the state and unlocks the
// directory. Appends waiting for a sync finish; later calls get ErrClosed.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	serr := s.closeFileLocked(s.active())
	if serr == nil {
		s.smu.Lock()
		s.synced = max(s.synced, s.next-1)
		s.smu.Unlock()
	}
	werr := writeState(s.dir, s.persistedLocked())
	s.mu.Unlock()
	return errors.Join(serr, werr, s.lock.Close())
}

// Stats returns the spool's current figures.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statsLocked()
}

func (s *Spool) statsLocked() Stats {
	st := Stats{
		Epoch:           s.epoch,
		Bytes:           s.bytes,
		Segments:        len(s.segs),
		LastSeq:         s.next - 1,
		AckedSeq:        s.acked,
		DroppedRecords:  s.dropped.records,
		DroppedSegments: s.dropped.segments,
		LastDropped:     s.dropped.last,
		CorruptSegments: s.corrupt,
		SkippedBytes:    s.skipped,
		TornBytes:       s.torn,
		UnknownFiles:    s.unknown,
	}
	for _, seg := range s.segs {
		lo := max(seg.first, s.acked+1)
		if seg.last >= lo {
			st.Records += seg.last - lo + 1
			if st.FirstSeq == 0 {
				st.FirstSeq = lo
			}
		}
	}
	s.smu.Lock()
	st.DurableSeq, st.Syncs = s.synced, s.syncs
	s.smu.Unlock()
	return st
}

// Epoch identifies the spool's sequence numbers to the masters. It is chosen
// when the spool's state is first written, kept in the state file, and never
// changes; a spool that starts over (a new or wiped directory, a lost state
// file) gets a new one, so that the masters do not take its seqs, which may
// start again at 1, for ones they already hold. See the package comment.
func (s *Spool) Epoch() uint64 { return s.epoch }

// active returns the segment that takes appends.
func (s *Spool) active() *segment { return s.segs[len(s.segs)-1] }

// persistedLocked returns what the state file must hold now.
func (s *Spool) persistedLocked() persisted {
	return persisted{
		AckedSeq:        s.acked,
		NextSeq:         s.next,
		DroppedRecords:  s.dropped.records,
		DroppedSegments: s.dropped.segments,
		Epoch:           s.epoch,
	}
}

// closeFileLocked syncs and closes seg's write handle, if it has one, and
// returns the sync's result.
func (s *Spool) closeFileLocked(seg *segment) error {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	if seg.file == nil {
		return nil
	}
	err := datasync(seg.file)
	if err != nil {
		err = fmt.Errorf("%w: %s: %w", ErrSync, seg.name, err)
	}
	if cerr := seg.file.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("spool: close %s: %w", seg.name, cerr)
	}
	seg.file, seg.closeErr = nil, err
	return err
}

// closeSegments closes every write handle without syncing; for a failed Open.
func (s *Spool) closeSegments() {
	for _, seg := range s.segs {
		if seg.file != nil {
			seg.file.Close()
			seg.file = nil
		}
	}
}

// path returns a segment's path.
func (s *Spool) path(name string) string { return filepath.Join(s.dir, name) }

// Segment file names.
const (
	segPrefix = "seg-"
	segSuffix = ".log"
	segDigits = 20
)

// segmentName returns the file name of the segment whose first seq is first.
func segmentName(first uint64) string {
	return fmt.Sprintf("%s%0*d%s", segPrefix, segDigits, first, segSuffix)
}

// parseSegmentName returns the first seq of a segment file name; ok is false
// for any other name, including seq 0 and non-canonical spellings.
func parseSegmentName(name string) (first uint64, ok bool) {
	if len(name) != len(segPrefix)+segDigits+len(segSuffix) || !strings.HasPrefix(name, segPrefix) || !strings.HasSuffix(name, segSuffix) {
		return 0, false
	}
	digits := name[len(segPrefix) : len(segPrefix)+segDigits]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	return n, true
}
