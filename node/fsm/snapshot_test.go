package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scriptedLog returns a deterministic log exercising every command: pools
// of both kinds, tokens, enrollments, many lease batches with acquires,
// releases and expiries, and usage batches with duplicates, replays, new
// spool epochs and late arrivals.
func scriptedLog(t testing.TB, seed uint64, batches int) [][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	// Usage has its own generator, so the lease operations are the same
	// with or without it.
	urng := rand.New(rand.NewPCG(seed, 2))
	var lastUsage []byte
	var log [][]byte
	add := func(mt MsgType, cmd any) { log = append(log, encode(t, mt, cmd)) }
	now := t0
	add(BootstrapType, testBootstrap())
	for i, e := range []lease.Enforcement{lease.Hard, lease.Soft, lease.Hard} {
		add(CreatePoolType, CreatePool{Pool: lease.Pool{Name: fmt.Sprintf("pool-%c", 'c'-i), Seats: 20 + 10*i, Enforce: e}, Now: now})
	}
	add(CreateTokenType, CreateToken{ID: "join", SecretHash: Hash{7}, Role: RoleCollector, MaxUses: 5, Now: now})
	add(CreateTokenType, CreateToken{ID: "adm", SecretHash: Hash{8}, Role: RoleAdmin, ExpiresAt: now + 1e6, Now: now})
	for c := range 5 {
		add(EnrollType, Enroll{TokenID: "join", SecretHash: Hash{7}, CollectorID: fmt.Sprintf("col-%d", 4-c), Hostname: "h", CertSerial: "1", Now: now})
	}
	add(SetSiteZoneType, SetSiteZone{Zone: "America/New_York", Now: now})
	index := uint64(len(log)) // indexes the harness will give
	var live []lease.ID
	for b := range batches {
		now += int64(rng.IntN(1000))
		index++
		var ops []LeaseOp
		for i := range 1 + rng.IntN(40) {
			switch k := rng.IntN(10); {
			case k < 6 || len(live) == 0:
				ops = append(ops, acq(fmt.Sprintf("pool-%c", 'a'+rng.IntN(3)), fmt.Sprintf("user-%d", rng.IntN(120)), fmt.Sprintf("col-%d", rng.IntN(5))))
				live = append(live, lease.ID(index<<16|uint64(i)))
			case k < 8:
				ops = append(ops, rel(live[rng.IntN(len(live))], fmt.Sprintf("col-%d", rng.IntN(5))))
			default:
				ops = append(ops, exp(live[rng.IntN(len(live))]))
			}
		}
		add(LeaseBatchType, LeaseBatch{Now: now, Ops: ops})
		switch b % 25 {
		case 7:
			add(UpdatePoolType, UpdatePool{Pool: lease.Pool{Name: "pool-a", Seats: rng.IntN(30), Enforce: lease.Hard}, Now: now})
			index++
		case 13:
			add(CollectorSeenType, CollectorSeen{Now: now, Entries: []SeenEntry{{CollectorID: "col-1", Version: "2", Protocol: "h3", SeenAt: now}}})
			index++
		case 19:
			add(RenewCertType, RenewCert{CollectorID: "col-2", CertSerial: fmt.Sprint(b), Now: now})
			index++
		case 3, 11, 16:
			add(UsageBatchType, scriptedUsage(urng, now, b))
			lastUsage = log[len(log)-1]
			index++
		case 22:
			if lastUsage != nil {
				log = append(log, lastUsage) // a retry of the last batch
				index++
			}
		}
	}
	return log
}

// scriptedUsage is a usage batch from one of the scripted collectors:
// records some of which it sent before, a new spool every 100 lease
// batches, and samples up to two months old.
func scriptedUsage(rng *rand.Rand, now int64, b int) UsageBatch {
	const day = 24 * 3600 * 1000
	col := rng.IntN(5)
	first := uint64(b/2 + rng.IntN(5))
	var records []UsageRecord
	for i := range 1 + rng.IntN(4) {
		seq := first + uint64(i)
		at := now - int64(rng.IntN(60))*day
		u := usage.UserID(fmt.Sprintf("user-%d", rng.IntN(30)))
		records = append(records, UsageRecord{Seq: seq, Sample: UsageSample{
			At:      at,
			Scalars: map[string]int64{"seq": int64(seq), usage.ScalarCases: int64(rng.IntN(1000))},
			Users:   []UsageUser{{ID: u, Role: usage.Role(1 + rng.IntN(4)), Enabled: rng.IntN(4) > 0, Locked: rng.IntN(9) == 0}},
			Logons:  []UsageLogon{{ID: u, Role: usage.RoleStaff, Start: at - int64(rng.IntN(3*day)), End: at}},
		}})
	}
	return UsageBatch{Now: now, Collector: fmt.Sprintf("col-%d", col), Installation: usage.InstallationID(fmt.Sprintf("inst-%d", col%2)),
		Epoch: uint64(b / 100), Records: records}
}

func applyAll(t testing.TB, log [][]byte) *harness {
	t.Helper()
	h := newHarness(t)
	for _, data := range log {
		h.applyRaw(data)
	}
	return h
}

func TestDeterminism(t *testing.T) {
	log := scriptedLog(t, 1, 300)
	a := applyAll(t, log)
	// The second FSM gets the same log through ApplyBatch in uneven chunks.
	b := New()
	var logs []*raft.Log
	for i, data := range log {
		logs = append(logs, &raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: data})
	}
	for len(logs) > 0 {
		n := min(len(logs), 1+len(logs)%17)
		b.ApplyBatch(logs[:n])
		logs = logs[n:]
	}
	sa, sb := snapshotBytes(t, a.f), snapshotBytes(t, b)
	require.Equal(t, sa, sb, "same log gave different snapshots")
	c := a.f.Counts()
	require.GreaterOrEqual(t, c.Leases, 50, "log too thin to mean much: %+v", c)
	require.Equal(t, 5, c.Collectors, "log too thin to mean much: %+v", c)
	require.Equal(t, 3, c.Tokens, "log too thin to mean much: %+v", c)
	require.Equal(t, 3, c.Pools, "log too thin to mean much: %+v", c)
	ov := a.f.UsageOverview()
	require.Len(t, ov.Collectors, 5, "log has too little usage to mean much: %+v", ov)
	require.GreaterOrEqual(t, len(ov.Months), 3, "log has too little usage to mean much: %+v", ov)
	require.NotEqual(t, sa, snapshotBytes(t, applyAll(t, scriptedLog(t, 2, 300)).f), "different logs gave the same snapshot")
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	src := applyAll(t, scriptedLog(t, 3, 300)).f
	snap := snapshotBytes(t, src)
	dst := New()
	require.NoError(t, dst.Restore(io.NopCloser(bytes.NewReader(snap))), "Restore")
	require.Equal(t, snap, snapshotBytes(t, dst), "restored state snapshots differently")
	equalState(t, src, dst)
	// The restored FSM keeps working: the same next command gives the same
	// result on both.
	next := encode(t, LeaseBatchType, LeaseBatch{Now: t0 + 1e7, Ops: []LeaseOp{acq("pool-b", "newcomer", "col-9"), acq("pool-a", "user-1", "col-1")}})
	idx := src.AppliedIndex() + 1
	ra := src.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: next})
	rb := dst.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: next})
	require.Equal(t, ra, rb, "diverged after restore")
	require.Equal(t, snapshotBytes(t, src), snapshotBytes(t, dst), "snapshots differ after the same command")
}

func equalState(t *testing.T, a, b *FSM) {
	t.Helper()
	ca, _ := a.Cluster()
	cb, _ := b.Cluster()
	for name, pair := range map[string][2]any{
		"cluster":    {ca, cb},
		"pools":      {a.Pools(), b.Pools()},
		"leases":     {a.Leases(LeaseFilter{}), b.Leases(LeaseFilter{})},
		"tokens":     {a.Tokens(), b.Tokens()},
		"collectors": {a.Collectors(), b.Collectors()},
		"trusted":    {a.TrustedTime(), b.TrustedTime()},
		"counts":     {a.Counts(), b.Counts()},
		"licenses":   {licenseTexts(a), licenseTexts(b)},
		"features":   {a.Features(), b.Features()},
		"index":      {a.AppliedIndex(), b.AppliedIndex()},
		"usage":      {usageViews(a), usageViews(b)},
	} {
		assert.Equal(t, pair[0], pair[1], "%s differ", name)
	}
}

func TestRestoreRefusesBadStreams(t *testing.T) {
	snap := snapshotBytes(t, applyAll(t, scriptedLog(t, 4, 60)).f)
	target := applyAll(t, scriptedLog(t, 5, 20)).f
	before := snapshotBytes(t, target)
	try := func(name string, data []byte) {
		t.Helper()
		err := target.Restore(io.NopCloser(bytes.NewReader(data)))
		assert.ErrorIs(t, err, ErrBadSnapshot, "%s: Restore error", name)
		require.Equal(t, before, snapshotBytes(t, target), "%s: refused restore changed the state", name)
	}
	for _, n := range []int{0, 5, 9, 10, len(snap) / 3, len(snap) / 2, len(snap) - 5, len(snap) - 1} {
		try(fmt.Sprintf("truncated to %d", n), snap[:n])
	}
	for _, i := range []int{3, 8, 12, len(snap) / 4, len(snap) / 2, len(snap) - 8, len(snap) - 2} {
		c := bytes.Clone(snap)
		c[i] ^= 0x20
		try(fmt.Sprintf("flipped byte %d", i), c)
	}
	try("trailing data", append(bytes.Clone(snap), 0))
	try("empty", nil)
	err := target.Restore(io.NopCloser(io.MultiReader(bytes.NewReader(snap[:100]), errReader{})))
	assert.ErrorIs(t, err, ErrBadSnapshot, "reader error")
}

// usageViews is everything usage metering's reads show.
func usageViews(f *FSM) map[string]any {
	ov := f.UsageOverview()
	out := map[string]any{"overview": ov, "zone": f.SiteZone()}
	for _, k := range ov.Months {
		out["month "+k.String()] = f.UsageMonth(k)
	}
	for _, c := range ov.Collectors {
		h, _ := f.UsageHistory(c.Installation)
		d, _ := f.UsageDays(c.Installation, usage.MonthKey{})
		out["history "+string(c.Installation)], out["days "+string(c.Installation)] = h, d
	}
	return out
}

// licenseTexts is every license as its reads show it, text included.
func licenseTexts(f *FSM) []LicenseInfo {
	var out []LicenseInfo
	for _, li := range f.Licenses() {
		l, _ := f.License(li.ID)
		out = append(out, l)
	}
	return out
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// TestSnapshotIsPointInTime takes a snapshot, keeps applying, and checks
// that the persisted bytes are those of the moment of the snapshot.
func TestSnapshotIsPointInTime(t *testing.T) {
	log := scriptedLog(t, 6, 400)
	h := applyAll(t, log[:200])
	want := snapshotBytes(t, h.f)
	s, err := h.f.Snapshot()
	require.NoError(t, err)
	var got bytes.Buffer
	var wg sync.WaitGroup
	wg.Go(func() {
		assert.NoError(t, s.(*fsmSnapshot).writeTo(&got))
	})
	for _, data := range log[200:] {
		h.applyRaw(data)
		_ = h.f.Leases(LeaseFilter{Limit: 3})
	}
	wg.Wait()
	s.Release()
	require.Equal(t, want, got.Bytes(), "snapshot persisted later state")
	// After Release, writes stop copying: every shard is private again.
	h.applyRaw(log[len(log)-1])
	for i, sh := range h.f.st.shards {
		require.Zero(t, sh.refs.Load(), "shard %d still shared after Release", i)
	}
	// The live FSM still matches a fresh replay.
	require.Equal(t, stateBytes(t, applyAll(t, append(log, log[len(log)-1])).f), stateBytes(t, h.f), "copy-on-write lost or leaked a write")
}

func TestRestoreChecksSemantics(t *testing.T) {
	// A well-framed, correctly checksummed stream whose content breaks a
	// rule is refused too.
	h := bootstrapped(t)
	h.pool("p", 5, lease.Hard)
	res := h.batch(t0, acq("p", "alice", "c1"))
	s, _ := h.f.Snapshot()
	snap := s.(*fsmSnapshot)
	defer snap.Release()
	// Two leases for the same holder in one pool.
	dup := snap.shards[shardOf(res[0].Lease.ID)].m[res[0].Lease.ID]
	extra := newCowMap[lease.ID, leaseRec](1)
	id2 := res[0].Lease.ID + 1
	extra.m[id2] = dup
	snap.shards[shardOf(id2)] = extra
	snap.nLeases++
	var buf bytes.Buffer
	require.NoError(t, snap.writeTo(&buf))
	require.ErrorIs(t, New().Restore(io.NopCloser(&buf)), ErrBadSnapshot, "duplicate holder restored")
}

// TestRaftIntegration runs the FSM under a real single-node Raft with an
// in-memory transport and file snapshots: commands through raft.Apply,
// then a snapshot and a restore through Raft's own machinery.
func TestRaftIntegration(t *testing.T) {
	f := New()
	conf := raft.DefaultConfig()
	conf.LocalID = "n1"
	conf.LogOutput = io.Discard
	conf.HeartbeatTimeout = 50 * time.Millisecond
	conf.ElectionTimeout = 50 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	store := raft.NewInmemStore()
	snaps, err := raft.NewFileSnapshotStore(t.TempDir(), 2, io.Discard)
	require.NoError(t, err)
	addr, trans := raft.NewInmemTransport("")
	r, err := raft.NewRaft(conf, f, store, store, snaps, trans)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Shutdown().Error() })
	require.NoError(t, r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: "n1", Address: addr}}}).Error())
	require.Eventually(t, func() bool { return r.State() == raft.Leader }, 10*time.Second, 5*time.Millisecond, "no leader after 10s")
	apply := func(mt MsgType, cmd any) Response {
		t.Helper()
		fut := r.Apply(encode(t, mt, cmd), 0)
		require.NoError(t, fut.Error())
		return fut.Response().(Response)
	}
	require.NoError(t, apply(BootstrapType, testBootstrap()).Err)
	apply(CreatePoolType, CreatePool{Pool: lease.Pool{Name: "p", Seats: 2, Enforce: lease.Hard}, Now: t0})
	// Concurrent applies land in few log batches; capacity still holds.
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for i := range 8 {
		wg.Go(func() {
			resp := apply(LeaseBatchType, LeaseBatch{Now: t0, Ops: []LeaseOp{acq("p", fmt.Sprint("u", i), "c1")}})
			if resp.Ops[0].Err == nil {
				mu.Lock()
				granted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 2, granted, "granted")
	want := snapshotBytes(t, f)
	require.NoError(t, r.Snapshot().Error())
	metas, err := snaps.List()
	require.NoError(t, err, "snapshots")
	require.NotEmpty(t, metas, "snapshots")
	_, rc, err := snaps.Open(metas[0].ID)
	require.NoError(t, err)
	g := New()
	require.NoError(t, g.Restore(rc))
	require.Equal(t, want, snapshotBytes(t, g), "snapshot through raft does not restore to the same state")
}
