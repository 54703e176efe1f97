package fsm

import (
	"crypto/ed25519"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/upstream"
	"github.com/licmesh/licmesh/licensing/usage"
)

// Upstream: what the site owes its vendor's hub, and how far the hub has
// acknowledged it (promise P2).
//
// The FSM keeps a mark on every period that changed since it last went
// into a batch: an installation's month or day, a license's credits, a
// pool's seat counters, each with the Raft index of its latest change.
// The leader drafts a batch from the marked periods' current state, signs
// it and commits it with SealUpstream, which puts it in the outbox and
// clears each mark that has not moved since the draft. Sealed batches are
// chained by hash and are never rebuilt: a new leader sends the very bytes
// the old one may have sent, so the hub sees a repeat, never a rival. An
// acknowledgement (online, or a receipt imported from a file upload)
// commits AckUpstream, which drops the batches it covers.
//
// Marks carry indexes, not flags, so a change between the draft and its
// seal keeps its mark and goes in the next batch: nothing is lost whatever
// interleaves.
const (
	// MaxOutboxBatches and MaxOutboxBytes bound the sealed batches kept
	// until the hub acknowledges them.
	MaxOutboxBatches = 256
	MaxOutboxBytes   = 64 << 20
	// MaxSealedBatchBytes bounds one sealed batch: it must fit one Raft
	// entry and one snapshot record.
	MaxSealedBatchBytes = maxRecordLen - 4096
	maxHubURLLen        = 512
	maxHubCALen         = 64 << 10
	maxCheckSummaryLen  = 2048
)

// Mark kinds, the first byte of a mark's key.
const (
	markMonth  = 'm'
	markDay    = 'd'
	markCredit = 'c'
	markSeats  = 's'
)

// upstreamState is the upstream part of the state.
type upstreamState struct {
	hub      HubLink
	headSeq  uint64
	headHash string
	acked    uint64
	ackHash  string
	ackedAt  int64
	ackedVia string
	outbox   []SealedBatch
	check    UpstreamCheck
	// dirty maps a period's key to the index of its latest change.
	dirty map[string]uint64
}

// HubLink is how the cluster reaches its hub, set at activation.
type HubLink struct {
	URL string
	// CAPEM is the hub's certificate or CA, pinned at activation; empty
	// means the system's roots.
	CAPEM       []byte `json:",omitempty"`
	CompanyID   string
	CompanyName string
	ActivatedAt int64
	ActivatedBy string
}

// SealedBatch is a batch in the outbox: its place in the chain and its
// signed form's JSON.
type SealedBatch struct {
	Seq      uint64
	Hash     string
	Signed   []byte
	SealedAt int64
	Records  int
}

// UpstreamCheck is the last successful daily license check.
type UpstreamCheck struct {
	At      int64
	Summary string `json:",omitempty"`
}

func newUpstreamState() *upstreamState { return &upstreamState{dirty: map[string]uint64{}} }

func (u *upstreamState) mark(key string, index uint64) { u.dirty[key] = index }

func monthKey(inst usage.InstallationID, k usage.MonthKey) string {
	return string(markMonth) + "\x00" + string(inst) + "\x00" + k.String()
}

func dayKey(inst usage.InstallationID, k usage.DayKey) string {
	return string(markDay) + "\x00" + string(inst) + "\x00" + k.String()
}

// markSample marks the months and the day a validated sample touches: the
// sample's month and day, and for a logon every month from its start (the
// ledger counts a session in each month it spans, up to MaxSessionMonths).
func (s *state) markSample(inst usage.InstallationID, smp UsageSample) {
	u := s.usage
	at := time.UnixMilli(smp.At)
	k := usage.KeyOf(at, u.loc)
	s.upstream.mark(monthKey(inst, k), s.index)
	s.upstream.mark(dayKey(inst, usage.DayOf(at, u.loc)), s.index)
	for _, l := range smp.Logons {
		m := usage.KeyOf(time.UnixMilli(l.Start), u.loc)
		for n := 0; m.Compare(k) < 0 && n < 24; n++ {
			s.upstream.mark(monthKey(inst, m), s.index)
			m = m.Next()
		}
	}
}

// markSeats marks a pool whose seat use changed: one map write, the key
// made once per pool, since it runs at every grant and release.
func (s *state) markSeats(p *poolState) {
	if p.markKey == "" {
		p.markKey = string(markSeats) + "\x00" + p.pool.Name
	}
	s.upstream.mark(p.markKey, s.index)
}

// markClosed marks months the ledger just closed.
func (s *state) markClosed(closed []usage.ClosedMonth) {
	for _, c := range closed {
		s.upstream.mark(monthKey(c.Installation, c.Key), s.index)
	}
}

// SetUpstream records the hub the cluster was activated with.
type SetUpstream struct {
	Hub HubLink
	Now int64
}

// SealUpstream puts a signed batch in the outbox. Batch is the batch's
// signed form (upstream.Signed JSON); it must follow the chain's head.
// Marks are the periods it carries with the index each had when it was
// drafted.
type SealUpstream struct {
	Batch []byte
	Marks []Mark
	Now   int64
}

// Mark is one period's key and change index.
type Mark struct {
	Key   string
	Index uint64
}

// AckUpstream records that the hub holds the chain up to Seq, whose hash is
// Hash. Via says how it came to know: "online" or "receipt".
type AckUpstream struct {
	Seq  uint64
	Hash string
	Via  string
	Now  int64
}

// UpstreamChecked records a successful license check with the hub.
type UpstreamChecked struct {
	Summary string
	Now     int64
}

func (SetUpstream) msgType() MsgType     { return SetUpstreamType }
func (SealUpstream) msgType() MsgType    { return SealUpstreamType }
func (AckUpstream) msgType() MsgType     { return AckUpstreamType }
func (UpstreamChecked) msgType() MsgType { return UpstreamCheckedType }
func (c SetUpstream) now() int64         { return c.Now }
func (c SealUpstream) now() int64        { return c.Now }
func (c AckUpstream) now() int64         { return c.Now }
func (c UpstreamChecked) now() int64     { return c.Now }

// String describes the seal without its payload.
func (c SealUpstream) String() string {
	return fmt.Sprintf("SealUpstream{Bytes:%d Marks:%d Now:%d}", len(c.Batch), len(c.Marks), c.Now)
}

func (c SetUpstream) validate() error {
	if err := checkNow(c.Now); err != nil {
		return err
	}
	return c.Hub.validate()
}

func (h HubLink) validate() error {
	u, err := url.Parse(h.URL)
	switch {
	case len(h.URL) > maxHubURLLen:
		return fmt.Errorf("%w: hub url has %d bytes, at most %d", ErrMalformed, len(h.URL), maxHubURLLen)
	case err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%w: hub url %q: want https://host[:port][/path]", ErrMalformed, clip(h.URL))
	case len(h.CAPEM) > maxHubCALen:
		return fmt.Errorf("%w: hub CA has %d bytes, at most %d", ErrMalformed, len(h.CAPEM), maxHubCALen)
	case len(h.CAPEM) > 0 && !strings.Contains(string(h.CAPEM), "-----BEGIN CERTIFICATE-----"):
		return fmt.Errorf("%w: hub CA is not a PEM certificate", ErrMalformed)
	}
	if err := firstErr(checkIDPlain("company id", h.CompanyID), checkNow(h.ActivatedAt)); err != nil {
		return err
	}
	if len(h.CompanyName) > 256 || len(h.ActivatedBy) > 256 {
		return fmt.Errorf("%w: company name or activating user too long", ErrMalformed)
	}
	return nil
}

func (c SealUpstream) validate() error {
	if err := checkNow(c.Now); err != nil {
		return err
	}
	if len(c.Batch) == 0 || len(c.Batch) > MaxSealedBatchBytes {
		return fmt.Errorf("%w: sealed batch has %d bytes, 1 to %d allowed", ErrMalformed, len(c.Batch), MaxSealedBatchBytes)
	}
	if len(c.Marks) > upstream.MaxBatchRecords {
		return fmt.Errorf("%w: %d marks, at most %d", ErrMalformed, len(c.Marks), upstream.MaxBatchRecords)
	}
	for _, m := range c.Marks {
		if len(m.Key) < 3 || len(m.Key) > 300 || m.Index == 0 {
			return fmt.Errorf("%w: bad mark %q", ErrMalformed, clip(m.Key))
		}
	}
	return nil
}

func (c AckUpstream) validate() error {
	if err := checkNow(c.Now); err != nil {
		return err
	}
	switch {
	case c.Seq == 0 || len(c.Hash) != 64:
		return fmt.Errorf("%w: acknowledgement names no batch", ErrMalformed)
	case c.Via != "online" && c.Via != "receipt":
		return fmt.Errorf("%w: acknowledgement via %q: online or receipt", ErrMalformed, clip(c.Via))
	}
	return nil
}

func (c UpstreamChecked) validate() error {
	if err := checkNow(c.Now); err != nil {
		return err
	}
	if len(c.Summary) > maxCheckSummaryLen {
		return fmt.Errorf("%w: check summary has %d bytes, at most %d", ErrMalformed, len(c.Summary), maxCheckSummaryLen)
	}
	return nil
}

func applySetUpstream(s *state, _ *applyCtx, c *SetUpstream) Response {
	s.upstream.hub = c.Hub
	return Response{}
}

func applySealUpstream(s *state, ac *applyCtx, c *SealUpstream) Response {
	u := s.upstream
	signed, err := upstream.ParseSigned(c.Batch, MaxSealedBatchBytes)
	if err != nil {
		return Response{Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
	}
	key := ed25519.NewKeyFromSeed(s.cluster.SigningKey)
	b, err := upstream.OpenBatch(signed, license.ClusterID(s.cluster.ID), key.Public().(ed25519.PublicKey))
	if err != nil {
		return Response{Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
	}
	if b.Seq != u.headSeq+1 || b.Prev != u.headHash {
		return Response{Err: fmt.Errorf("%w: batch %d does not follow batch %d", ErrUpstreamChain, b.Seq, u.headSeq)}
	}
	size := len(c.Batch)
	for _, o := range u.outbox {
		size += len(o.Signed)
	}
	if len(u.outbox) >= MaxOutboxBatches || size > MaxOutboxBytes {
		return Response{Err: fmt.Errorf("%w: %d batches await the hub's acknowledgement; import a receipt or let the cluster reach its hub",
			ErrOutboxFull, len(u.outbox))}
	}
	hash := signed.Hash()
	u.outbox = append(u.outbox, SealedBatch{Seq: b.Seq, Hash: hash, Signed: c.Batch, SealedAt: ac.at, Records: b.Records()})
	u.headSeq, u.headHash = b.Seq, hash
	for _, m := range c.Marks {
		if u.dirty[m.Key] == m.Index {
			delete(u.dirty, m.Key)
		}
	}
	return Response{}
}

func applyAckUpstream(s *state, ac *applyCtx, c *AckUpstream) Response {
	u := s.upstream
	if c.Seq > u.headSeq {
		return Response{Err: fmt.Errorf("%w: the hub acknowledges batch %d, the cluster has sealed up to %d", ErrUpstreamChain, c.Seq, u.headSeq)}
	}
	if c.Seq <= u.acked {
		return Response{} // known already
	}
	i := slices.IndexFunc(u.outbox, func(o SealedBatch) bool { return o.Seq == c.Seq })
	if i < 0 || u.outbox[i].Hash != c.Hash {
		return Response{Err: fmt.Errorf("%w: the hub acknowledges batch %d with a hash the cluster did not seal", ErrUpstreamChain, c.Seq)}
	}
	u.outbox = slices.Delete(u.outbox, 0, i+1)
	u.acked, u.ackHash, u.ackedAt, u.ackedVia = c.Seq, c.Hash, ac.at, c.Via
	return Response{}
}

func applyUpstreamChecked(s *state, ac *applyCtx, c *UpstreamChecked) Response {
	s.upstream.check = UpstreamCheck{At: ac.at, Summary: c.Summary}
	return Response{}
}

// UpstreamStatus is where the cluster stands with its hub.
type UpstreamStatus struct {
	Hub       HubLink
	Activated bool
	HeadSeq   uint64
	HeadHash  string
	Acked     uint64
	AckedHash string
	AckedAt   int64
	AckedVia  string
	// Outbox is the number of sealed batches the hub has not
	// acknowledged, OutboxBytes their size; Dirty the periods changed
	// since they were last sealed.
	Outbox      int
	OutboxBytes int
	Dirty       int
	Check       UpstreamCheck
}

// Upstream returns where the cluster stands with its hub.
func (f *FSM) Upstream() UpstreamStatus {
	f.mu.RLock()
	defer f.mu.RUnlock()
	u := f.st.upstream
	st := UpstreamStatus{Hub: u.hub, Activated: u.hub.URL != "", HeadSeq: u.headSeq, HeadHash: u.headHash,
		Acked: u.acked, AckedHash: u.ackHash, AckedAt: u.ackedAt, AckedVia: u.ackedVia, Outbox: len(u.outbox), Dirty: len(u.dirty), Check: u.check}
	st.Hub.CAPEM = slices.Clone(u.hub.CAPEM)
	for _, o := range u.outbox {
		st.OutboxBytes += len(o.Signed)
	}
	return st
}

// Outbox returns the sealed batches the hub has not acknowledged, oldest
// first.
func (f *FSM) Outbox() []SealedBatch {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return slices.Clone(f.st.upstream.outbox)
}

// UpstreamDraftSince drafts a batch that re-sends every month and day
// from month since on, for a hub that lost them. It clears no mark.
func (f *FSM) UpstreamDraftSince(since usage.MonthKey, max int, at time.Time) (*upstream.Batch, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s, u := f.st, f.st.upstream
	if s.cluster == nil {
		return nil, false
	}
	b := &upstream.Batch{Format: upstream.BatchFormat, ClusterID: license.ClusterID(s.cluster.ID), Seq: u.headSeq + 1,
		Prev: u.headHash, CreatedAt: at.UTC(), Zone: s.usage.zone}
	for _, inst := range s.usage.ledger.Installations() {
		for _, r := range s.usage.ledger.History(inst) {
			if r.Key.Compare(since) >= 0 && b.Records() < max {
				b.Months = append(b.Months, upstream.Month{Installation: r.Installation, Month: r.Key, Closed: r.Closed,
					ClosedAt: r.ClosedAt, Metrics: r.Metrics, Late: r.Late})
			}
		}
	}
	for _, inst := range slices.Sorted(maps.Keys(s.usage.days)) {
		days := s.usage.days[inst]
		for _, k := range slices.SortedFunc(maps.Keys(days), usage.DayKey.Compare) {
			if k.MonthKey().Compare(since) >= 0 && b.Records() < max {
				b.Days = append(b.Days, upstream.Day{Installation: inst, DayStats: days[k].Clone()})
			}
		}
	}
	return b, b.Records() > 0
}

// UpstreamDraft drafts the next batch: the current state of up to max
// marked periods, in key order, as the batch that follows the chain's
// head, with the marks it clears once sealed. ok is false when nothing is
// marked.
func (f *FSM) UpstreamDraft(max int, at time.Time) (b *upstream.Batch, marks []Mark, ok bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s, u := f.st, f.st.upstream
	if s.cluster == nil || len(u.dirty) == 0 {
		return nil, nil, false
	}
	b = &upstream.Batch{Format: upstream.BatchFormat, ClusterID: license.ClusterID(s.cluster.ID), Seq: u.headSeq + 1,
		Prev: u.headHash, CreatedAt: at.UTC(), Zone: s.usage.zone}
	keys := slices.Sorted(maps.Keys(u.dirty))
	for _, k := range keys {
		if len(marks) >= max {
			break
		}
		marks = append(marks, Mark{Key: k, Index: u.dirty[k]})
		s.draftRecord(b, k)
	}
	return b, marks, true
}

// draftRecord adds the current state of the period key names to b. A
// period that no longer exists (a pruned month, a dropped day, a deleted
// pool) adds nothing; its mark is cleared all the same.
func (s *state) draftRecord(b *upstream.Batch, key string) {
	parts := strings.Split(key, "\x00")
	switch {
	case len(parts) == 3 && parts[0] == string(markMonth):
		k, err := usage.ParseMonthKey(parts[2])
		if err != nil {
			return
		}
		if r, ok := s.usage.ledger.Report(usage.InstallationID(parts[1]), k); ok {
			b.Months = append(b.Months, upstream.Month{Installation: r.Installation, Month: r.Key, Closed: r.Closed,
				ClosedAt: r.ClosedAt, Metrics: r.Metrics, Late: r.Late})
		}
	case len(parts) == 3 && parts[0] == string(markDay):
		k, err := usage.ParseDayKey(parts[2])
		if err != nil {
			return
		}
		if d := s.usage.days[usage.InstallationID(parts[1])][k]; d != nil {
			b.Days = append(b.Days, upstream.Day{Installation: usage.InstallationID(parts[1]), DayStats: d.Clone()})
		}
	case len(parts) == 2 && parts[0] == string(markCredit):
		if l := s.licenses[license.LicenseID(parts[1])]; l != nil {
			if bal, ok := s.balance(l.lic); ok {
				b.Credits = append(b.Credits, upstream.Credit{License: bal.License, Unit: bal.Unit, Bought: bal.Bought,
					Consumed: bal.Bought - bal.Remaining})
			}
		}
	case len(parts) == 2 && parts[0] == string(markSeats):
		if p := s.pools[parts[1]]; p != nil {
			sb := upstream.Seats{Pool: p.pool.Name, Seats: int64(p.pool.Seats), Held: int64(len(p.holders)),
				Peak: int64(p.peakHeld), OverageGrants: p.overageGrants}
			if p.lastOverageAt != 0 {
				sb.LastOverageAt = time.UnixMilli(p.lastOverageAt).UTC()
			}
			b.Seats = append(b.Seats, sb)
		}
	}
}
