package fsm

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/mesh/pki"
	"github.com/stretchr/testify/require"
)

const t0 = int64(1_780_000_000_000) // a leader time, Unix ms

// harness drives an FSM through encoded log entries with increasing Raft
// indexes, as Raft would.
type harness struct {
	t     testing.TB
	f     *FSM
	index uint64
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return &harness{t: t, f: New()}
}

// bootstrapped returns a harness whose FSM has applied Bootstrap.
func bootstrapped(t testing.TB) *harness {
	t.Helper()
	h := newHarness(t)
	h.ok(BootstrapType, testBootstrap())
	return h
}

func testBootstrap() Bootstrap {
	return Bootstrap{
		ClusterID:      "acme-prod",
		CACertPEM:      []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
		CAKeyPEM:       []byte("-----BEGIN PRIVATE KEY-----\nMIIC\n-----END PRIVATE KEY-----\n"),
		SigningKey:     bytes.Repeat([]byte{1}, 32),
		AdminTokenID:   "admintok01",
		AdminTokenHash: sha256.Sum256([]byte("admin-secret")),
		Now:            t0,
	}
}

func encode(t testing.TB, mt MsgType, cmd any) []byte {
	t.Helper()
	b, err := Encode(mt, cmd)
	require.NoError(t, err, "Encode(%s)", mt)
	return b
}

// apply encodes and applies a command at the next index.
func (h *harness) apply(mt MsgType, cmd any) Response {
	h.t.Helper()
	return h.applyRaw(encode(h.t, mt, cmd))
}

func (h *harness) applyRaw(data []byte) Response {
	h.t.Helper()
	h.index++
	r := h.f.Apply(&raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: data})
	resp, ok := r.(Response)
	require.True(h.t, ok, "Apply returned %T", r)
	require.Equal(h.t, h.index, resp.Index, "Response.Index")
	return resp
}

func (h *harness) ok(mt MsgType, cmd any) Response {
	h.t.Helper()
	r := h.apply(mt, cmd)
	require.NoError(h.t, r.Err, "%s", mt)
	return r
}

func (h *harness) pool(name string, seats int, e lease.Enforcement) {
	h.t.Helper()
	h.ok(CreatePoolType, CreatePool{Pool: lease.Pool{Name: name, Seats: seats, Enforce: e}, Now: t0})
}

func (h *harness) batch(now int64, ops ...LeaseOp) []OpResult {
	h.t.Helper()
	r := h.ok(LeaseBatchType, LeaseBatch{Now: now, Ops: ops})
	require.Len(h.t, r.Ops, len(ops), "batch: results for %d ops", len(ops))
	return r.Ops
}

func acq(pool, holder, col string) LeaseOp {
	return LeaseOp{Kind: Acquire, Pool: pool, Holder: holder, CollectorID: col, TTLms: 30_000}
}

func rel(id lease.ID, col string) LeaseOp {
	return LeaseOp{Kind: Release, LeaseID: id, CollectorID: col}
}

func exp(id lease.ID) LeaseOp { return LeaseOp{Kind: Expire, LeaseID: id} }

// snapshotBytes persists a snapshot of f into memory.
func snapshotBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	s, err := f.Snapshot()
	require.NoError(t, err)
	defer s.Release()
	var buf bytes.Buffer
	require.NoError(t, s.(*fsmSnapshot).writeTo(&buf))
	return buf.Bytes()
}

// recorder is an Observer that logs what it is told.
type recorder struct {
	events []string
}

func (r *recorder) LeaseGranted(l Lease)     { r.events = append(r.events, fmt.Sprintf("+%d", l.ID)) }
func (r *recorder) LeaseRemoved(id lease.ID) { r.events = append(r.events, fmt.Sprintf("-%d", id)) }

// stateBytes is snapshotBytes without the applied index, which every entry
// advances, refused or not: it compares replicated state only.
func stateBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	f.mu.Lock()
	idx := f.st.index
	f.st.index = 0
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.st.index = idx
		f.mu.Unlock()
	}()
	return snapshotBytes(t, f)
}

func timeMs(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func rlog(index uint64, data []byte) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
}

// testPasswordHash is an argon2id hash of testPassword, made once.
var testPasswordHash = func() string {
	h, err := pki.HashPassword(testPassword)
	if err != nil {
		panic(err)
	}
	return h
}()

const testPassword = "a long test password"

func testAuditInfo(req string) AuditInfo {
	return AuditInfo{RequestID: req, Actor: "user:alice", Role: "admin", Addr: "10.0.0.9:51234", Action: "RevokeToken", Via: "api"}
}
