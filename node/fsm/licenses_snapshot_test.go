package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// licensedLog returns a deterministic log mixing licenses (trials,
// renewals of a few subscriptions, explicit pools, short lives and
// graces), their removal, leader clocks that jump ahead and fall back,
// manual pools and lease batches, so that pools appear, shrink, expire,
// linger and disappear.
func licensedLog(t testing.TB, seed uint64, steps int) [][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	var log [][]byte
	add := func(mt MsgType, cmd any) { log = append(log, encode(t, mt, cmd)) }
	now := t0
	add(BootstrapType, testBootstrap())
	add(CreatePoolType, CreatePool{Pool: lease.Pool{Name: "pool-a", Seats: 2, Enforce: lease.Soft}, Now: now})
	add(CreatePoolType, CreatePool{Pool: lease.Pool{Name: "manual", Seats: 4, Enforce: lease.Hard}, Now: now})
	pools := []string{"pool-a", "pool-b", "Pool-C", adminPool, projectsPool, "manual"}
	var live []lease.ID
	licenses := 0
	for range steps {
		switch k := rng.IntN(20); {
		case k < 3:
			licenses++
			start := now + int64(rng.IntN(5)-3)*dayMs
			mods := func(p *license.Payload) {
				p.IssuedAt = msTime(now + int64(rng.IntN(1000)))
				p.NotBefore = msTime(start)
				p.ExpiresAt = msTime(start + int64(3+rng.IntN(8))*dayMs)
				p.Grace = license.Duration(time.Duration(rng.IntN(3)) * 24 * time.Hour)
				p.SubscriptionID = license.SubscriptionID(fmt.Sprint("sub-", rng.IntN(4)))
				if rng.IntN(4) == 0 {
					p.SubscriptionID = ""
				}
				if rng.IntN(3) == 0 {
					p.Features[0].Enabled = false
				}
			}
			var p *license.Payload
			switch rng.IntN(3) {
			case 0:
				p = timesheetPayload(fmt.Sprint("lic-", licenses), mods, func(p *license.Payload) {
					p.Trial.PeriodCount = 2
				})
			case 1:
				enf := []lease.Enforcement{lease.Hard, lease.Soft}[rng.IntN(2)]
				over := 0
				if enf == lease.Hard {
					over = rng.IntN(2)
				}
				p = testPayload(fmt.Sprint("lic-", licenses), mods, withPools(
					license.Pool{Name: []string{"pool-a", "Pool-C", adminPool, "manual"}[rng.IntN(4)], Seats: 1 + rng.IntN(4), Enforce: enf, Overage: over},
					license.Pool{Name: "pool-b", Seats: rng.IntN(3), Enforce: lease.Hard, Amount: 7}))
			default:
				p = testPayload(fmt.Sprint("lic-", licenses), mods)
			}
			add(AddLicenseType, AddLicense{Text: sealed(t, p), Now: now})
		case k < 4 && licenses > 0:
			add(RemoveLicenseType, RemoveLicense{ID: license.LicenseID(fmt.Sprint("lic-", 1+rng.IntN(licenses))), Now: now})
		case k < 6:
			now += int64(rng.IntN(36)) * 3600 * 1000
			add(CollectorSeenType, CollectorSeen{Now: now})
		case k < 7:
			// A leader with a slow clock.
			add(CollectorSeenType, CollectorSeen{Now: now - int64(rng.IntN(5))*dayMs})
		case k < 8:
			add(UpdatePoolType, UpdatePool{Pool: lease.Pool{Name: "manual", Seats: rng.IntN(6), Enforce: lease.Hard}, Now: now - int64(rng.IntN(2))*dayMs})
		default:
			index := uint64(len(log) + 1)
			var ops []LeaseOp
			for i := range 1 + rng.IntN(8) {
				switch j := rng.IntN(10); {
				case j < 6 || len(live) == 0:
					ops = append(ops, acq(pools[rng.IntN(len(pools))], fmt.Sprint("user-", rng.IntN(12)), fmt.Sprint("col-", rng.IntN(2))))
					live = append(live, lease.ID(index<<16|uint64(i)))
				case j < 8:
					ops = append(ops, rel(live[rng.IntN(len(live))], fmt.Sprint("col-", rng.IntN(2))))
				default:
					ops = append(ops, exp(live[rng.IntN(len(live))]))
				}
			}
			add(LeaseBatchType, LeaseBatch{Now: now, Ops: ops})
		}
	}
	return log
}

// TestLicensedDerivationMatchesRestore checks, after every entry of a
// licensed log, that the pools and features Apply keeps up to date step by
// step are what a computation from scratch gives, and every few entries
// that Restore (which computes them from scratch) gives the same state and
// a stable snapshot.
func TestLicensedDerivationMatchesRestore(t *testing.T) {
	for seed := range uint64(4) {
		log := licensedLog(t, seed, 250)
		h := newHarness(t)
		var sources = map[PoolSource]int{}
		var errs = map[string]int{}
		for i, data := range log {
			r := h.applyRaw(data)
			if r.Err != nil {
				errs[errorName(r.Err)]++
			}
			for _, o := range r.Ops {
				if o.Err != nil {
					errs[errorName(o.Err)]++
				}
			}
			require.NoError(t, derivedUpToDate(h.f), "seed %d, entry %d (%s)", seed, i, MsgType(data[0]))
			if i%10 == 0 || i == len(log)-1 {
				snap := snapshotBytes(t, h.f)
				g := restored(t, snap)
				equalState(t, h.f, g)
				if t.Failed() {
					t.Fatalf("seed %d: state after entry %d (%s) differs once restored", seed, i, MsgType(data[0]))
				}
				require.Equal(t, snap, snapshotBytes(t, g), "seed %d, entry %d: restored state snapshots differently", seed, i)
			}
			for _, ps := range h.f.Pools() {
				sources[ps.Source]++
			}
		}
		// The log must reach every case to mean much.
		for _, src := range []PoolSource{SourceLicense, SourceManual, SourceExpired, SourceNone} {
			assert.NotZero(t, sources[src], "seed %d: no pool was ever %s", seed, src)
		}
		t.Logf("seed %d: pool sources seen %v, refusals %v", seed, sources, errs)
	}
}

// derivedUpToDate compares the derived state with a computation from
// scratch at the current trusted time.
func derivedUpToDate(f *FSM) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.st
	tg, features, next := s.targets()
	if !maps.Equal(features, s.features) || next != s.next {
		return fmt.Errorf("features %v next %d, from scratch %v %d", s.features, s.next, features, next)
	}
	for name, t := range tg {
		ps, ok := s.pools[name]
		if !ok {
			return fmt.Errorf("pool %s missing", name)
		}
		if ps.pool != t.pool || ps.source != t.source || ps.amount != t.amount || !slices.Equal(ps.licenses, t.licenses) {
			return fmt.Errorf("pool %s is %+v %s %v, from scratch %+v", name, ps.pool, ps.source, ps.licenses, *t)
		}
	}
	for name, ps := range s.pools {
		if _, ok := tg[name]; ok {
			continue
		}
		if ps.source != SourceNone || len(ps.holders) == 0 || ps.pool != orphanTarget(name).pool {
			return fmt.Errorf("pool %s without a source is %+v %s, %d held", name, ps.pool, ps.source, len(ps.holders))
		}
	}
	for i, ps := range s.poolList {
		if ps != nil && (s.pools[ps.pool.Name] != ps || ps.idx != uint32(i)) {
			return fmt.Errorf("pool index %d out of step", i)
		}
	}
	return nil
}

func errorName(err error) string {
	for _, s := range []error{ErrLicenseOutdated, ErrLicenseConflict, ErrLicenseNotInForce, ErrUnknownLicense,
		ErrPoolExpired, ErrUnknownPool, ErrPoolFull, ErrLicensedPool, ErrUnknownLease, ErrNotHolder, ErrHeldElsewhere} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return err.Error()
}

func TestLicensedDeterminism(t *testing.T) {
	log := licensedLog(t, 7, 400)
	a := applyAll(t, log)
	b := New()
	var logs []*raft.Log
	for i, data := range log {
		logs = append(logs, &raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: data})
	}
	for len(logs) > 0 {
		n := min(len(logs), 1+len(logs)%13)
		b.ApplyBatch(logs[:n])
		logs = logs[n:]
	}
	sa := snapshotBytes(t, a.f)
	require.Equal(t, sa, snapshotBytes(t, b), "same licensed log gave different snapshots")
	c := a.f.Counts()
	require.NotZero(t, c.Licenses, "log too thin: %+v", c)
	require.NotZero(t, c.Leases, "log too thin: %+v", c)
	require.NotEqual(t, sa, snapshotBytes(t, applyAll(t, licensedLog(t, 8, 400)).f), "different logs gave the same snapshot")
}

func TestLicensedSnapshotRoundTrip(t *testing.T) {
	h := bootstrapped(t)
	h.addLicense(timesheetPayload("lic-1"), t0)
	h.addLicense(testPayload("lic-2", withPools(license.Pool{Name: adminPool, Seats: 2, Enforce: lease.Soft, Amount: 3})), t0)
	h.pool("manual", 1, lease.Hard)
	h.grant(t0+1, adminPool, "alice")
	h.grant(t0+1, "manual", "bob")
	src := h.f
	snap := snapshotBytes(t, src)
	dst := restored(t, snap)
	equalState(t, src, dst)
	require.Equal(t, snap, snapshotBytes(t, dst), "restored state snapshots differently")
	l, _ := dst.License("lic-1")
	require.Equal(t, sealed(t, timesheetPayload("lic-1")), l.Text, "restored license text differs")
	// Both go on the same way, through the end of the trial.
	for _, data := range [][]byte{
		encode(t, CollectorSeenType, CollectorSeen{Now: t0 + 30*dayMs}),
		encode(t, LeaseBatchType, LeaseBatch{Now: t0 + 30*dayMs, Ops: []LeaseOp{acq(adminPool, "carol", "c1"), acq(projectsPool, "dave", "c1")}}),
		encode(t, RemoveLicenseType, RemoveLicense{ID: "lic-2", Now: t0 + 31*dayMs}),
	} {
		idx := src.AppliedIndex() + 1
		ra := src.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: data})
		rb := dst.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: data})
		require.Equal(t, ra, rb, "diverged after restore")
	}
	equalState(t, src, dst)
	require.Equal(t, snapshotBytes(t, src), snapshotBytes(t, dst), "snapshots differ after the same commands")
}

// TestRestoreChecksLicenses refuses well-framed snapshots whose licenses
// or pools break a rule no command sequence can break.
func TestRestoreChecksLicenses(t *testing.T) {
	h := bootstrapped(t)
	h.addLicense(testPayload("lic-1", func(p *license.Payload) { p.SubscriptionID = "sub-1" }), t0)
	h.pool("manual", 1, lease.Hard)
	write := func(change func(s *fsmSnapshot)) []byte {
		t.Helper()
		s, _ := h.f.Snapshot()
		snap := s.(*fsmSnapshot)
		defer snap.Release()
		change(snap)
		var buf bytes.Buffer
		require.NoError(t, snap.writeTo(&buf))
		return buf.Bytes()
	}
	rec := func(p *license.Payload) *licenseRec {
		l, err := parseLicense(sealed(t, p))
		require.NoError(t, err)
		return &licenseRec{lic: l, addedAt: t0}
	}
	withLicense := func(r *licenseRec) func(s *fsmSnapshot) {
		return func(s *fsmSnapshot) { s.licenses = append(s.licenses, r) }
	}
	noncanonical := rec(testPayload("lic-2"))
	noncanonical.lic.Text = append([]byte("hello\n"), noncanonical.lic.Text...)
	other := rec(testPayload("lic-3", func(p *license.Payload) { p.ClusterID = "lm-other" }))
	for name, change := range map[string]func(s *fsmSnapshot){
		"same subscription": withLicense(rec(testPayload("lic-2", func(p *license.Payload) {
			p.SubscriptionID = "sub-1"
			p.IssuedAt = msTime(t0 + 5)
		}))),
		"superseded":    withLicense(rec(testPayload("lic-2", func(p *license.Payload) { p.Supersedes = []license.LicenseID{"lic-1"} }))),
		"not canonical": withLicense(noncanonical),
		"other cluster": withLicense(other),
		"licensed pool without record": func(s *fsmSnapshot) {
			s.pools = slices.DeleteFunc(s.pools, func(p snapPool) bool { return p.rec.Name == "pool-a" })
		},
		"pool with no source and no lease": func(s *fsmSnapshot) {
			s.pools = append(s.pools, snapPool{idx: uint32(s.poolSlots), rec: poolRecord{Name: "ghost", CreatedAt: t0, UpdatedAt: t0}})
			s.poolSlots++
		},
		"manual config of another pool": func(s *fsmSnapshot) {
			for i := range s.pools {
				if s.pools[i].rec.Name == "manual" {
					s.pools[i].rec.Manual = &lease.Pool{Name: "other", Seats: 1, Enforce: lease.Hard}
				}
			}
		},
	} {
		assert.ErrorIs(t, New().Restore(io.NopCloser(bytes.NewReader(write(change)))), ErrBadSnapshot, "%s: Restore", name)
	}
	require.NoError(t, New().Restore(io.NopCloser(bytes.NewReader(write(func(*fsmSnapshot) {})))), "unchanged snapshot")
}

// TestPoolStampsNeverGoBack: a leader with a slower clock updating a pool
// must not date the update before the pool's creation, which would make
// the state unrestorable.
func TestPoolStampsNeverGoBack(t *testing.T) {
	h := bootstrapped(t)
	h.ok(CreatePoolType, CreatePool{Pool: lease.Pool{Name: "p", Seats: 1, Enforce: lease.Hard}, Now: t0 + 5000})
	h.ok(UpdatePoolType, UpdatePool{Pool: lease.Pool{Name: "p", Seats: 2, Enforce: lease.Hard}, Now: t0 + 10})
	ps := h.poolOf("p")
	require.Equal(t, t0+5000, ps.UpdatedAt, "pool = %+v", ps)
	equalState(t, h.f, restored(t, snapshotBytes(t, h.f)))
}
