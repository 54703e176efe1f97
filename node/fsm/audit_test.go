package fsm

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/lease"
)

func audited(t *testing.T, info AuditInfo, mt MsgType, cmd any, now int64) Audited {
	t.Helper()
	a, err := NewAudited(info, encode(t, mt, cmd))
	assert.Equal(t, now, a.Now, "the entry's time is the command's")
	require.NoError(t, err)
	return a
}

// TestAuditRecordsTheChangeInItsEntry: the wrapped command applies and its
// record is made in the same entry; a request's entries merge into one
// record; a refusal is recorded with nothing changed but the log.
func TestAuditRecordsTheChangeInItsEntry(t *testing.T) {
	h := bootstrapped(t)
	info := testAuditInfo("req-1")
	info.Action = "CreatePool"
	r := h.ok(AuditedType, audited(t, info, CreatePoolType, CreatePool{Pool: lease.Pool{Name: "p", Seats: 2, Enforce: lease.Hard}, Now: t0 + 1}, t0+1))
	assert.NoError(t, r.Err)
	_, ok := h.f.Pool("p")
	require.True(t, ok, "the wrapped command did not apply")

	// The same request's second command joins its record.
	h.ok(AuditedType, audited(t, info, UpdatePoolType, UpdatePool{Pool: lease.Pool{Name: "p", Seats: 3, Enforce: lease.Hard}, Now: t0 + 2}, t0+2))
	page := h.f.Audit(AuditFilter{})
	require.Len(t, page.Records, 1)
	rec := page.Records[0]
	assert.Equal(t, uint64(1), rec.Seq)
	assert.Equal(t, []string{"CreatePool", "UpdatePool"}, rec.Commands)
	assert.Equal(t, "ok", rec.Outcome)
	assert.Equal(t, "user:alice", rec.Actor)
	assert.Equal(t, "10.0.0.9:51234", rec.Addr)
	assert.Equal(t, t0+1, rec.At)

	// A refused command: the FSM's error comes back, the pool is untouched,
	// the refusal is recorded.
	info2 := testAuditInfo("req-2")
	info2.Action = "CreatePool"
	r = h.apply(AuditedType, audited(t, info2, CreatePoolType, CreatePool{Pool: lease.Pool{Name: "p", Seats: 9, Enforce: lease.Hard}, Now: t0 + 3}, t0+3))
	require.ErrorIs(t, r.Err, ErrPoolExists)
	p, _ := h.f.Pool("p")
	assert.Equal(t, 3, p.Pool.Seats)
	// A request that failed after it changed something is closed by an
	// event; one that changed nothing is only the event.
	h.ok(AuditEventType, AuditEvent{Info: info, Outcome: "hub unreachable", Code: "unavailable", Now: t0 + 4})
	h.ok(AuditEventType, AuditEvent{Info: testAuditInfo("req-3"), Outcome: "permission denied", Code: "permission_denied", Now: t0 + 5})
	page = h.f.Audit(AuditFilter{})
	require.Len(t, page.Records, 3)
	assert.Equal(t, []uint64{3, 2, 1}, []uint64{page.Records[0].Seq, page.Records[1].Seq, page.Records[2].Seq}, "newest first")
	assert.Equal(t, "permission_denied", page.Records[0].Code)
	assert.Contains(t, page.Records[1].Outcome, "pool exists")
	assert.Equal(t, []string{"CreatePool"}, page.Records[1].Commands)
	assert.Equal(t, "hub unreachable", page.Records[2].Outcome, "the closing event's outcome")
	assert.Equal(t, []string{"CreatePool", "UpdatePool"}, page.Records[2].Commands)

	// Filters and paging.
	assert.Len(t, h.f.Audit(AuditFilter{Action: "CreatePool"}).Records, 2)
	assert.Len(t, h.f.Audit(AuditFilter{Actor: "user:bob"}).Records, 0)
	assert.Len(t, h.f.Audit(AuditFilter{Since: t0 + 3}).Records, 2)
	assert.Len(t, h.f.Audit(AuditFilter{Until: t0 + 3}).Records, 1)
	first := h.f.Audit(AuditFilter{Limit: 2})
	require.Len(t, first.Records, 2)
	assert.True(t, first.More)
	rest := h.f.Audit(AuditFilter{Limit: 2, Before: first.Records[1].Seq})
	require.Len(t, rest.Records, 1)
	assert.False(t, rest.More)
	assert.Equal(t, uint64(1), rest.Records[0].Seq)

	// A snapshot keeps it all, byte for byte.
	snap := snapshotBytes(t, h.f)
	f := New()
	require.NoError(t, f.Restore(io.NopCloser(bytes.NewReader(snap))))
	assert.Equal(t, h.f.Audit(AuditFilter{}), f.Audit(AuditFilter{}))
	assert.Equal(t, snap, snapshotBytes(t, f))
}

func TestAuditRetentionCountsWhatWent(t *testing.T) {
	h := bootstrapped(t)
	day := (24 * time.Hour).Milliseconds()
	for i := range 5 {
		info := testAuditInfo("r" + string(rune('a'+i)))
		info.RetentionMs = 2 * day
		h.ok(AuditEventType, AuditEvent{Info: info, Outcome: "ok", Now: t0 + int64(i)*day})
	}
	page := h.f.Audit(AuditFilter{})
	assert.Equal(t, uint64(2), page.Dropped, "records older than two days")
	assert.Equal(t, 3, page.Kept)
	assert.Equal(t, uint64(3), page.Records[len(page.Records)-1].Seq)
}

func TestAuditRefusesBadInput(t *testing.T) {
	for name, cmd := range map[string]command{
		"no request id":   AuditEvent{Info: AuditInfo{Actor: "a", Action: "x"}, Outcome: "ok", Now: t0},
		"no actor":        AuditEvent{Info: AuditInfo{RequestID: "r", Action: "x"}, Outcome: "ok", Now: t0},
		"no outcome":      AuditEvent{Info: testAuditInfo("r"), Now: t0},
		"long retention":  AuditEvent{Info: AuditInfo{RequestID: "r", Actor: "a", Action: "x", RetentionMs: 1 << 62}, Outcome: "ok", Now: t0},
		"audited garbage": Audited{Info: testAuditInfo("r"), Type: CreatePoolType, Body: []byte(`{"Pool":7}`), Now: t0},
		"audited audit":   Audited{Info: testAuditInfo("r"), Type: AuditEventType, Body: []byte(`{}`), Now: t0},
		"audited unknown": Audited{Info: testAuditInfo("r"), Type: 120, Body: []byte(`{}`), Now: t0},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Encode(cmd.msgType(), cmd)
			require.Error(t, err)
		})
	}
}
