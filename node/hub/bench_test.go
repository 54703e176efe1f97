package hub

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/mesh/dbtest"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/hub/store"
)

// The hub's benchmarks, each on SQLite and on a real PostgreSQL, each with
// its baseline measured beside it on the same engine (make bench divides
// them):
//
//   - IssueLicense: licenses issued per second through the whole path (an
//     API call over HTTPS, authentication, the product's templates, the
//     license validated and signed, stored with its history and audit
//     records in one transaction) ÷ RawLicenseInsert, one license row
//     inserted in its own transaction.
//   - PortalDashboard1000: the customer portal's license dashboard (GET
//     /ui/ as the company's user, over HTTPS) for a company that has 1,000
//     licenses ÷ RawLicenseList1000, the same rows read from the store.
//   - CompanyLicenses1000: the same licenses through the API.

var engines = []struct {
	name string
	opt  func(b *testing.B) func(*Config)
}{
	{"sqlite", func(*testing.B) func(*Config) { return func(*Config) {} }},
	{"postgres", func(b *testing.B) func(*Config) {
		dsn := dbtest.PostgresDatabase(b)
		return func(c *Config) { c.Database, c.PostgresDSN = string(store.Postgres), dsn }
	}},
}

// benchCompany is a hub with the seed-002 product and one company.
func benchCompany(b *testing.B, opt func(*Config)) (*testHub, string) {
	b.Helper()
	h := startHub(b, opt)
	ctx := context.Background()
	_, err := h.admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: seed002Product()}))
	require.NoError(b, err)
	co, err := h.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Acme", Email: "it@acme.example"}))
	require.NoError(b, err)
	return h, co.Msg.GetCompany().GetId()
}

func BenchmarkIssueLicense(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			h, co := benchCompany(b, e.opt(b))
			req := &licmeshv1.IssueLicenseRequest{CompanyId: co, Sku: "timesheet-admin", Quantity: 3}
			b.ResetTimer()
			for b.Loop() {
				if _, err := h.admin.IssueLicense(context.Background(), connect.NewRequest(req)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "licenses/s")
		})
	}
}

func BenchmarkRawLicenseInsert(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			h, co := benchCompany(b, e.opt(b))
			ctx := context.Background()
			var text string
			var key string
			require.NoError(b, h.s.store.Read(ctx, func(tx *store.Tx) error {
				k, err := tx.SigningKey(ctx)
				key = k.KeyID
				return err
			}))
			r, err := h.admin.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: co, Sku: "timesheet-admin", Quantity: 3}))
			require.NoError(b, err)
			text = r.Msg.GetLicense().GetText()
			b.ResetTimer()
			for b.Loop() {
				l := store.License{ID: store.NewLicenseID(), Company: store.CompanyID(co), SubscriptionID: "sub", SKU: "timesheet-admin", ProductVersion: 1,
					Type: "subscription", Quantity: 3, IssuedAt: t0, NotBefore: t0, ExpiresAt: t0.AddDate(1, 0, 0), KeyID: key, IssuedBy: "bench", Text: text}
				if err := h.s.store.Tx(ctx, func(tx *store.Tx) error { return tx.CreateLicense(ctx, l) }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "licenses/s")
		})
	}
}

// company1000 is a hub whose company has 1,000 licenses.
func company1000(b *testing.B, opt func(*Config)) (*testHub, string) {
	b.Helper()
	h, co := benchCompany(b, opt)
	req := &licmeshv1.IssueLicenseRequest{CompanyId: co, Sku: "timesheet-admin", Quantity: 2}
	for i := range 1000 {
		if _, err := h.admin.IssueLicense(context.Background(), connect.NewRequest(req)); err != nil {
			b.Fatalf("license %d: %v", i, err)
		}
	}
	return h, co
}

func BenchmarkCompanyLicenses1000(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			h, co := company1000(b, e.opt(b))
			req := &licmeshv1.ListIssuedLicensesRequest{CompanyId: co}
			b.ResetTimer()
			for b.Loop() {
				r, err := h.admin.ListIssuedLicenses(context.Background(), connect.NewRequest(req))
				if err != nil || len(r.Msg.GetLicenses()) != 1000 {
					b.Fatalf("%v, %d licenses", err, len(r.Msg.GetLicenses()))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
		})
	}
}

func BenchmarkRawLicenseList1000(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			h, co := company1000(b, e.opt(b))
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				err := h.s.store.Read(ctx, func(tx *store.Tx) error {
					ls, err := tx.ListLicenses(ctx, store.LicenseFilter{Company: store.CompanyID(co)})
					if err == nil && len(ls) != 1000 {
						err = fmt.Errorf("%d licenses", len(ls))
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
		})
	}
}

func BenchmarkPortalDashboard1000(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			h, co := company1000(b, e.opt(b))
			ctx := context.Background()
			acc, err := h.admin.CreateAccount(ctx, connect.NewRequest(&licmeshv1.CreateAccountRequest{
				Email: "it@acme.example", Name: "IT", Role: string(store.RoleCustomer), CompanyId: co}))
			require.NoError(b, err)
			hc := h.httpClient(b)
			_, err = licmeshv1connect.NewHubServiceClient(hc, h.url).SignIn(ctx, connect.NewRequest(&licmeshv1.SignInRequest{
				Email: "it@acme.example", Password: acc.Msg.GetPassword()}))
			require.NoError(b, err)
			b.ResetTimer()
			for b.Loop() {
				resp, err := hc.Get(h.url + "/ui/")
				if err != nil {
					b.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("Timesheet Admin User")) {
					b.Fatalf("portal: %v %d %.300s", err, resp.StatusCode, body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
		})
	}
}
