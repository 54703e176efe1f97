package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"
)

// Record layout; see the package comment.
const (
	headerSize    = 28
	crcOffset     = 24
	magic0        = 'S'
	magic1        = 'P'
	formatVersion = 1
)

// castagnoli is CRC-32C, read-only after init.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is one spooled sample.
type Record struct {
	// Seq is the record's sequence number.
	Seq uint64
	// Time is when it was appended, by Config.Clock.
	Time time.Time
	// Payload is the caller's bytes; the slice is the caller's to keep.
	Payload []byte
}

// header is a decoded record header.
type header struct {
	length   uint32
	seq      uint64
	unixNano int64
	crc      uint32
}

// putHeader writes header bytes 0..23 (all but the CRC).
func putHeader(b []byte, length int, seq uint64, unixNano int64) {
	b[0], b[1], b[2], b[3] = magic0, magic1, formatVersion, 0
	binary.LittleEndian.PutUint32(b[4:], uint32(length))
	binary.LittleEndian.PutUint64(b[8:], seq)
	binary.LittleEndian.PutUint64(b[16:], uint64(unixNano))
}

// recordCRC finishes a record's CRC from its payload's CRC and its header.
func recordCRC(payloadCRC uint32, hdr []byte) uint32 {
	return crc32.Update(payloadCRC, castagnoli, hdr[:crcOffset])
}

// encodeRecord returns the record's bytes on disk.
func encodeRecord(seq uint64, unixNano int64, payload []byte) []byte {
	b := make([]byte, headerSize+len(payload))
	putHeader(b, len(payload), seq, unixNano)
	copy(b[headerSize:], payload)
	binary.LittleEndian.PutUint32(b[crcOffset:], recordCRC(crc32.Checksum(payload, castagnoli), b))
	return b
}

// parseHeader decodes and checks a header; it cannot check the CRC, which
// needs the payload.
func parseHeader(b []byte) (header, error) {
	if len(b) < headerSize {
		return header{}, errShort
	}
	if b[0] != magic0 || b[1] != magic1 {
		return header{}, fmt.Errorf("%w: bad magic %#02x%02x", errCorrupt, b[0], b[1])
	}
	if b[2] != formatVersion {
		return header{}, fmt.Errorf("%w: unknown version %d", errCorrupt, b[2])
	}
	if b[3] != 0 {
		return header{}, fmt.Errorf("%w: unknown flags %#02x", errCorrupt, b[3])
	}
	h := header{
		length:   binary.LittleEndian.Uint32(b[4:]),
		seq:      binary.LittleEndian.Uint64(b[8:]),
		unixNano: int64(binary.LittleEndian.Uint64(b[16:])),
		crc:      binary.LittleEndian.Uint32(b[crcOffset:]),
	}
	if h.length == 0 || h.length > MaxRecordLimit {
		return header{}, fmt.Errorf("%w: payload length %d is outside 1..%d", errCorrupt, h.length, MaxRecordLimit)
	}
	if h.seq == 0 {
		return header{}, fmt.Errorf("%w: seq 0", errCorrupt)
	}
	return h, nil
}

// checkCRC reports whether payloadCRC (the CRC-32C of the payload) and the
// raw header match the header's CRC.
func (h header) checkCRC(payloadCRC uint32, raw []byte) error {
	if got := recordCRC(payloadCRC, raw); got != h.crc {
		return fmt.Errorf("%w: seq %d: crc %#08x, want %#08x", errCorrupt, h.seq, got, h.crc)
	}
	return nil
}

// record turns a checked header and its payload into a Record.
func (h header) record(payload []byte) Record {
	return Record{Seq: h.seq, Time: time.Unix(0, h.unixNano).UTC(), Payload: payload}
}

// decodeRecord decodes the record at the start of b and returns it with its
// size on disk. It returns an error wrapping errShort when b ends before the
// record does, and errCorrupt when the record is malformed. The payload is
// a copy.
func decodeRecord(b []byte) (Record, int, error) {
	if len(b) < headerSize {
		return Record{}, 0, errShort
	}
	h, err := parseHeader(b)
	if err != nil {
		return Record{}, 0, err
	}
	n := headerSize + int(h.length)
	if len(b) < n {
		return Record{}, 0, fmt.Errorf("%w: seq %d needs %d bytes, %d left", errShort, h.seq, n, len(b))
	}
	payload := b[headerSize:n]
	if err := h.checkCRC(crc32.Checksum(payload, castagnoli), b); err != nil {
		return Record{}, 0, err
	}
	return h.record(append([]byte(nil), payload...)), n, nil
}
