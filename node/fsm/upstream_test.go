package fsm

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/upstream"
	"github.com/licmesh/licmesh/licensing/usage"
)

// testClusterKey is testBootstrap's signing key.
func testClusterKey() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)) }

// sealDraft drafts the next batch from h's FSM, seals it with the test
// cluster's key and returns the command that puts it in the outbox.
func sealDraft(t testing.TB, f *FSM, now int64) (SealUpstream, *upstream.Batch, upstream.Signed) {
	t.Helper()
	b, marks, ok := f.UpstreamDraft(upstream.MaxBatchRecords, time.UnixMilli(now))
	require.True(t, ok, "nothing to draft")
	s, err := upstream.SealBatch(b, testClusterKey())
	require.NoError(t, err)
	return SealUpstream{Batch: s.Marshal(), Marks: marks, Now: now}, b, s
}

// sampleSeal is allCommands' SealUpstream: the first batch of the test
// cluster, carrying one seat record.
func sampleSeal() SealUpstream {
	b := &upstream.Batch{Format: upstream.BatchFormat, ClusterID: "acme-prod", Seq: 1, CreatedAt: time.UnixMilli(t0).UTC(),
		Zone: "UTC", Seats: []upstream.Seats{{Pool: "pm.users", Seats: 3}}}
	s, err := upstream.SealBatch(b, testClusterKey())
	if err != nil {
		panic(err)
	}
	return SealUpstream{Batch: s.Marshal(), Marks: []Mark{{Key: "s\x00pm.users", Index: 3}}, Now: t0}
}

func TestUpstreamSealAckAndMarks(t *testing.T) {
	h := usageHarness(t)
	h.ok(UsageBatchType, UsageBatch{Now: t0 + 10, Collector: "col-1", Installation: "inst-1", Epoch: 1,
		Records: []UsageRecord{{Seq: 1, Sample: UsageSample{At: t0, Scalars: map[string]int64{"users": 7, "cases": 100}}}}})

	seal, b, s := sealDraft(t, h.f, t0+20)
	require.Equal(t, uint64(1), b.Seq)
	require.Len(t, b.Months, 1)
	require.Len(t, b.Days, 1)
	assert.Equal(t, int64(7), b.Months[0].Metrics.UserCountLatest)

	// A sample that lands between the draft and its seal keeps its mark.
	h.ok(UsageBatchType, UsageBatch{Now: t0 + 30, Collector: "col-1", Installation: "inst-1", Epoch: 1,
		Records: []UsageRecord{{Seq: 2, Sample: UsageSample{At: t0 + 25, Scalars: map[string]int64{"users": 8, "cases": 101}}}}})
	h.ok(SealUpstreamType, seal)
	st := h.f.Upstream()
	assert.Equal(t, uint64(1), st.HeadSeq)
	assert.Equal(t, s.Hash(), st.HeadHash)
	assert.Equal(t, 1, st.Outbox)
	assert.Equal(t, 2, st.Dirty, "the month and the day changed after the draft")

	// The same seal again no longer follows the chain.
	require.ErrorIs(t, h.apply(SealUpstreamType, seal).Err, ErrUpstreamChain)

	seal2, b2, s2 := sealDraft(t, h.f, t0+40)
	require.Equal(t, uint64(2), b2.Seq)
	assert.Equal(t, s.Hash(), b2.Prev)
	assert.Equal(t, int64(8), b2.Months[0].Metrics.UserCountLatest)
	h.ok(SealUpstreamType, seal2)
	assert.Equal(t, 0, h.f.Upstream().Dirty)

	// An acknowledgement must name a batch the cluster sealed.
	require.ErrorIs(t, h.apply(AckUpstreamType, AckUpstream{Seq: 3, Hash: s2.Hash(), Via: "online", Now: t0 + 50}).Err, ErrUpstreamChain)
	require.ErrorIs(t, h.apply(AckUpstreamType, AckUpstream{Seq: 2, Hash: s.Hash(), Via: "online", Now: t0 + 50}).Err, ErrUpstreamChain)
	h.ok(AckUpstreamType, AckUpstream{Seq: 1, Hash: s.Hash(), Via: "receipt", Now: t0 + 50})
	st = h.f.Upstream()
	assert.Equal(t, uint64(1), st.Acked)
	assert.Equal(t, 1, st.Outbox)
	h.ok(AckUpstreamType, AckUpstream{Seq: 2, Hash: s2.Hash(), Via: "online", Now: t0 + 60})
	assert.Equal(t, 0, h.f.Upstream().Outbox)
	// An old acknowledgement is a no-op.
	h.ok(AckUpstreamType, AckUpstream{Seq: 1, Hash: s.Hash(), Via: "online", Now: t0 + 70})
	assert.Equal(t, "online", h.f.Upstream().AckedVia)
}

func TestUpstreamSealRefusesForeignBatches(t *testing.T) {
	h := bootstrapped(t)
	_, other, _ := ed25519.GenerateKey(nil)
	b := &upstream.Batch{Format: upstream.BatchFormat, ClusterID: "acme-prod", Seq: 1, CreatedAt: time.UnixMilli(t0).UTC(), Zone: "UTC",
		Seats: []upstream.Seats{{Pool: "p", Seats: 1}}}
	s, err := upstream.SealBatch(b, other)
	require.NoError(t, err)
	require.ErrorIs(t, h.apply(SealUpstreamType, SealUpstream{Batch: s.Marshal(), Now: t0}).Err, ErrMalformed)
	assert.Equal(t, uint64(0), h.f.Upstream().HeadSeq)
}

func TestUpstreamClosedMonthIsMarked(t *testing.T) {
	h := usageHarness(t)
	h.ok(UsageBatchType, UsageBatch{Now: t0 + 10, Collector: "col-1", Installation: "inst-1", Epoch: 1,
		Records: []UsageRecord{{Seq: 1, Sample: UsageSample{At: t0, Scalars: map[string]int64{"users": 7}}}}})
	seal, _, _ := sealDraft(t, h.f, t0+20)
	h.ok(SealUpstreamType, seal)
	require.Equal(t, 0, h.f.Upstream().Dirty)

	// Trusted time passes the month's end: the month closes and goes
	// upstream again, closed.
	_, end := usage.KeyOf(time.UnixMilli(t0), time.UTC).Bounds(time.UTC)
	h.ok(UpstreamCheckedType, UpstreamChecked{Summary: "no change", Now: end.UnixMilli() + 1000})
	_, b, _ := sealDraft(t, h.f, end.UnixMilli()+2000)
	require.Len(t, b.Months, 1)
	assert.True(t, b.Months[0].Closed)
}

func TestUpstreamSnapshotRoundTrip(t *testing.T) {
	h := usageHarness(t)
	h.ok(SetUpstreamType, SetUpstream{Hub: HubLink{URL: "https://hub.example:7500", CompanyID: "co_1", ActivatedAt: t0}, Now: t0})
	h.ok(UsageBatchType, UsageBatch{Now: t0 + 10, Collector: "col-1", Installation: "inst-1", Epoch: 1,
		Records: []UsageRecord{{Seq: 1, Sample: UsageSample{At: t0, Scalars: map[string]int64{"users": 7}}}}})
	seal, _, _ := sealDraft(t, h.f, t0+20)
	h.ok(SealUpstreamType, seal)
	h.ok(UsageBatchType, UsageBatch{Now: t0 + 30, Collector: "col-1", Installation: "inst-1", Epoch: 1,
		Records: []UsageRecord{{Seq: 2, Sample: UsageSample{At: t0 + 25, Scalars: map[string]int64{"users": 9}}}}})

	got := restored(t, snapshotBytes(t, h.f))
	equalState(t, got, h.f)
	assert.Equal(t, h.f.Upstream(), got.Upstream())
	assert.Equal(t, h.f.Outbox(), got.Outbox())
	assert.Equal(t, snapshotBytes(t, h.f), snapshotBytes(t, got))
}
