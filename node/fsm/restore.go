package fsm

import (
	"encoding/binary"
	"io"
	"math"

	"github.com/licmesh/licmesh/licensing/lease"
)

// restorer accumulates a state from snapshot records, checking each record
// as a command would be checked, plus the stream's order and uniqueness.
type restorer struct {
	st       *state
	version  byte
	lastKind byte
	lastKey  string
	lastID   lease.ID
	// pools, tokens, collectors, names, leases, licenses; from version 3,
	// credit and receipt records, and usage records.
	counts [8]uint64
	// leases are collected first and indexed at the end, when every map
	// can be made at its final size instead of growing a million times.
	leases []pendingLease
	usage  usageRestore
}

type pendingLease struct {
	id lease.ID
	r  leaseRec
}

func readSnapshot(r io.Reader) (*state, error) {
	sr := &snapReader{r: newBufReader(r)}
	hdr, err := sr.full(len(snapshotMagic) + 1)
	if err != nil {
		return nil, err
	}
	sr.sum(hdr)
	if string(hdr[:len(snapshotMagic)]) != snapshotMagic {
		return nil, badSnap("not an FSM snapshot (bad magic)")
	}
	v := hdr[len(snapshotMagic)]
	if v < snapshotV1 || v > snapshotVersion {
		return nil, badSnap("format version %d, this node reads %d to %d", v, snapshotV1, snapshotVersion)
	}
	rs := &restorer{st: newState(0), version: v}
	for {
		kind, body, err := sr.next()
		if err != nil {
			return nil, err
		}
		if kind == recEnd {
			if err := rs.end(body, sr.crc); err != nil {
				return nil, err
			}
			break
		}
		if err := rs.record(kind, body); err != nil {
			return nil, err
		}
	}
	if _, err := sr.r.ReadByte(); err != io.EOF {
		return nil, badSnap("data after the end record")
	}
	return rs.st, nil
}

func (rs *restorer) record(kind byte, body []byte) error {
	switch {
	case rs.lastKind == 0 && kind != recMeta:
		return badSnap("first record is kind %d, want meta", kind)
	case kind < rs.lastKind || kind == rs.lastKind && (kind == recMeta || kind == recCluster):
		return badSnap("record kind %d out of order after kind %d", kind, rs.lastKind)
	case kind != rs.lastKind:
		rs.lastKey, rs.lastID = "", 0
	}
	rs.lastKind = kind
	switch kind {
	case recMeta:
		var m metaRecord
		if err := strictJSON(body, &m); err != nil {
			return badSnap("meta: %v", err)
		}
		if m.TrustedTime < 0 || m.TrustedTime > maxUnixMs {
			return badSnap("meta: trusted time %d out of range", m.TrustedTime)
		}
		rs.st.index, rs.st.trusted = m.Index, m.TrustedTime
		return nil
	case recCluster:
		return rs.cluster(body)
	case recPool:
		return rs.pool(body)
	case recToken:
		return rs.token(body)
	case recCollector:
		return rs.collector(body)
	case recName:
		return rs.name(body)
	case recLease:
		return rs.lease(body)
	case recLicense:
		if rs.version == snapshotV1 {
			break
		}
		return rs.license(body)
	case recCredit:
		if rs.version < snapshotVersion {
			break
		}
		return rs.credit(body)
	case recReceipt:
		if rs.version < snapshotVersion {
			break
		}
		return rs.receipt(body)
	case recUsageZone, recUsageLedger, recUsageSpool, recUsageDay:
		if rs.version <= snapshotV2 {
			break
		}
		return rs.usageRecord(kind, body)
	case recUpstreamHead, recUpstreamBatch, recUpstreamMark:
		if rs.version <= snapshotV2 {
			break
		}
		return rs.upstreamRecord(kind, body)
	case recAlertRule, recAlertRecord, recAlertsHead, recAlertChannel, recAlertDelivery:
		if rs.version <= snapshotV2 {
			break
		}
		return rs.alertRecord(kind, body)
	case recUser:
		if rs.version <= snapshotV2 {
			break
		}
		return rs.userRecord(body)
	case recAuditRecord, recAuditHead:
		if rs.version <= snapshotV2 {
			break
		}
		return rs.auditRecord(kind, body)
	case recAlertReads:
		if rs.version <= snapshotV2 {
			break
		}
		return rs.alertReads(body)
	case recDepartment, recReservation, recAssignment:
		if rs.version <= snapshotV2 {
			break
		}
		return rs.allocRecord(kind, body)
	case recUtilization, recUtilTick:
		if rs.version <= snapshotV2 {
			break
		}
		return rs.utilRecord(kind, body)
	case recLicenseCost:
		if rs.version <= snapshotV2 {
			break
		}
		return rs.costRecord(body)
	case recPurchase:
		if rs.version <= snapshotV2 {
			break
		}
		return rs.purchaseRecord(body)
	case recUpdates:
		if rs.version <= snapshotV2 {
			break
		}
		return rs.updatesRecord(body)
	}
	return badSnap("unknown record kind %d", kind)
}

// ordered enforces strictly increasing keys within a kind, which also
// rules out duplicates.
func (rs *restorer) ordered(what, key string) error {
	if rs.lastKey != "" && key <= rs.lastKey {
		return badSnap("%s %q out of order or duplicated", what, clip(key))
	}
	rs.lastKey = key
	return nil
}

func (rs *restorer) cluster(body []byte) error {
	var c ClusterInfo
	if err := strictJSON(body, &c); err != nil {
		return badSnap("cluster: %v", err)
	}
	b := Bootstrap{ClusterID: c.ID, CACertPEM: c.CACertPEM, CAKeyPEM: c.CAKeyPEM, SigningKey: c.SigningKey,
		AdminTokenID: c.AdminTokenID, AdminTokenHash: c.AdminTokenHash, Now: c.BootstrappedAt}
	if err := b.validate(); err != nil {
		return badSnap("cluster: %v", err)
	}
	rs.st.cluster = &c
	return nil
}

func (rs *restorer) pool(body []byte) error {
	var p poolRecord
	if rs.version == snapshotV1 {
		var old poolRecordV1
		if err := strictJSON(body, &old); err != nil {
			return badSnap("pool: %v", err)
		}
		p = poolRecord{Name: old.Pool.Name, Manual: &old.Pool, CreatedAt: old.CreatedAt, UpdatedAt: old.UpdatedAt,
			OverageGrants: old.OverageGrants, PeakHeld: old.PeakHeld, LastOverageAt: old.LastOverageAt}
	} else if err := strictJSON(body, &p); err != nil {
		return badSnap("pool: %v", err)
	}
	if err := lease.ValidatePoolName(p.Name); err != nil {
		return badSnap("pool: %v", err)
	}
	if m := p.Manual; m != nil {
		if err := m.Validate(); err != nil {
			return badSnap("pool: %v", err)
		}
		if m.Name != p.Name {
			return badSnap("pool %q: manual config names pool %q", p.Name, clip(m.Name))
		}
	}
	if err := rs.ordered("pool", p.Name); err != nil {
		return err
	}
	if p.PeakHeld < 0 || p.CreatedAt <= 0 || p.UpdatedAt < p.CreatedAt || p.LastOverageAt < 0 {
		return badSnap("pool %q: counters out of range", p.Name)
	}
	ps := rs.st.addPool(p.Name, p.CreatedAt)
	ps.manual = p.Manual
	ps.updatedAt, ps.overageGrants, ps.peakHeld, ps.lastOverageAt = p.UpdatedAt, p.OverageGrants, p.PeakHeld, p.LastOverageAt
	rs.counts[0]++
	return nil
}

func (rs *restorer) token(body []byte) error {
	var t Token
	if err := strictJSON(body, &t); err != nil {
		return badSnap("token: %v", err)
	}
	c := CreateToken{ID: t.ID, SecretHash: t.SecretHash, Role: t.Role, ExpiresAt: t.ExpiresAt, MaxUses: t.MaxUses, Now: t.CreatedAt, User: t.User}
	if err := c.validate(); err != nil {
		return badSnap("token: %v", err)
	}
	if t.Uses < 0 || t.Uses > maxUses || t.RevokedAt < 0 || t.Revoked != (t.RevokedAt != 0) {
		return badSnap("token %q: use or revocation fields out of range", t.ID)
	}
	if err := rs.ordered("token", t.ID); err != nil {
		return err
	}
	rs.st.tokens.m[t.ID] = t
	rs.counts[1]++
	return nil
}

func (rs *restorer) collector(body []byte) error {
	var c Collector
	if err := strictJSON(body, &c); err != nil {
		return badSnap("collector: %v", err)
	}
	err := firstErr(checkID("collector id", c.ID), checkID("token id", c.TokenID),
		checkOptText("hostname", c.Hostname, MaxHostnameLen),
		checkOptText("version", c.Version, maxVersionLen),
		checkOptText("protocol", c.Protocol, maxVersionLen),
		checkText("cert serial", c.CertSerial, maxSerialLen),
		checkNow(c.EnrolledAt))
	if err != nil {
		return badSnap("collector: %v", err)
	}
	if err := rs.ordered("collector", c.ID); err != nil {
		return err
	}
	rs.st.collectors.m[c.ID] = c
	rs.counts[2]++
	return nil
}

func (rs *restorer) name(body []byte) error {
	name := string(body)
	if err := checkIDPlain("collector name", name); err != nil {
		return badSnap("%v", err)
	}
	if err := rs.ordered("collector name", name); err != nil {
		return err
	}
	rs.st.names.intern(name)
	rs.counts[3]++
	return nil
}

func (rs *restorer) lease(b []byte) error {
	var vals [5]uint64
	var granted int64
	for i := range vals {
		var n int
		if i == 1 {
			granted, n = binary.Varint(b)
		} else {
			vals[i], n = binary.Uvarint(b)
		}
		if n <= 0 {
			return badSnap("lease record %d: bad varint", rs.counts[4])
		}
		b = b[n:]
	}
	if len(b) < 1 {
		return badSnap("lease record %d: truncated", rs.counts[4])
	}
	id, ttl, pool, name, flags := lease.ID(vals[0]), vals[2], vals[3], vals[4], b[0]
	b = b[1:]
	var hold uint64
	if flags&flagHold != 0 {
		var n int
		hold, n = binary.Uvarint(b)
		if n <= 0 || hold == 0 || hold > math.MaxUint32 {
			return badSnap("lease %d: bad hold", id)
		}
		b = b[n:]
		flags &^= flagHold
	}
	holder := string(b)
	st := rs.st
	switch {
	case rs.lastID != 0 && (shardOf(id) < shardOf(rs.lastID) || shardOf(id) == shardOf(rs.lastID) && id <= rs.lastID):
		return badSnap("lease %d out of order or duplicated", id)
	case id>>16 == 0:
		return badSnap("lease %d has no raft index", id)
	case granted <= 0 || granted > maxUnixMs:
		return badSnap("lease %d: grant time %d out of range", id, granted)
	case ttl == 0 || ttl > MaxLeaseTTLms:
		return badSnap("lease %d: ttl %d out of range", id, ttl)
	case pool >= uint64(len(st.poolList)):
		return badSnap("lease %d: pool position %d out of range", id, pool)
	case name >= uint64(len(st.names.names)):
		return badSnap("lease %d: collector position %d out of range", id, name)
	case flags&^knownFlags != 0:
		return badSnap("lease %d: unknown flags %#x", id, flags)
	case flags&flagBorrowed != 0 && hold == 0:
		return badSnap("lease %d: borrowed with no end", id)
	}
	if err := lease.ValidateField("holder", holder, lease.MaxHolderLen); err != nil {
		return badSnap("lease %d: %v", id, err)
	}
	rs.lastID = id
	rs.leases = append(rs.leases, pendingLease{id: id, r: leaseRec{
		holder:    holder,
		grantedAt: granted,
		pool:      uint32(pool),
		collector: uint32(name),
		ttlMs:     uint32(ttl),
		holdS:     uint32(hold),
		flags:     flags,
	}})
	rs.counts[4]++
	return nil
}

// indexLeases builds the lease shards and pool holder indexes from the
// collected leases, which arrive grouped by shard.
func (rs *restorer) indexLeases() error {
	st := rs.st
	held := make([]int, len(st.poolList))
	for _, pl := range rs.leases {
		held[pl.r.pool]++
	}
	for i, p := range st.poolList {
		p.holders = make(map[string]lease.ID, held[i])
	}
	for start := 0; start < len(rs.leases); {
		sh := shardOf(rs.leases[start].id)
		end := start + 1
		for end < len(rs.leases) && shardOf(rs.leases[end].id) == sh {
			end++
		}
		m := make(map[lease.ID]leaseRec, end-start)
		for _, pl := range rs.leases[start:end] {
			m[pl.id] = pl.r
			ps := st.poolList[pl.r.pool]
			holders := ps.holders
			n := len(holders)
			holders[pl.r.holder] = pl.id
			ps.countFlags(pl.r, 1)
			if len(holders) == n {
				return badSnap("lease %d: holder already has a lease in pool %q", pl.id, st.poolList[pl.r.pool].pool.Name)
			}
		}
		st.shards[sh] = &cowMap[lease.ID, leaseRec]{m: m}
		start = end
	}
	st.nLeases = len(rs.leases)
	rs.leases = nil
	return nil
}

// license checks a license record as AddLicense would have: it parses, is
// stored in canonical form, belongs to this cluster, and neither replaces
// nor is replaced by a license already read.
func (rs *restorer) license(body []byte) error {
	var r licenseRecord
	if err := strictJSON(body, &r); err != nil {
		return badSnap("license: %v", err)
	}
	if err := rs.ordered("license", string(r.ID)); err != nil {
		return err
	}
	l, err := parseLicense([]byte(r.Text))
	if err != nil {
		return badSnap("license %q: %v", clip(string(r.ID)), err)
	}
	st := rs.st
	switch {
	case l.ID != r.ID:
		return badSnap("license record %q holds license %q", clip(string(r.ID)), l.ID)
	case string(l.Text) != r.Text:
		return badSnap("license %q: text is not in canonical form", r.ID)
	case checkNow(r.AddedAt) != nil:
		return badSnap("license %q: added_at %d out of range", r.ID, r.AddedAt)
	case st.cluster == nil:
		return badSnap("license %q in a cluster never bootstrapped", r.ID)
	case l.ClusterID != "" && string(l.ClusterID) != st.cluster.ID:
		return badSnap("license %q is bound to cluster %q", r.ID, l.ClusterID)
	}
	for _, id := range r.Replaced {
		if err := checkID("replaced license id", string(id)); err != nil {
			return badSnap("license %q: %v", r.ID, err)
		}
	}
	for id, other := range st.licenses {
		o := other.lic
		if l.Replaces(&o.Payload) || o.Replaces(&l.Payload) ||
			l.SubscriptionID != "" && l.SubscriptionID == o.SubscriptionID {
			return badSnap("licenses %q and %q are of one subscription or replace one another", id, r.ID)
		}
	}
	st.licenses[l.ID] = &licenseRec{lic: l, addedAt: r.AddedAt, replaced: r.Replaced}
	rs.counts[5]++
	return nil
}

func (rs *restorer) end(body []byte, sum uint32) error {
	counts := len(rs.counts)
	switch rs.version {
	case snapshotV1:
		counts = 5 // no licenses
	case snapshotV2:
		counts = 6 // no credits, no usage
	}
	for i := range counts {
		v, n := binary.Uvarint(body)
		if n <= 0 {
			return badSnap("end record: bad count")
		}
		if v != rs.counts[i] {
			return badSnap("end record: count %d is %d, stream has %d", i, v, rs.counts[i])
		}
		body = body[n:]
	}
	if len(body) != 4 {
		return badSnap("end record: bad checksum field")
	}
	if got := binary.BigEndian.Uint32(body); got != sum {
		return badSnap("checksum mismatch (corrupt stream)")
	}
	if rs.lastKind == 0 {
		return badSnap("no meta record")
	}
	if err := rs.indexLeases(); err != nil {
		return err
	}
	if err := rs.finishUsage(); err != nil {
		return err
	}
	return rs.st.settle()
}

// credit checks a license's consumed credits: the license was read (its
// record comes first) and has credits, and the amount is in range.
func (rs *restorer) credit(body []byte) error {
	var r creditRecord
	if err := strictJSON(body, &r); err != nil {
		return badSnap("credit: %v", err)
	}
	if err := rs.ordered("credit", string(r.License)); err != nil {
		return err
	}
	rec, ok := rs.st.licenses[r.License]
	switch {
	case !ok:
		return badSnap("credit: license %q is not stored", clip(string(r.License)))
	case rec.lic.Credits == nil:
		return badSnap("credit: license %q has no credits", r.License)
	case r.Consumed < 1 || r.Consumed > rec.lic.Credits.Balance:
		return badSnap("credit: license %q consumed %d, out of range 1..%d", r.License, r.Consumed, rec.lic.Credits.Balance)
	}
	rs.st.credits.consumed[r.License] = r.Consumed
	rs.counts[6]++
	return nil
}

// receipt checks a kept consumption receipt as ConsumeCredits would have
// made it.
func (rs *restorer) receipt(body []byte) error {
	var r CreditReceipt
	if err := strictJSON(body, &r); err != nil {
		return badSnap("receipt: %v", err)
	}
	c := ConsumeCredits{Collector: r.Collector, RequestID: r.RequestID, Unit: r.Unit, Amount: r.Amount, Now: r.At}
	if err := c.validate(); err != nil {
		return badSnap("receipt: %v", err)
	}
	if err := firstErr(checkID("license id", string(r.License))); err != nil || r.Remaining < 0 {
		return badSnap("receipt %s/%s: license or remaining out of range", r.Collector, r.RequestID)
	}
	if err := rs.ordered("receipt", r.Collector+"\x00"+r.RequestID); err != nil {
		return err
	}
	mine := rs.st.credits.receipts[r.Collector]
	if mine == nil {
		mine = map[string]CreditReceipt{}
		rs.st.credits.receipts[r.Collector] = mine
	}
	if len(mine) >= maxReceipts {
		return badSnap("receipt: collector %q has more than %d receipts", r.Collector, maxReceipts)
	}
	mine[r.RequestID] = r
	rs.counts[6]++
	return nil
}
