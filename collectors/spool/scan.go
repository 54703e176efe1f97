package spool

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
)

// Reading limits: every read goes through a buffer of readBufSize, and a
// segment keeps an index entry per indexEvery bytes so that Pending starts
// reading near the seq it wants instead of at the start of the segment.
const (
	readBufSize = 64 << 10
	indexEvery  = 64 << 10
)

// indexEntry says that record seq starts at off.
type indexEntry struct {
	seq uint64
	off int64
}

// segIndex is a sparse seq to offset index of one segment, in seq order.
// Entries are only ever appended, so a copy of the slice header is a
// consistent view for a reader without the lock.
type segIndex []indexEntry

// add records that seq starts at off if the last entry is far enough back.
func (x *segIndex) add(seq uint64, off int64) {
	if n := len(*x); n == 0 || off-(*x)[n-1].off >= indexEvery {
		*x = append(*x, indexEntry{seq, off})
	}
}

// locate returns where to start reading for seq: the last entry at or before
// it, or the segment's start.
func (x segIndex) locate(first, seq uint64) (uint64, int64) {
	i := sort.Search(len(x), func(i int) bool { return x[i].seq > seq })
	if i == 0 {
		return first, 0
	}
	return x[i-1].seq, x[i-1].off
}

// scanResult is what scanning one segment found.
type scanResult struct {
	// last is the last valid seq, first-1 when there is none.
	last uint64
	// validEnd is where the valid records end.
	validEnd int64
	index    segIndex
	// newest is the latest time of a valid record (Unix ns), 0 when none.
	newest int64
	// bad is why scanning stopped before the end of the file; nil when every
	// byte belongs to a valid record.
	bad error
	// torn says the bad bytes are a write cut short by a crash, not
	// corruption: the segment is the newest and no valid record follows.
	torn bool
}

// scanSegment checks a segment of size bytes whose first seq is first, with
// bounded memory. isLast says whether it is the newest segment, the only one
// a crash can leave torn (older ones were synced before the next began). A
// read error stops the scan like corruption does.
func scanSegment(r io.ReaderAt, size int64, first uint64, isLast bool) scanResult {
	res := scanResult{last: first - 1}
	br := bufio.NewReaderSize(io.NewSectionReader(r, 0, size), readBufSize)
	crc := crc32.New(castagnoli)
	var raw [headerSize]byte
	expect := first
	for res.validEnd < size {
		off := res.validEnd
		if size-off < headerSize {
			res.bad = fmt.Errorf("%w: %d bytes at offset %d, less than a header", errShort, size-off, off)
			break
		}
		if _, err := io.ReadFull(br, raw[:]); err != nil {
			res.bad = fmt.Errorf("spool: read segment at offset %d: %w", off, err)
			return res
		}
		h, err := parseHeader(raw[:])
		if err != nil {
			res.bad = fmt.Errorf("offset %d: %w", off, err)
			break
		}
		if h.seq != expect {
			res.bad = fmt.Errorf("offset %d: %w: seq %d, want %d", off, errCorrupt, h.seq, expect)
			break
		}
		end := off + headerSize + int64(h.length)
		if end > size {
			res.bad = fmt.Errorf("offset %d: %w: seq %d needs %d bytes, %d left", off, errShort, h.seq, end-off, size-off)
			break
		}
		crc.Reset()
		if _, err := io.CopyN(crc, br, int64(h.length)); err != nil {
			res.bad = fmt.Errorf("spool: read segment at offset %d: %w", off, err)
			return res
		}
		if err := h.checkCRC(crc.Sum32(), raw[:]); err != nil {
			res.bad = fmt.Errorf("offset %d: %w", off, err)
			break
		}
		res.index.add(h.seq, off)
		res.last = h.seq
		res.newest = max(res.newest, h.unixNano)
		res.validEnd = end
		expect++
	}
	if res.bad != nil && isLast {
		later, err := validRecordAfter(r, res.validEnd+1, size, expect)
		res.torn = err == nil && !later
	}
	return res
}

// validRecordAfter reports whether a whole, valid record with a seq of at
// least minSeq starts anywhere in [from, size). A crash only tears the tail,
// so finding one means the bad bytes before it are corruption, not a torn
// write. Candidates are found by their magic and must have a plausible seq
// before their CRC is checked, which keeps the search near linear.
func validRecordAfter(r io.ReaderAt, from, size int64, minSeq uint64) (bool, error) {
	if from < 0 || size-from < headerSize {
		return false, nil
	}
	maxSeq := minSeq + uint64((size-from)/headerSize)
	buf := make([]byte, readBufSize)
	magic := []byte{magic0, magic1, formatVersion, 0}
	for base := from; size-base >= headerSize; {
		n, err := r.ReadAt(buf[:min(int64(len(buf)), size-base)], base)
		if err != nil && !errors.Is(err, io.EOF) {
			return false, fmt.Errorf("spool: read segment at offset %d: %w", base, err)
		}
		chunk := buf[:n]
		for i := 0; ; i++ {
			j := bytes.Index(chunk[i:], magic)
			if j < 0 {
				break
			}
			i += j
			off := base + int64(i)
			ok, err := validRecordAt(r, off, size, minSeq, maxSeq)
			if err != nil || ok {
				return ok, err
			}
		}
		if int64(n) < int64(len(buf)) {
			break
		}
		// Step back so that a magic split across chunks is seen.
		base += int64(n) - int64(len(magic)) + 1
	}
	return false, nil
}

// validRecordAt reports whether a valid record with a seq in [minSeq, maxSeq]
// starts at off.
func validRecordAt(r io.ReaderAt, off, size int64, minSeq, maxSeq uint64) (bool, error) {
	if size-off < headerSize {
		return false, nil
	}
	var raw [headerSize]byte
	if _, err := r.ReadAt(raw[:], off); err != nil {
		return false, fmt.Errorf("spool: read segment at offset %d: %w", off, err)
	}
	h, err := parseHeader(raw[:])
	if err != nil || h.seq < minSeq || h.seq > maxSeq || size-off-headerSize < int64(h.length) {
		return false, nil
	}
	crc := crc32.New(castagnoli)
	if _, err := io.Copy(crc, io.NewSectionReader(r, off+headerSize, int64(h.length))); err != nil {
		return false, fmt.Errorf("spool: read segment at offset %d: %w", off, err)
	}
	return h.checkCRC(crc.Sum32(), raw[:]) == nil, nil
}
