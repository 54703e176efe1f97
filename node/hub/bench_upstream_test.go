package hub

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/upstream"
	"github.com/licmesh/licmesh/licensing/usage"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/hub/store"
)

// Usage ingestion and the sales monitor, each on SQLite and on a real
// PostgreSQL, each with its baseline on the same engine (make bench
// divides them):
//
//   - PushMonthlyBatches: monthly batches (one installation's month and its
//     30 days) from 1,000 sites, twelve months each, pushed over HTTPS as a
//     site's leader pushes them: signature, chain check, upserts, the
//     monitor row, the signed receipt ÷ RawBatchAppend, the same batches
//     appended through the store, in their own transactions.
//   - MonitorPage10k: the sales monitor's page (GET /ui/monitor as the
//     vendor's admin) over 10,000 installations, p50 and p99 ÷
//     RawInstallations10k, the same rows read from the store.

const (
	benchSites  = 1000
	benchMonths = 12
)

// benchSite is a registered site and the key it signs with.
type benchSite struct {
	id   license.ClusterID
	key  ed25519.PrivateKey
	hash string
}

// benchSites registers n sites of one company, straight in the store.
func registerBenchSites(b *testing.B, h *testHub, n int) []*benchSite {
	b.Helper()
	ctx := context.Background()
	co, err := h.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Acme", Email: "it@acme.example"}))
	require.NoError(b, err)
	sites := make([]*benchSite, n)
	require.NoError(b, h.s.store.Tx(ctx, func(tx *store.Tx) error {
		for i := range sites {
			pub, key, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			sites[i] = &benchSite{id: license.ClusterID(fmt.Sprintf("lm-%06d", i)), key: key}
			if err := tx.PutSite(ctx, store.Site{ClusterID: sites[i].id, Company: store.CompanyID(co.Msg.GetCompany().GetId()),
				PublicKey: []byte(b64(pub)), RegisteredAt: t0, LastContactAt: t0, Zone: "UTC"}); err != nil {
				return err
			}
		}
		return nil
	}))
	return sites
}

// monthBatch is site's batch for month m (0-based from Jan 2026): the
// installation's month and its days, chained to the site's previous batch.
func (s *benchSite) monthBatch(b *testing.B, m int, insts int) upstream.Signed {
	b.Helper()
	k := usage.MonthKey{Year: 2026, Month: time.Month(1 + m%12)}
	start, _ := k.Bounds(time.UTC)
	bt := &upstream.Batch{Format: upstream.BatchFormat, ClusterID: s.id, Seq: uint64(m + 1), Prev: s.hash, CreatedAt: start.AddDate(0, 1, 0),
		Zone: "UTC"}
	for i := range insts {
		inst := usage.InstallationID(fmt.Sprintf("inst-%02d", i))
		bt.Months = append(bt.Months, upstream.Month{Installation: inst, Month: k, Closed: true, ClosedAt: start.AddDate(0, 1, 0),
			Metrics: usage.Metrics{Super: 2, EnStaff: 40, AcStaff: 31, UserCountLatest: 42, UserCountMax: 45, CaseCountLatest: 1000 + int64(m), CaseCountMax: 1100}})
		if insts > 1 {
			continue
		}
		for d := range 30 {
			at := start.AddDate(0, 0, d).Add(12 * time.Hour)
			bt.Days = append(bt.Days, upstream.Day{Installation: inst, DayStats: usage.DayStats{Day: usage.DayOf(at, time.UTC), Samples: 144,
				Scalars: []usage.ScalarStats{
					{Name: "cases", Min: 900, Max: 1100, Sum: 144_000, Last: 1000, LastAt: at},
					{Name: "users", Min: 40, Max: 45, Sum: 6000, Last: 42, LastAt: at},
				}}})
		}
	}
	sb, err := upstream.SealBatch(bt, s.key)
	require.NoError(b, err)
	s.hash = sb.Hash()
	return sb
}

// benchBatches makes n batches: site i%1000's batch for month i/1000, so
// every site sends its months in order.
func benchBatches(b *testing.B, sites []*benchSite, n int) []upstream.Signed {
	b.Helper()
	out := make([]upstream.Signed, n)
	for i := range out {
		out[i] = sites[i%len(sites)].monthBatch(b, i/len(sites), 1)
	}
	return out
}

func BenchmarkPushMonthlyBatches(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			h := startHub(b, e.opt(b))
			sites := registerBenchSites(b, h, benchSites)
			n := max(b.N, 1)
			require.LessOrEqual(b, n, benchSites*benchMonths, "at most twelve months of 1,000 sites")
			batches := benchBatches(b, sites, n)
			c := licmeshv1connect.NewUpstreamServiceClient(h.httpClient(b), h.url)
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				r, err := c.PushUsage(ctx, connect.NewRequest(&licmeshv1.PushUsageRequest{Batches: [][]byte{batches[i].Marshal()}}))
				if err != nil || r.Msg.GetAccepted() != 1 {
					b.Fatalf("batch %d: %v", i, err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
		})
	}
}

func BenchmarkRawBatchAppend(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			h := startHub(b, e.opt(b))
			sites := registerBenchSites(b, h, benchSites)
			n := max(b.N, 1)
			require.LessOrEqual(b, n, benchSites*benchMonths)
			signed := benchBatches(b, sites, n)
			batches := make([]*upstream.Batch, n)
			for i, s := range signed {
				bt, err := upstream.OpenBatch(s, sites[i%benchSites].id, sites[i%benchSites].key.Public().(ed25519.PublicKey))
				require.NoError(b, err)
				batches[i] = bt
			}
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				bt, hash := batches[i], signed[i].Hash()
				if err := h.s.store.Tx(ctx, func(tx *store.Tx) error { return tx.AppendBatch(ctx, bt, hash, "online", t0) }); err != nil {
					b.Fatalf("batch %d: %v", i, err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
		})
	}
}

// monitor10k is a hub with 1,000 sites of ten installations each, two
// months reported for each.
func monitor10k(b *testing.B, opt func(*Config)) *testHub {
	b.Helper()
	h := startHub(b, opt)
	sites := registerBenchSites(b, h, benchSites)
	ctx := context.Background()
	// A hundred sites per transaction: seeding is not what is measured.
	for chunk := range slices.Chunk(sites, 100) {
		require.NoError(b, h.s.store.Tx(ctx, func(tx *store.Tx) error {
			for _, s := range chunk {
				s.hash = ""
				for m := range 2 {
					sb := s.monthBatch(b, m, 10)
					bt, err := upstream.OpenBatch(sb, s.id, s.key.Public().(ed25519.PublicKey))
					if err != nil {
						return err
					}
					if err := tx.AppendBatch(ctx, bt, sb.Hash(), "online", t0); err != nil {
						return err
					}
				}
			}
			return nil
		}))
	}
	return h
}

// quantiles reports the p50 and p99 of ds, in milliseconds.
func quantiles(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	q := func(p float64) float64 {
		return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

func BenchmarkMonitorPage10k(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			h := monitor10k(b, e.opt(b))
			hc := h.httpClient(b)
			_, err := licmeshv1connect.NewHubServiceClient(hc, h.url).SignIn(context.Background(), connect.NewRequest(&licmeshv1.SignInRequest{
				Email: h.init.AdminEmail, Password: h.init.AdminPassword}))
			require.NoError(b, err)
			var ds []time.Duration
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				resp, err := hc.Get(h.url + "/ui/monitor")
				if err != nil {
					b.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("monitor: %v %d %.300s", err, resp.StatusCode, body)
				}
				ds = append(ds, time.Since(start))
			}
			quantiles(b, ds)
		})
	}
}

func BenchmarkRawInstallations10k(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			h := monitor10k(b, e.opt(b))
			ctx := context.Background()
			var ds []time.Duration
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				err := h.s.store.Read(ctx, func(tx *store.Tx) error {
					rows, err := tx.ListInstallations(ctx, store.InstallationFilter{})
					if err == nil && len(rows) != benchSites*10 {
						err = fmt.Errorf("%d rows", len(rows))
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(start))
			}
			quantiles(b, ds)
		})
	}
}
