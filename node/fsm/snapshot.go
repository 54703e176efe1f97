package fsm

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/hashicorp/raft"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
)

// Snapshot stream, format version 2:
//
//	header   "LMFSMSNP" then the version byte 2
//	record   kind (1 byte) | body length (uvarint) | body
//	...
//	end      0xFF | length | body: uvarint counts of pools, tokens,
//	         collectors, names, leases and licenses, then the CRC-32C
//	         (big-endian) of every byte before the end record
//
// Records come in kind order and, within a kind, sorted by key, so the same
// state always gives the same bytes: one meta record, at most one cluster
// record, then pools by name, tokens by ID, collectors by ID, the collector
// names leases refer to (sorted), leases by (shard, ID) - shardOf is a
// fixed function of the ID, so this order is as canonical as a sort by ID -
// and licenses by ID.
//
// Why this shape: the small tables (cluster, pools, tokens, collectors,
// licenses) are JSON bodies, strict on restore, because they are few,
// readable in a hex dump and easy to extend. Leases are the bulk (a million
// of them is the design point) and are compact binary: varint ID, grant
// time, TTL, pool position, collector-name position, flags, then the holder
// bytes - about 25 bytes plus the holder, against ~150 as JSON, and far
// cheaper to decode. Length-prefixed records let Restore read in one pass
// with bounded memory per record (it holds the parsed leases aside and
// indexes them at the end, when every map can be made at its final size),
// and the end record's counts and checksum catch truncation and corruption
// before the new state replaces the old.
//
// Only history is stored: a pool record holds the pool's manual config (if
// any) and counters, a license record the license's canonical text. What
// derives from them at trusted time (each pool's seats and source, the
// features) is recomputed by Restore exactly as Apply computed it.
//
// Version 3 adds, after the licenses, the usage-credit records: one per
// license that has consumed credits (by license ID), then the receipts kept
// for idempotent retries (by collector, then request ID); then usage
// metering's records (kinds 11 to 15). Its end record has two more counts:
// credit and receipt records together, then usage records.
//
// Version 1, written before licenses, differs in three ways: no license
// records, five counts in the end record, and pool records that hold the
// pool itself (every pool was manual). Restore reads both; Snapshot writes
// version 3.
const (
	snapshotMagic   = "LMFSMSNP"
	snapshotVersion = 3
	snapshotV1      = 1
	snapshotV2      = 2
	maxRecordLen    = 1 << 20

	recMeta      byte = 1
	recCluster   byte = 2
	recPool      byte = 3
	recToken     byte = 4
	recCollector byte = 5
	recName      byte = 6
	recLease     byte = 7
	recLicense   byte = 8
	recCredit    byte = 9
	recReceipt   byte = 10
	// Kinds 11 to 15 are usage metering's.
	recEnd byte = 0xFF
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type metaRecord struct {
	Index       uint64
	TrustedTime int64
}

// poolRecord is a pool's history: its manual config, if it has one, and
// its counters.
type poolRecord struct {
	Name          string
	Manual        *lease.Pool `json:",omitempty"`
	CreatedAt     int64
	UpdatedAt     int64
	OverageGrants uint64
	PeakHeld      int
	LastOverageAt int64
}

// poolRecordV1 is a pool record of format version 1.
type poolRecordV1 struct {
	Pool          lease.Pool
	CreatedAt     int64
	UpdatedAt     int64
	OverageGrants uint64
	PeakHeld      int
	LastOverageAt int64
}

// licenseRecord is a stored license. Text is a string, not bytes, so that
// the armoured license reads as itself in a dump.
type licenseRecord struct {
	ID       license.LicenseID
	Text     string
	AddedAt  int64
	Replaced []license.LicenseID `json:",omitempty"`
}

// snapPool is a pool record with the pool's in-memory index, which lease
// records are translated from.
type snapPool struct {
	idx uint32
	rec poolRecord
}

// fsmSnapshot is a point-in-time view that shares the live state's
// copy-on-write maps; Persist may run while applies continue.
type fsmSnapshot struct {
	meta       metaRecord
	cluster    *ClusterInfo  // immutable once bootstrapped
	pools      []snapPool    // by name
	poolSlots  int           // len(poolList): the range of pool indexes
	licenses   []*licenseRec // by ID; records are immutable
	tokens     *cowMap[string, Token]
	collectors *cowMap[string, Collector]
	names      []string // interner prefix; appends never touch it
	shards     [leaseShards]*cowMap[lease.ID, leaseRec]
	nLeases    int
	credits    creditState // a private copy: it is small
	usage      []snapRecord
	release    sync.Once
}

// Snapshot captures the state in O(pools + licenses + shards) time: it
// copies the pools and the license list and marks every other table
// shared, so later writes copy what they touch instead of disturbing the
// snapshot. Usage metering's records are encoded here, in time linear in
// the usage state (see usageState.snapshot).
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.st
	snap := &fsmSnapshot{
		meta:       metaRecord{Index: s.index, TrustedTime: s.trusted},
		cluster:    s.cluster,
		pools:      make([]snapPool, 0, len(s.pools)),
		poolSlots:  len(s.poolList),
		licenses:   make([]*licenseRec, 0, len(s.licenses)),
		tokens:     s.tokens,
		collectors: s.collectors,
		names:      s.names.names[:len(s.names.names):len(s.names.names)],
		shards:     s.shards,
		nLeases:    s.nLeases,
		credits:    s.credits.clone(),
	}
	for _, p := range s.pools {
		snap.pools = append(snap.pools, snapPool{idx: p.idx, rec: poolRecord{
			Name: p.pool.Name, Manual: p.manual, CreatedAt: p.createdAt, UpdatedAt: p.updatedAt,
			OverageGrants: p.overageGrants, PeakHeld: p.peakHeld, LastOverageAt: p.lastOverageAt,
		}})
	}
	slices.SortFunc(snap.pools, func(a, b snapPool) int { return cmp.Compare(a.rec.Name, b.rec.Name) })
	for _, id := range s.licenseIDs() {
		snap.licenses = append(snap.licenses, s.licenses[id])
	}
	var err error
	if snap.usage, err = s.usage.snapshot(); err != nil {
		return nil, err
	}
	up, err := s.upstream.snapshot()
	if err != nil {
		return nil, err
	}
	snap.usage = append(snap.usage, up...)
	al, err := s.alerts.snapshot()
	if err != nil {
		return nil, err
	}
	snap.usage = append(snap.usage, al...)
	us, err := s.accounts.snapshot()
	if err != nil {
		return nil, err
	}
	snap.usage = append(snap.usage, us...)
	au, err := s.audit.snapshot()
	if err != nil {
		return nil, err
	}
	snap.usage = append(snap.usage, au...)
	rd, err := s.alerts.snapshotReads()
	if err != nil {
		return nil, err
	}
	snap.usage = append(snap.usage, rd...)
	al2, err := s.alloc.snapshot()
	if err != nil {
		return nil, err
	}
	snap.usage = append(snap.usage, al2...)
	ut, err := s.util.snapshot()
	if err != nil {
		return nil, err
	}
	snap.usage = append(snap.usage, ut...)
	co, err := snapshotCosts(s.costs)
	if err != nil {
		return nil, err
	}
	snap.usage = append(snap.usage, co...)
	pu, err := snapshotPurchases(s.purchases)
	if err != nil {
		return nil, err
	}
	snap.usage = append(snap.usage, pu...)
	upd, err := snapshotUpdates(&s.updates)
	if err != nil {
		return nil, err
	}
	snap.usage = append(snap.usage, upd...)
	snap.tokens.refs.Add(1)
	snap.collectors.refs.Add(1)
	for _, sh := range snap.shards {
		sh.refs.Add(1)
	}
	return snap, nil
}

// Persist writes the snapshot to sink and closes it (or cancels it on
// error).
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.writeTo(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release gives the shared tables back; later writes stop copying them.
func (s *fsmSnapshot) Release() {
	s.release.Do(func() {
		s.tokens.refs.Add(-1)
		s.collectors.refs.Add(-1)
		for _, sh := range s.shards {
			sh.refs.Add(-1)
		}
	})
}

// snapWriter frames records into a buffer, checksumming each chunk as it
// is flushed. Write errors are sticky and reported by flush.
type snapWriter struct {
	w   io.Writer
	crc uint32
	buf []byte
	err error
}

const snapChunk = 64 << 10

func (sw *snapWriter) flush() error {
	if sw.err == nil && len(sw.buf) > 0 {
		sw.crc = crc32.Update(sw.crc, castagnoli, sw.buf)
		_, sw.err = sw.w.Write(sw.buf)
	}
	sw.buf = sw.buf[:0]
	return sw.err
}

func (sw *snapWriter) record(kind byte, body []byte) {
	sw.buf = append(sw.buf, kind)
	sw.buf = binary.AppendUvarint(sw.buf, uint64(len(body)))
	sw.buf = append(sw.buf, body...)
	if len(sw.buf) >= snapChunk {
		sw.flush()
	}
}

func (sw *snapWriter) json(kind byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("fsm: snapshot: %w", err)
	}
	sw.record(kind, b)
	return nil
}

func (s *fsmSnapshot) writeTo(w io.Writer) error {
	sw := &snapWriter{w: w, buf: make([]byte, 0, snapChunk+64+lease.MaxHolderLen)}
	sw.buf = append(append(sw.buf, snapshotMagic...), snapshotVersion)
	if err := sw.json(recMeta, s.meta); err != nil {
		return err
	}
	if s.cluster != nil {
		if err := sw.json(recCluster, s.cluster); err != nil {
			return err
		}
	}

	// Leases refer to pools and collector names by their position in the
	// sorted lists written here, not by in-memory index, so the bytes do
	// not depend on the order things were created in.
	poolPos := make([]uint64, s.poolSlots)
	for pos, p := range s.pools {
		poolPos[p.idx] = uint64(pos)
		if err := sw.json(recPool, p.rec); err != nil {
			return err
		}
	}
	tokens := sortedValues(s.tokens.m)
	for _, t := range tokens {
		if err := sw.json(recToken, t); err != nil {
			return err
		}
	}
	collectors := sortedValues(s.collectors.m)
	for _, c := range collectors {
		if err := sw.json(recCollector, c); err != nil {
			return err
		}
	}
	nameOrder := make([]int, len(s.names))
	for i := range nameOrder {
		nameOrder[i] = i
	}
	slices.SortFunc(nameOrder, func(a, b int) int { return cmp.Compare(s.names[a], s.names[b]) })
	namePos := make([]uint64, len(s.names))
	for pos, i := range nameOrder {
		namePos[i] = uint64(pos)
		sw.record(recName, []byte(s.names[i]))
	}

	// Leases go shard by shard, by ID within a shard: an order as
	// deterministic as a global sort, but each shard is gathered and sorted
	// while it sits in cache, and Restore fills one shard map at a time.
	type entry struct {
		id lease.ID
		r  leaseRec
	}
	var run []entry
	nLeases := 0
	buf := make([]byte, 0, 64+lease.MaxHolderLen)
	for _, sh := range s.shards {
		run = run[:0]
		for id, r := range sh.m {
			run = append(run, entry{id, r})
		}
		slices.SortFunc(run, func(a, b entry) int { return cmp.Compare(a.id, b.id) })
		for _, e := range run {
			buf = binary.AppendUvarint(buf[:0], uint64(e.id))
			buf = binary.AppendVarint(buf, e.r.grantedAt)
			buf = binary.AppendUvarint(buf, uint64(e.r.ttlMs))
			buf = binary.AppendUvarint(buf, poolPos[e.r.pool])
			buf = binary.AppendUvarint(buf, namePos[e.r.collector])
			if e.r.holdS != 0 {
				buf = append(buf, e.r.flags|flagHold)
				buf = binary.AppendUvarint(buf, uint64(e.r.holdS))
			} else {
				buf = append(buf, e.r.flags)
			}
			buf = append(buf, e.r.holder...)
			sw.record(recLease, buf)
		}
		nLeases += len(run)
	}
	for _, l := range s.licenses {
		rec := licenseRecord{ID: l.lic.ID, Text: string(l.lic.Text), AddedAt: l.addedAt, Replaced: l.replaced}
		if err := sw.json(recLicense, rec); err != nil {
			return err
		}
	}

	nCredit, err := s.writeCredits(sw)
	if err != nil {
		return err
	}
	for _, r := range s.usage {
		sw.record(r.kind, r.body)
	}

	end := binary.AppendUvarint(nil, uint64(len(s.pools)))
	end = binary.AppendUvarint(end, uint64(len(tokens)))
	end = binary.AppendUvarint(end, uint64(len(collectors)))
	end = binary.AppendUvarint(end, uint64(len(s.names)))
	end = binary.AppendUvarint(end, uint64(nLeases))
	end = binary.AppendUvarint(end, uint64(len(s.licenses)))
	end = binary.AppendUvarint(end, uint64(nCredit))
	end = binary.AppendUvarint(end, uint64(len(s.usage)))
	if err := sw.flush(); err != nil {
		return fmt.Errorf("fsm: snapshot: write: %w", err)
	}
	end = binary.BigEndian.AppendUint32(end, sw.crc)
	sw.buf = append(sw.buf, recEnd)
	sw.buf = binary.AppendUvarint(sw.buf, uint64(len(end)))
	sw.buf = append(sw.buf, end...)
	if _, err := sw.w.Write(sw.buf); err != nil {
		return fmt.Errorf("fsm: snapshot: write: %w", err)
	}
	return nil
}

// Restore replaces the whole state with the snapshot in rc. The new state
// is built aside and swapped in only once the stream has been read to its
// end record and every check has passed; on any error the FSM keeps its
// old state and the error wraps ErrBadSnapshot.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	st, err := readSnapshot(rc)
	if err != nil {
		return err
	}
	st.recount() // st.at is 0: nothing is integrated
	f.mu.Lock()
	st.entChanged = st.index
	f.st = st
	f.mu.Unlock()
	return nil
}

func badSnap(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadSnapshot, fmt.Sprintf(format, args...))
}

// snapReader reads records, checksumming every byte it consumes.
type snapReader struct {
	r   *bufio.Reader
	crc uint32
	buf []byte
}

func (sr *snapReader) sum(b []byte) { sr.crc = crc32.Update(sr.crc, castagnoli, b) }

func (sr *snapReader) full(n int) ([]byte, error) {
	if cap(sr.buf) < n {
		sr.buf = make([]byte, n)
	}
	b := sr.buf[:n]
	if _, err := io.ReadFull(sr.r, b); err != nil {
		return nil, readErr(err)
	}
	return b, nil
}

func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return badSnap("truncated stream")
	}
	return fmt.Errorf("%w: read: %w", ErrBadSnapshot, err)
}

// next returns the next record. The end record is left out of the
// checksum, which covers everything before it.
func (sr *snapReader) next() (byte, []byte, error) {
	hdr, err := sr.r.Peek(1 + binary.MaxVarintLen64)
	if len(hdr) < 2 {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, readErr(err)
	}
	kind := hdr[0]
	n, k := binary.Uvarint(hdr[1:])
	switch {
	case k == 0:
		return 0, nil, badSnap("truncated stream")
	case k < 0:
		return 0, nil, badSnap("record length overflows")
	case n > maxRecordLen:
		return 0, nil, badSnap("record of %d bytes, at most %d allowed", n, maxRecordLen)
	}
	if kind != recEnd {
		sr.sum(hdr[:1+k])
	}
	if _, err := sr.r.Discard(1 + k); err != nil {
		return 0, nil, readErr(err)
	}
	body, err := sr.full(int(n))
	if err != nil {
		return 0, nil, err
	}
	if kind != recEnd {
		sr.sum(body)
	}
	return kind, body, nil
}

func strictJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

func newBufReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64<<10) }

// creditRecord is one license's consumed credits.
type creditRecord struct {
	License  license.LicenseID
	Consumed int64
}

func (s *fsmSnapshot) writeCredits(sw *snapWriter) (int, error) {
	n := 0
	for _, id := range slices.Sorted(maps.Keys(s.credits.consumed)) {
		if err := sw.json(recCredit, creditRecord{License: id, Consumed: s.credits.consumed[id]}); err != nil {
			return 0, err
		}
		n++
	}
	for _, col := range slices.Sorted(maps.Keys(s.credits.receipts)) {
		mine := s.credits.receipts[col]
		for _, id := range slices.Sorted(maps.Keys(mine)) {
			if err := sw.json(recReceipt, mine[id]); err != nil {
				return 0, err
			}
			n++
		}
	}
	return n, nil
}
