package master

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/lease"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// TestAcquireRefusesBadRequests: a pool or holder that no lease document
// could carry is refused as InvalidArgument before it reaches Raft. The
// holder bound is the lease document's, lease.MaxHolderLen (255 bytes): a
// holder of that length is granted, with a token that verifies, and one of
// 256 bytes is refused here rather than by the FSM after a round through
// the log.
func TestAcquireRefusesBadRequests(t *testing.T) {
	s, clk := startMaster(t)
	col := enrolled(t, s, "designer", 2)
	ctx := context.WithValue(context.Background(), collectorKey{}, callerInfo{id: col, proto: "h2"})
	acquire := func(pool, holder string) (*connect.Response[licmeshv1.AcquireResponse], error) {
		return collectorHandler{s}.Acquire(ctx, connect.NewRequest(&licmeshv1.AcquireRequest{Pool: pool, Holder: holder}))
	}

	before := lastIndex(s)
	for name, c := range map[string]struct{ pool, holder string }{
		"256-byte holder":   {"designer", strings.Repeat("h", 256)},
		"1 KiB holder":      {"designer", strings.Repeat("h", 1024)},
		"empty holder":      {"designer", ""},
		"control in holder": {"designer", "al\x00ice"},
		"invalid UTF-8":     {"designer", "al\xffice"},
		"empty pool":        {"", "alice"},
		"bad pool":          {"a b", "alice"},
		"long pool":         {strings.Repeat("p", lease.MaxPoolNameLen+1), "alice"},
	} {
		_, err := acquire(c.pool, c.holder)
		assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "%s: %v", name, err)
	}
	assert.Equal(t, before, lastIndex(s), "a refused acquire reached Raft")

	holder := strings.Repeat("h", lease.MaxHolderLen)
	res, err := acquire("designer", holder)
	require.NoError(t, err, "%d-byte holder", lease.MaxHolderLen)
	assert.Equal(t, holder, res.Msg.GetLease().GetHolder())
	sg, err := s.signingKey()
	require.NoError(t, err)
	doc, err := lease.Verify(lease.Token(res.Msg.GetLease().GetToken()), sg.pub, clk.Now().Add(time.Second))
	require.NoError(t, err, "the lease token of a %d-byte holder", lease.MaxHolderLen)
	assert.Equal(t, holder, doc.Holder)
}

// TestSeatOps: one call's acquires and releases are answered one by one, in
// order: grants signed, a holder asking again renewed, a refusal (a full
// pool, a bad request, an unknown lease) that operation's answer alone,
// and one call's operations applied in one Raft entry, in order.
func TestSeatOps(t *testing.T) {
	s, clk := startMaster(t)
	col := enrolled(t, s, "designer", 2)
	ctx := context.WithValue(context.Background(), collectorKey{}, callerInfo{id: col, proto: "h2"})
	seatOps := func(ops ...*licmeshv1.LeaseOp) []*licmeshv1.LeaseOpResult {
		t.Helper()
		res, err := collectorHandler{s}.SeatOps(ctx, connect.NewRequest(&licmeshv1.SeatOpsRequest{Ops: ops}))
		require.NoError(t, err)
		require.Len(t, res.Msg.GetResults(), len(ops))
		return res.Msg.GetResults()
	}
	acq := func(holder string) *licmeshv1.LeaseOp {
		return &licmeshv1.LeaseOp{Kind: licmeshv1.LeaseOp_KIND_ACQUIRE, Pool: "designer", Holder: holder}
	}
	rel := func(id uint64) *licmeshv1.LeaseOp {
		return &licmeshv1.LeaseOp{Kind: licmeshv1.LeaseOp_KIND_RELEASE, LeaseId: id}
	}

	r := seatOps(acq("alice"), acq("bob"), acq("carol"), acq(""), &licmeshv1.LeaseOp{Kind: licmeshv1.LeaseOp_KIND_ACQUIRE, Pool: "designer", Holder: "dan", CollectorId: "c-other"})
	// A grant's fence is the Raft index that granted it.
	assert.Equal(t, r[0].GetLease().GetFence(), r[1].GetLease().GetFence(), "one call's grants in one entry")
	sg, err := s.signingKey()
	require.NoError(t, err)
	for i, who := range []string{"alice", "bob"} {
		require.Zero(t, r[i].GetCode(), "%s: %s", who, r[i].GetDetail())
		doc, err := lease.Verify(lease.Token(r[i].GetLease().GetToken()), sg.pub, clk.Now().Add(time.Second))
		require.NoError(t, err, who)
		assert.Equal(t, who, doc.Holder)
	}
	assert.Equal(t, uint32(connect.CodeResourceExhausted), r[2].GetCode(), "carol: the pool is full: %s", r[2].GetDetail())
	assert.Equal(t, uint32(connect.CodeInvalidArgument), r[3].GetCode(), "an empty holder")
	assert.Equal(t, uint32(connect.CodeInvalidArgument), r[4].GetCode(), "another collector's id")

	// Alice again, renewed; bob released; an unknown lease refused alone.
	alice, bob := r[0].GetLease(), r[1].GetLease()
	clk.Advance(3 * time.Second)
	r = seatOps(acq("alice"), rel(bob.GetId()), rel(999999))
	require.Zero(t, r[0].GetCode(), r[0].GetDetail())
	assert.True(t, r[0].GetExisting())
	assert.Equal(t, alice.GetId(), r[0].GetLease().GetId())
	assert.Greater(t, r[0].GetLease().GetExpiresAtMs(), alice.GetExpiresAtMs(), "asked again, the lease is renewed")
	assert.Zero(t, r[1].GetCode(), "bob's release: %s", r[1].GetDetail())
	assert.Equal(t, uint32(connect.CodeNotFound), r[2].GetCode(), "an unknown lease: %s", r[2].GetDetail())
	r = seatOps(rel(alice.GetId()), acq("carol"), acq("dan"))
	require.Zero(t, r[0].GetCode(), "alice's release: %s", r[0].GetDetail())
	require.Zero(t, r[1].GetCode(), "carol gets bob's seat: %s", r[1].GetDetail())
	require.Zero(t, r[2].GetCode(), "dan gets alice's, released before him in the same call: %s", r[2].GetDetail())

	_, err = collectorHandler{s}.SeatOps(ctx, connect.NewRequest(&licmeshv1.SeatOpsRequest{}))
	assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "no operations")
}
