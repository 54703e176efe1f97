package upstream_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/upstream"
	"github.com/licmesh/licmesh/licensing/usage"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func key(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return k
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

func batch(seq uint64, prev string) *upstream.Batch {
	return &upstream.Batch{
		Format: upstream.BatchFormat, ClusterID: "lm-abc", Seq: seq, Prev: prev, CreatedAt: t0, Zone: "UTC",
		Months: []upstream.Month{{Installation: "inst-1", Month: usage.MonthKey{Year: 2026, Month: 12},
			Metrics: usage.Metrics{UserCountLatest: 7, CaseCountLatest: int64(100 + seq)}}},
		Days: []upstream.Day{{Installation: "inst-1", DayStats: usage.DayStats{Day: usage.DayKey{Year: 2026, Month: 12, Day: 7}, Samples: 3,
			Scalars: []usage.ScalarStats{{Name: "cases", Min: 1, Max: 3, Sum: 6, Last: 3, LastAt: t0}}}}},
		Credits: []upstream.Credit{{License: "lic-1", Unit: "calls", Bought: 100, Consumed: 4}},
		Seats:   []upstream.Seats{{Pool: "users", Seats: 10, Held: 3, Peak: 5}},
	}
}

// chain seals n batches that follow each other.
func chain(t *testing.T, k ed25519.PrivateKey, n int) []upstream.Signed {
	t.Helper()
	var out []upstream.Signed
	prev := ""
	for i := 1; i <= n; i++ {
		s, err := upstream.SealBatch(batch(uint64(i), prev), k)
		require.NoError(t, err)
		out = append(out, s)
		prev = s.Hash()
	}
	return out
}

func TestBatchRoundTrip(t *testing.T) {
	k := key(t)
	s, err := upstream.SealBatch(batch(1, ""), k)
	require.NoError(t, err)
	again, err := upstream.ParseSigned(s.Marshal(), upstream.MaxBatchBytes*2)
	require.NoError(t, err)
	b, err := upstream.OpenBatch(again, "lm-abc", pub(k))
	require.NoError(t, err)
	assert.Equal(t, batch(1, ""), b)
	cl, seq, err := upstream.Peek(s)
	require.NoError(t, err)
	assert.Equal(t, license.ClusterID("lm-abc"), cl)
	assert.Equal(t, uint64(1), seq)
}

func TestBatchRefusesTamperingAndStrangers(t *testing.T) {
	k := key(t)
	s, err := upstream.SealBatch(batch(1, ""), k)
	require.NoError(t, err)

	for i := range s.Payload {
		bad := s
		bad.Payload = append([]byte(nil), s.Payload...)
		bad.Payload[i] ^= 0x01
		_, err := upstream.OpenBatch(bad, "lm-abc", pub(k))
		require.ErrorIs(t, err, upstream.ErrBadSignature, "byte %d", i)
	}
	_, err = upstream.OpenBatch(s, "lm-abc", pub(key(t)))
	require.ErrorIs(t, err, upstream.ErrBadSignature)
	_, err = upstream.OpenBatch(s, "lm-other", pub(k))
	require.ErrorIs(t, err, upstream.ErrWrongCluster)
}

func TestBatchValidation(t *testing.T) {
	k := key(t)
	cases := map[string]func(b *upstream.Batch){
		"no seq":           func(b *upstream.Batch) { b.Seq = 0 },
		"bad prev":         func(b *upstream.Batch) { b.Seq, b.Prev = 2, "zz" },
		"first with prev":  func(b *upstream.Batch) { b.Prev = "00" },
		"format":           func(b *upstream.Batch) { b.Format = 9 },
		"negative metric":  func(b *upstream.Batch) { b.Months[0].Metrics.Super = -1 },
		"late on open":     func(b *upstream.Batch) { b.Months[0].Late = &usage.LateArrivals{} },
		"closed no time":   func(b *upstream.Batch) { b.Months[0].Closed = true },
		"empty day":        func(b *upstream.Batch) { b.Days[0].Samples = 0 },
		"unsorted scalars": func(b *upstream.Batch) { b.Days[0].Scalars = append(b.Days[0].Scalars, b.Days[0].Scalars[0]) },
		"negative credit":  func(b *upstream.Batch) { b.Credits[0].Consumed = -1 },
		"no zone":          func(b *upstream.Batch) { b.Zone = "" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			b := batch(1, "")
			mutate(b)
			_, err := upstream.SealBatch(b, k)
			require.ErrorIs(t, err, upstream.ErrMalformed)
		})
	}
}

func TestLink(t *testing.T) {
	k := key(t)
	c := chain(t, k, 3)
	b2, err := upstream.OpenBatch(c[1], "lm-abc", pub(k))
	require.NoError(t, err)
	require.NoError(t, upstream.Link(1, c[0].Hash(), b2))
	require.ErrorIs(t, upstream.Link(0, "", b2), upstream.ErrBrokenChain)
	require.ErrorIs(t, upstream.Link(1, c[2].Hash(), b2), upstream.ErrBrokenChain)
}

func TestExportFile(t *testing.T) {
	k := key(t)
	c := chain(t, k, 3)
	e := &upstream.Export{Format: upstream.ExportFormat, ClusterID: "lm-abc", CreatedAt: t0, Batches: c}
	text := e.Marshal()
	got, err := upstream.ParseExport(text)
	require.NoError(t, err)
	batches, hashes, err := got.Open(pub(k))
	require.NoError(t, err)
	require.Len(t, batches, 3)
	assert.Equal(t, c[2].Hash(), hashes[2])

	// A gap inside the file, a reorder, another cluster's key: refused.
	gap := &upstream.Export{Format: upstream.ExportFormat, ClusterID: "lm-abc", CreatedAt: t0, Batches: []upstream.Signed{c[0], c[2]}}
	_, _, err = gap.Open(pub(k))
	require.ErrorIs(t, err, upstream.ErrBrokenChain)
	_, _, err = e.Open(pub(key(t)))
	require.ErrorIs(t, err, upstream.ErrBadSignature)

	// One byte changed anywhere in the file is refused, whether it breaks
	// the JSON, the base64 or the signature.
	for i := 0; i < len(text); i += 7 {
		bad := append([]byte(nil), text...)
		bad[i] ^= 0x04
		f, err := upstream.ParseExport(bad)
		if err == nil {
			_, _, err = f.Open(pub(k))
		}
		if err == nil {
			// A flip that yields the same document (case in a JSON
			// key JSON matches case-insensitively is the one way) must
			// still carry the very same batches.
			require.Equal(t, e.Batches, f.Batches, "byte %d", i)
		}
	}
	_, err = upstream.ParseExport([]byte(`{"format":"x"}`))
	require.ErrorIs(t, err, upstream.ErrMalformed)
}

func TestReceipt(t *testing.T) {
	k := key(t)
	keys := license.Keyring{}
	require.NoError(t, keys.Add("vendor-1", pub(k)))
	s, err := upstream.SealReceipt(upstream.Receipt{ClusterID: "lm-abc", Seq: 4, Hash: chain(t, k, 1)[0].Hash(), IssuedAt: t0}, k, "vendor-1")
	require.NoError(t, err)
	r, err := upstream.OpenReceipt(s, keys, "lm-abc")
	require.NoError(t, err)
	assert.Equal(t, uint64(4), r.Seq)
	_, err = upstream.OpenReceipt(s, keys, "lm-other")
	require.ErrorIs(t, err, upstream.ErrWrongCluster)
	s.KeyID = "vendor-2"
	_, err = upstream.OpenReceipt(s, keys, "lm-abc")
	require.ErrorIs(t, err, upstream.ErrBadSignature)
}

func TestActivationRequestAndProof(t *testing.T) {
	k := key(t)
	s, err := upstream.SealRequest(upstream.ActivationRequest{ClusterID: "lm-abc", Products: []license.SKU{"BPM"},
		Versions: upstream.Versions{Masters: []string{"v1.2.0"}}, CreatedAt: t0}, k)
	require.NoError(t, err)
	r, err := upstream.OpenRequest(s)
	require.NoError(t, err)
	assert.Equal(t, []byte(pub(k)), r.PublicKey)
	s.Payload[len(s.Payload)-3] ^= 1
	_, err = upstream.OpenRequest(s)
	require.Error(t, err)

	p, err := upstream.SealProof("lm-abc", "check", t0, k)
	require.NoError(t, err)
	_, err = upstream.OpenProof(p, "lm-abc", pub(k), "check", t0.Add(time.Minute), time.Hour)
	require.NoError(t, err)
	_, err = upstream.OpenProof(p, "lm-abc", pub(k), "check", t0.Add(2*time.Hour), time.Hour)
	require.ErrorIs(t, err, upstream.ErrStale)
	_, err = upstream.OpenProof(p, "lm-abc", pub(k), "sync", t0, time.Hour)
	require.ErrorIs(t, err, upstream.ErrMalformed)
	_, err = upstream.OpenProof(p, "lm-abc", pub(key(t)), "check", t0, time.Hour)
	require.ErrorIs(t, err, upstream.ErrBadSignature)
}

func FuzzParseExport(f *testing.F) {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	s, _ := upstream.SealBatch(batch(1, ""), k)
	f.Add((&upstream.Export{Format: upstream.ExportFormat, ClusterID: "lm-abc", CreatedAt: t0, Batches: []upstream.Signed{s}}).Marshal())
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := upstream.ParseExport(b)
		if err != nil {
			return
		}
		_, _, _ = e.Open(pub(k))
	})
}
