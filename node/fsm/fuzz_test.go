package fsm

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
	"github.com/stretchr/testify/require"
)

// fuzzBase is a small state for fuzz targets to start from.
func fuzzBase(t testing.TB) []byte {
	t.Helper()
	h := bootstrapped(t)
	h.pool("p", 2, lease.Hard)
	h.pool("s", 1, lease.Soft)
	h.ok(CreateTokenType, CreateToken{ID: "tok1", SecretHash: Hash{1}, Role: RoleCollector, MaxUses: 3, Now: t0})
	h.ok(EnrollType, Enroll{TokenID: "tok1", SecretHash: Hash{1}, CollectorID: "c1", CertSerial: "01", Now: t0})
	h.batch(t0, acq("p", "alice", "c1"), acq("s", "bob", "c1"), acq("s", "carol", "c2"))
	h.ok(AddLicenseType, AddLicense{Text: fuzzLicense(), Now: t0})
	h.batch(t0, acq(adminPool, "dave", "c1"))
	h.ok(SetSiteZoneType, SetSiteZone{Zone: "Europe/Paris", Now: t0})
	h.ok(UsageBatchType, UsageBatch{Now: t0, Collector: "c1", Installation: testInst, Epoch: 2, Records: recs(t0-40*dayMs, 1, 2)})
	h.ok(UsageBatchType, UsageBatch{Now: t0, Collector: "c1", Installation: testInst, Epoch: 2, Records: recs(t0, 3, 4)})
	return snapshotBytes(t, h.f)
}

func restored(t testing.TB, snap []byte) *FSM {
	t.Helper()
	f := New()
	require.NoError(t, f.Restore(io.NopCloser(bytes.NewReader(snap))))
	return f
}

func FuzzApply(f *testing.F) {
	base := fuzzBase(f)
	for _, cmd := range allCommands() {
		f.Add(encode(f, cmd.msgType(), cmd))
	}
	f.Add(encode(f, LeaseBatchType, LeaseBatch{Now: t0, Ops: []LeaseOp{rel(65536*5, "c1"), exp(65536*5 + 1), acq("p", "zed", "c1")}}))
	f.Add([]byte{})
	f.Add([]byte{byte(LeaseBatchType)})
	f.Add([]byte{byte(LeaseBatchType), '{', '}'})
	f.Add([]byte{0x80 | 100, 'x'})
	f.Add([]byte("\x04{\"Now\":1,\"Ops\":[{\"Kind\":\"acquire\",\"Pool\":\"p\"}]}"))
	// License commands: a renewal replacing the base license, a second
	// license adding seats, the end of the trial and of grace, removal.
	renewal := timesheetPayload("lic-2", func(p *license.Payload) { p.IssuedAt = msTime(t0 + 1) })
	f.Add(encode(f, AddLicenseType, AddLicense{Text: sealed(f, renewal), Now: t0 + 1}))
	f.Add(encode(f, AddLicenseType, AddLicense{Text: sealed(f, testPayload("lic-3", withPools(license.Pool{Name: adminPool, Seats: 2, Enforce: lease.Hard, Overage: 1}))), Now: t0}))
	f.Add(encode(f, LeaseBatchType, LeaseBatch{Now: t0 + 31*dayMs, Ops: []LeaseOp{acq(adminPool, "erin", "c1"), acq(projectsPool, "frank", "c1")}}))
	f.Add(encode(f, LeaseBatchType, LeaseBatch{Now: t0 + 400*dayMs, Ops: []LeaseOp{acq(adminPool, "erin", "c1")}}))
	f.Add(encode(f, RemoveLicenseType, RemoveLicense{ID: "lic-1", Now: t0}))
	f.Add(encode(f, CreatePoolType, CreatePool{Pool: lease.Pool{Name: adminPool, Seats: 1, Enforce: lease.Hard}, Now: t0}))
	// Usage: a retry overlapping what is committed, a new spool, a stale
	// one, a month's end passing, and a zone change refused.
	f.Add(encode(f, UsageBatchType, UsageBatch{Now: t0, Collector: "c1", Installation: testInst, Epoch: 2, Records: recs(t0, 3, 4, 5)}))
	f.Add(encode(f, UsageBatchType, UsageBatch{Now: t0, Collector: "c1", Installation: "other", Epoch: 3, Records: recs(t0, 1)}))
	f.Add(encode(f, UsageBatchType, UsageBatch{Now: t0, Collector: "c1", Installation: testInst, Epoch: 1, Records: recs(t0, 9)}))
	f.Add(encode(f, LeaseBatchType, LeaseBatch{Now: t0 + 40*dayMs}))
	f.Add(encode(f, SetSiteZoneType, SetSiteZone{Zone: "Asia/Tokyo", Now: t0}))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsm := restored(t, base)
		before := stateBytes(t, fsm)
		_, _, decErr := Decode(data)
		r := fsm.Apply(rlog(9, data)).(Response)
		if r.Err != nil {
			require.Equal(t, before, stateBytes(t, fsm), "refused command (%v) changed the state", r.Err)
			return
		}
		if decErr != nil {
			require.ErrorIs(t, decErr, ErrUnknownMsgType, "Apply accepted what Decode refused")
		}
		// Whatever applied must still snapshot and restore to itself.
		snap := snapshotBytes(t, fsm)
		require.Equal(t, snap, snapshotBytes(t, restored(t, snap)), "state after apply does not survive a snapshot round trip")
	})
}

func FuzzDecodeCommand(f *testing.F) {
	for _, cmd := range allCommands() {
		f.Add(encode(f, cmd.msgType(), cmd))
	}
	f.Add([]byte("\x02{\"Pool\":{\"Name\":\"p\",\"Seats\":1,\"Enforce\":\"hard\"},\"Now\":1}"))
	f.Add([]byte("\x0b{\"ID\":\"lic-1\",\"Now\":1}"))
	f.Add([]byte("\x0a{\"Text\":\"aGVsbG8=\",\"Now\":1}"))
	f.Add([]byte("\x0d" + `{"Now":1780000000000,"Collector":"c1","Installation":"i","Epoch":1,"Records":[{"Seq":1,"Sample":{"At":1780000000000,` +
		`"Scalars":{"users":3},"Users":[{"ID":"u","Role":"rep"}],"Logons":[{"ID":"u","Role":"super","Start":1779999000000}]}}]}`))
	f.Add([]byte("\x0e" + `{"Zone":"America/Sao_Paulo","Now":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		mt, cmd, err := Decode(data)
		if err != nil {
			require.True(t, errors.Is(err, ErrMalformed) || errors.Is(err, ErrUnknownMsgType),
				"error %v wraps neither ErrMalformed nor ErrUnknownMsgType", err)
			return
		}
		// Anything accepted re-encodes and decodes to the same command.
		again, err := Encode(mt, cmd)
		require.NoError(t, err, "accepted command does not re-encode")
		_, cmd2, err := Decode(again)
		require.NoError(t, err, "re-encoded command refused")
		b1, _ := Encode(mt, cmd2)
		require.Equal(t, again, b1, "encoding is not stable")
	})
}

func FuzzRestore(f *testing.F) {
	base := fuzzBase(f)
	f.Add(base)
	f.Add(snapshotBytes(f, New()))
	f.Add(base[:len(base)/2])
	f.Add([]byte(snapshotMagic))
	if old, err := os.ReadFile("testdata/snapshot-v1.bin"); err == nil {
		f.Add(old)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsm := restored(t, base)
		err := fsm.Restore(io.NopCloser(bytes.NewReader(data)))
		if err != nil {
			require.ErrorIs(t, err, ErrBadSnapshot)
			require.Equal(t, base, snapshotBytes(t, fsm), "refused restore changed the state")
			return
		}
		snap := snapshotBytes(t, fsm)
		require.Equal(t, snap, snapshotBytes(t, restored(t, snap)), "restored state does not survive a snapshot round trip")
	})
}
