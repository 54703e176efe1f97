package fsm

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"testing"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
	"github.com/stretchr/testify/require"
)

// v1Log is the scenario testdata/snapshot-v1.bin was written from, by the
// last build that wrote snapshot format 1. Keep it unchanged: the upgrade
// test replays it and compares with what the old snapshot restores to.
func v1Log(t testing.TB) [][]byte {
	t.Helper()
	var log [][]byte
	add := func(mt MsgType, cmd any) { log = append(log, encode(t, mt, cmd)) }
	add(BootstrapType, testBootstrap())
	add(CreatePoolType, CreatePool{Pool: lease.Pool{Name: "pm.users", Seats: 3, Enforce: lease.Hard}, Now: t0 + 1})
	add(CreatePoolType, CreatePool{Pool: lease.Pool{Name: "pm.cases", Seats: 1, Enforce: lease.Soft}, Now: t0 + 2})
	add(CreateTokenType, CreateToken{ID: "join1", SecretHash: Hash{7}, Role: RoleCollector, MaxUses: 4, Now: t0 + 3})
	add(EnrollType, Enroll{TokenID: "join1", SecretHash: Hash{7}, CollectorID: "col-a", Hostname: "a", CertSerial: "01", Now: t0 + 4})
	add(EnrollType, Enroll{TokenID: "join1", SecretHash: Hash{7}, CollectorID: "col-b", Hostname: "b", CertSerial: "02", Now: t0 + 5})
	var ops []LeaseOp
	for i := range 5 {
		ops = append(ops, acq("pm.users", fmt.Sprintf("u%d", i), "col-a"), acq("pm.cases", fmt.Sprintf("c%d", i), "col-b"))
	}
	add(LeaseBatchType, LeaseBatch{Now: t0 + 10, Ops: ops})
	add(LeaseBatchType, LeaseBatch{Now: t0 + 20, Ops: []LeaseOp{rel(7<<16, "col-a"), exp(7<<16 | 1)}})
	add(UpdatePoolType, UpdatePool{Pool: lease.Pool{Name: "pm.users", Seats: 1, Enforce: lease.Hard}, Now: t0 + 30})
	add(CollectorSeenType, CollectorSeen{Now: t0 + 40, Entries: []SeenEntry{{CollectorID: "col-a", Version: "1.1", Protocol: "h3", SeenAt: t0 + 40}}})
	add(RevokeTokenType, RevokeToken{ID: "join1", Now: t0 + 50})
	return log
}

// TestRestoreV1Snapshot restores a snapshot written before licenses
// (format 1) and checks that it is the state its log gives today, and that
// it carries on as format 2.
func TestRestoreV1Snapshot(t *testing.T) {
	old, err := os.ReadFile("testdata/snapshot-v1.bin")
	require.NoError(t, err)
	require.Equal(t, byte(snapshotV1), old[len(snapshotMagic)], "golden file format")
	got := restored(t, old)
	want := applyAll(t, v1Log(t)).f
	equalState(t, got, want)
	for _, ps := range got.Pools() {
		require.Equal(t, SourceManual, ps.Source, "pool from format 1 = %+v", ps)
		require.NotNil(t, ps.Manual, "pool from format 1 = %+v", ps)
		require.Equal(t, ps.Pool, *ps.Manual, "pool from format 1 = %+v", ps)
	}
	// Upstream marks came after format 1: a state restored from one has
	// none, and owes its hub nothing it had before.
	want.st.upstream.dirty = map[string]uint64{}
	// So did utilization: a restored state counts use from its next
	// change on.
	want.st.util = newUtilState()
	snap := snapshotBytes(t, got)
	require.Equal(t, byte(snapshotVersion), snap[len(snapshotMagic)], "a format 1 state does not snapshot in format 2")
	require.Equal(t, snapshotBytes(t, want), snap, "a format 1 state does not snapshot as the same state in format 2")
	// The upgraded state takes license commands like any other.
	h := &harness{t: t, f: got, index: got.AppliedIndex()}
	h.addLicense(testPayload("lic-1", withPools(license.Pool{Name: "pm.users", Seats: 4, Enforce: lease.Hard})), t0+100)
	ps := h.poolOf("pm.users")
	require.Equal(t, SourceLicense, ps.Source, "pool after a license = %+v", ps)
	require.Equal(t, 4, ps.Pool.Seats, "pool after a license = %+v", ps)
	require.Equal(t, 2, ps.Held, "pool after a license = %+v", ps)
	// A format 1 stream cannot carry license records.
	require.NoError(t, New().Restore(io.NopCloser(bytes.NewReader(resum(t, old)))), "resum broke the stream")
	end := endOffset(t, old)
	rec := licenseRecordBytes(t, testPayload("lic-1"))
	bad := resum(t, append(append(bytes.Clone(old[:end]), rec...), old[end:]...))
	require.ErrorIs(t, New().Restore(io.NopCloser(bytes.NewReader(bad))), ErrBadSnapshot, "license record in format 1")
}

// endOffset returns where a snapshot stream's end record starts.
func endOffset(t testing.TB, snap []byte) int {
	t.Helper()
	off := len(snapshotMagic) + 1
	for off < len(snap) {
		if snap[off] == recEnd {
			return off
		}
		n, k := binary.Uvarint(snap[off+1:])
		require.Positive(t, k, "bad record length")
		off += 1 + k + int(n)
	}
	require.FailNow(t, "no end record")
	return 0
}

// resum rewrites the checksum of a snapshot stream whose records were
// edited, so that Restore judges the content, not the framing.
func resum(t testing.TB, snap []byte) []byte {
	t.Helper()
	end := endOffset(t, snap)
	out := bytes.Clone(snap)
	binary.BigEndian.PutUint32(out[len(out)-4:], crc32.Checksum(out[:end], castagnoli))
	return out
}

// licenseRecordBytes frames a license record for p.
func licenseRecordBytes(t testing.TB, p *license.Payload) []byte {
	t.Helper()
	body, err := json.Marshal(licenseRecord{ID: p.ID, Text: string(sealed(t, p)), AddedAt: t0})
	require.NoError(t, err)
	return append(binary.AppendUvarint([]byte{recLicense}, uint64(len(body))), body...)
}
