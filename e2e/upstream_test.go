package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// vendorSite is a hub with seed 002's product, one customer company
// holding a subscription license, and an API key of that company's user.
type vendorSite struct {
	hub      *harness.Hub
	admin    licmeshv1connect.HubServiceClient
	company  string
	license  string
	key      string
	customer licmeshv1connect.HubServiceClient
}

func newVendorSite(t *testing.T, hub *harness.Hub) *vendorSite {
	t.Helper()
	ctx := t.Context()
	v := &vendorSite{hub: hub, admin: hub.AdminClient()}
	_, err := v.admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: hubProduct()}))
	require.NoError(t, err)
	co, err := v.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Acme Corp", Email: "it@acme.example"}))
	require.NoError(t, err)
	v.company = co.Msg.GetCompany().GetId()
	l, err := v.admin.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: v.company, Sku: "timesheet-admin", Quantity: 2}))
	require.NoError(t, err)
	v.license = l.Msg.GetLicense().GetId()
	acc, err := v.admin.CreateAccount(ctx, connect.NewRequest(&licmeshv1.CreateAccountRequest{Email: "ops@acme.example", Name: "Acme IT",
		Role: "customer", CompanyId: v.company}))
	require.NoError(t, err)
	v.key, err = hub.SignIn("ops@acme.example", acc.Msg.GetPassword())
	require.NoError(t, err)
	v.customer = hub.Client(v.key)
	return v
}

// hubCounted sums the hub's daily aggregates of one installation, as
// countedOn does the masters'.
func hubCounted(ctx context.Context, hub licmeshv1connect.HubServiceClient, cluster, inst string) (counted, error) {
	resp, err := hub.InstallationHistory(ctx, connect.NewRequest(&licmeshv1.InstallationHistoryRequest{ClusterId: cluster, Installation: inst}))
	if err != nil {
		return counted{}, err
	}
	var c counted
	for _, raw := range resp.Msg.GetDaysJson() {
		var d struct {
			Samples int64 `json:"samples"`
			Scalars []struct {
				Name string `json:"name"`
				Sum  int64  `json:"sum"`
			} `json:"scalars"`
		}
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			return counted{}, err
		}
		c.samples += d.Samples
		for _, s := range d.Scalars {
			switch s.Name {
			case "tick":
				c.tick += s.Sum
			case "tick2":
				c.tick2 += s.Sum
			}
		}
	}
	return c, nil
}

// emittedSums is what the source's log says was emitted.
func emittedSums(t *testing.T, s *usageSite) counted {
	t.Helper()
	var c counted
	for _, v := range s.emitted(t) {
		c.samples, c.tick, c.tick2 = c.samples+1, c.tick+v, c.tick2+v*v
	}
	return c
}

// drain stops a usage site's source and waits until its spool is empty.
func drain(t *testing.T, s *usageSite) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(s.dir, "stop"), nil, 0o600))
	time.Sleep(time.Second) // a run that began before the stop file ends
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		u, err := s.usageStatus()
		if assert.NoError(c, err) {
			assert.Zero(c, u["pending"], "%s: records pending", s.inst)
		}
	}, 30*time.Second, 100*time.Millisecond, "%s: the spool drains", s.inst)
}

func clusterID(t *testing.T, m *harness.Master) string {
	t.Helper()
	st, err := m.Status()
	require.NoError(t, err)
	return st.GetClusterId()
}

func TestSiteSyncsWithHubOnSQLite(t *testing.T) {
	t.Parallel()
	siteSyncsWithHub(t, harness.StartHub(t))
}

func TestSiteSyncsWithHubOnPostgres(t *testing.T) {
	t.Parallel()
	siteSyncsWithHub(t, harness.StartHubOnPostgres(t))
}

// siteSyncsWithHub: a real 3-master cluster is activated online against a
// real hubd with a customer's API key; usage flows up; the hub goes down
// while the cluster keeps counting and loses its leader (kill -9) in the
// middle of its retries; the hub comes back; every acknowledged sample
// arrives once, checked against the source's own log. A file export of
// what the hub already holds, uploaded twice, changes nothing. A seat pack
// added at the hub reaches the collectors within a license check, and a
// revocation stops new grants.
func siteSyncsWithHub(t *testing.T, hub *harness.Hub) {
	ctx := t.Context()
	v := newVendorSite(t, hub)
	c := harness.StartCluster(t, 3, harness.Options{ExtraArgs: []string{"--vendor-keys", hub.Vendor,
		"--upstream-sync-interval", "1s", "--license-check-interval", "2s"}})
	leader := c.WaitReady(60 * time.Second)
	cluster := clusterID(t, leader)

	// A wrong key and an unpinned hub are refused, changing nothing.
	_, errOut, code := leader.Meshctl("activate", "--hub", hub.URL(), "--hub-ca", hub.CertFile(), "--api-key", "lmh1.bogus.key")
	require.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "API key")
	_, errOut, code = leader.Meshctl("activate", "--hub", hub.URL(), "--api-key", v.key)
	require.NotEqual(t, 0, code, "a hub whose certificate is not pinned")
	assert.Contains(t, errOut, "certificate")

	out, errOut, code := leader.Meshctl("activate", "--hub", hub.URL(), "--hub-ca", hub.CertFile(), "--api-key", v.key)
	require.Equal(t, 0, code, "activate: %s", errOut)
	assert.Contains(t, out, "Acme Corp")
	// Again, through a follower: the same place.
	var follower *harness.Master
	for _, m := range c.Masters {
		if m != leader {
			follower = m
			break
		}
	}
	out2, errOut, code := follower.Meshctl("activate", "--hub", hub.URL(), "--hub-ca", hub.CertFile(), "--api-key", v.key, "--company", v.company)
	require.Equal(t, 0, code, "activate again: %s", errOut)
	assert.Equal(t, out, out2, "activation is idempotent")
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		out, _, _ := leader.Meshctl("pool", "list", "-o", "csv")
		assert.Contains(ct, out, "orektic__timehseetProjects,2,hard,")
	}, 20*time.Second, 100*time.Millisecond, "the bound license is in force")

	site := startUsageSite(t, c, leader, "inst-1")
	waitHub := func(min int64) {
		t.Helper()
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			got, err := hubCounted(ctx, v.customer, cluster, "inst-1")
			if assert.NoError(ct, err) {
				assert.GreaterOrEqual(ct, got.samples, min, "samples at the hub")
			}
		}, 60*time.Second, 200*time.Millisecond, "%d samples at the hub", min)
	}
	waitHub(3)

	// The hub goes away; the cluster keeps counting, and its leader dies
	// while it retries.
	hub.Stop()
	before := int64(len(site.emitted(t)))
	require.Eventually(t, func() bool { return int64(len(site.emitted(t))) >= before+4 }, 30*time.Second, 100*time.Millisecond)
	old := c.Leader()
	up, _, _ := old.Meshctl("upstream", "-o", "json")
	t.Logf("upstream while the hub is down: %s", up)
	old.Process().Kill()
	time.Sleep(1500 * time.Millisecond)
	old.Start()
	leader = c.WaitReady(60 * time.Second)
	require.Eventually(t, func() bool { return int64(len(site.emitted(t))) >= before+8 }, 30*time.Second, 100*time.Millisecond)
	hub.Start()

	// Everything the cluster counted arrives, once.
	drain(t, site)
	want := emittedSums(t, site)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got, err := countedOn(c.Leader(), "inst-1")
		if assert.NoError(ct, err) {
			assert.Equal(ct, want, got, "the masters' count")
		}
	}, 30*time.Second, 100*time.Millisecond)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got, err := hubCounted(ctx, v.customer, cluster, "inst-1")
		if assert.NoError(ct, err) {
			assert.Equal(ct, want, got, "the hub's count")
		}
	}, 90*time.Second, 250*time.Millisecond, "every sample reaches the hub once")
	t.Logf("%d samples emitted, counted once at the masters and at the hub", want.samples)

	sites, err := v.customer.ListSites(ctx, connect.NewRequest(&licmeshv1.ListSitesRequest{}))
	require.NoError(t, err)
	require.Len(t, sites.Msg.GetSites(), 1)
	assert.Equal(t, cluster, sites.Msg.GetSites()[0].GetClusterId())
	assert.Equal(t, "online", sites.Msg.GetSites()[0].GetArrival())
	rows, err := v.customer.ListInstallations(ctx, connect.NewRequest(&licmeshv1.ListInstallationsRequest{}))
	require.NoError(t, err)
	require.Len(t, rows.Msg.GetInstallations(), 1)
	assert.EqualValues(t, 7, rows.Msg.GetInstallations()[0].GetUsers(), "seed 000's user count")

	// The same usage as a file, uploaded twice, counts once.
	file := filepath.Join(t.TempDir(), "usage.json")
	_, errOut, code = leader.Meshctl("usage", "export", "--out", file, "--since", time.Now().UTC().Format("2006-01"))
	require.Equal(t, 0, code, "export: %s", errOut)
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	for range 2 {
		_, err := v.customer.UploadUsage(ctx, connect.NewRequest(&licmeshv1.UploadUsageRequest{File: data}))
		require.NoError(t, err)
	}
	got, err := hubCounted(ctx, v.customer, cluster, "inst-1")
	require.NoError(t, err)
	assert.Equal(t, want, got, "a file of usage the hub holds, uploaded twice, changes nothing")

	// A seat pack added at the hub reaches the cluster within a check; a
	// revocation stops new grants.
	cur, err := v.admin.ListIssuedLicenses(ctx, connect.NewRequest(&licmeshv1.ListIssuedLicensesRequest{CompanyId: v.company, Current: true}))
	require.NoError(t, err)
	require.Len(t, cur.Msg.GetLicenses(), 1)
	pack, err := v.admin.AddToLicense(ctx, connect.NewRequest(&licmeshv1.AddToLicenseRequest{LicenseId: cur.Msg.GetLicenses()[0].GetId(), AddQuantity: 1}))
	require.NoError(t, err)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		out, _, _ := c.Leader().Meshctl("pool", "list", "-o", "csv")
		assert.Contains(ct, out, "orektic__timehseetProjects,3,hard,")
	}, 30*time.Second, 200*time.Millisecond, "the pack reaches the cluster")
	col := site.col
	_, err = col.Acquire("orektic__timehseetProjects", "p1")
	require.NoError(t, err)
	_, err = v.admin.RevokeLicense(ctx, connect.NewRequest(&licmeshv1.RevokeLicenseRequest{LicenseId: pack.Msg.GetLicense().GetId()}))
	require.NoError(t, err)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		out, _, _ := c.Leader().Meshctl("license", "list", "-o", "csv")
		assert.NotContains(ct, out, pack.Msg.GetLicense().GetId())
	}, 30*time.Second, 200*time.Millisecond, "the revocation reaches the cluster")
	_, err = col.Acquire("orektic__timehseetProjects", "p2")
	require.Error(t, err, "no new grant under a revoked license")
	st, _, code := c.Leader().Meshctl("upstream")
	require.Equal(t, 0, code)
	assert.Contains(t, st, "removed revoked "+pack.Msg.GetLicense().GetId())
}

// TestAirGappedSiteByFile: a cluster with no way to the hub is activated
// by a request file, and its usage goes up as files: uploaded twice, or
// out of order with one already held, it counts once; the receipt lets the
// site drop what the hub holds; a file edited by one byte, with a batch
// missing, or from another cluster is refused with its reason and changes
// nothing.
func TestAirGappedSiteByFile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	hub := harness.StartHub(t)
	v := newVendorSite(t, hub)
	c := harness.StartCluster(t, 1, harness.Options{ExtraArgs: []string{"--vendor-keys", hub.Vendor}})
	m := c.WaitReady(60 * time.Second)
	cluster := clusterID(t, m)
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }

	_, errOut, code := m.Meshctl("activate", "--request", path("request.json"))
	require.Equal(t, 0, code, "activate --request: %s", errOut)
	req, err := os.ReadFile(path("request.json"))
	require.NoError(t, err)
	act, err := v.customer.ActivateOffline(ctx, connect.NewRequest(&licmeshv1.ActivateOfflineRequest{Request: req, CompanyId: v.company}))
	require.NoError(t, err)
	require.Len(t, act.Msg.GetLicenses(), 1)
	require.NoError(t, os.WriteFile(path("license.lic"), []byte(act.Msg.GetLicenses()[0]), 0o600))
	_, errOut, code = m.Meshctl("license", "add", path("license.lic"))
	require.Equal(t, 0, code, "license add: %s", errOut)

	site := startUsageSite(t, c, m, "inst-air")
	require.Eventually(t, func() bool { return len(site.emitted(t)) >= 3 }, 30*time.Second, 100*time.Millisecond)
	export := func(name string) []byte {
		t.Helper()
		_, errOut, code := m.Meshctl("usage", "export", "--out", path(name))
		require.Equal(t, 0, code, "export: %s", errOut)
		b, err := os.ReadFile(path(name))
		require.NoError(t, err)
		return b
	}
	upload := func(b []byte) (*licmeshv1.UploadUsageResponse, error) {
		r, err := v.customer.UploadUsage(ctx, connect.NewRequest(&licmeshv1.UploadUsageRequest{File: b}))
		if err != nil {
			return nil, err
		}
		return r.Msg, nil
	}
	first := export("first.json")
	time.Sleep(2 * time.Second)
	second := export("second.json") // batches 1 and 2: the first is not acknowledged
	atSecond := len(site.emitted(t))

	// Batch 2 alone: batch 1 is missing.
	var doc struct {
		Format    string            `json:"format"`
		ClusterID string            `json:"cluster_id"`
		CreatedAt string            `json:"created_at"`
		Batches   []json.RawMessage `json:"batches"`
	}
	require.NoError(t, json.Unmarshal(second, &doc))
	// The first file's batch and at least one since (a report landing
	// while the export seals makes one more).
	n := len(doc.Batches)
	require.GreaterOrEqual(t, n, 2)
	gap := doc
	gap.Batches = doc.Batches[1:]
	gapFile, err := json.Marshal(gap)
	require.NoError(t, err)
	_, err = upload(gapFile)
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "%v", err)
	assert.Contains(t, err.Error(), "missing")

	// One byte changed, anywhere in a batch.
	tampered := bytes.Clone(second)
	i := bytes.Index(tampered, []byte(`"payload":"`)) + 40
	tampered[i] ^= 0x01
	if tampered[i] == '"' || tampered[i] == '\\' {
		tampered[i] ^= 0x03
	}
	_, err = upload(tampered)
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "%v", err)

	// Another cluster's file: one the hub does not know, and the same
	// batches presented as this cluster's.
	other := harness.StartCluster(t, 1, harness.Options{})
	om := other.WaitReady(60 * time.Second)
	_, errOut, code = om.Meshctl("pool", "create", "seats", "--seats", "3")
	require.Equal(t, 0, code, "pool create: %s", errOut)
	_, errOut, code = om.Meshctl("usage", "export", "--out", path("other.json"))
	require.Equal(t, 0, code, "export on the other cluster: %s", errOut)
	otherFile, err := os.ReadFile(path("other.json"))
	require.NoError(t, err)
	_, err = upload(otherFile)
	require.Error(t, err, "a cluster the hub does not know")
	assert.Contains(t, err.Error(), "not activated")
	forged := bytes.Replace(otherFile, []byte(`"cluster_id":"`+clusterID(t, om)+`"`), []byte(`"cluster_id":"`+cluster+`"`), 1)
	_, err = upload(forged)
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "another cluster's batches as this one's: %v", err)
	hist, err := v.customer.InstallationHistory(ctx, connect.NewRequest(&licmeshv1.InstallationHistoryRequest{ClusterId: cluster, Installation: "inst-air"}))
	require.NoError(t, err)
	assert.Empty(t, hist.Msg.GetDaysJson(), "the refused files changed nothing")

	// The second file holds both batches; uploaded twice and then the
	// first (older) file too, it counts once.
	r, err := upload(second)
	require.NoError(t, err)
	assert.EqualValues(t, n, r.GetAccepted())
	r, err = upload(second)
	require.NoError(t, err)
	assert.EqualValues(t, 0, r.GetAccepted())
	assert.EqualValues(t, n, r.GetDuplicates())
	_, err = upload(first)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path("receipt.json"), r.GetReceipt(), 0o600))
	out, errOut, code := m.Meshctl("usage", "receipt", path("receipt.json"))
	require.Equal(t, 0, code, "receipt: %s", errOut)
	assert.Contains(t, out, fmt.Sprintf("up to %d", n))
	// Another cluster's receipt is refused.
	_, errOut, code = om.Meshctl("usage", "receipt", path("receipt.json"))
	require.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "receipt")

	// The rest of the usage, then everything counts once.
	require.Eventually(t, func() bool { return len(site.emitted(t)) >= atSecond+2 }, 30*time.Second, 100*time.Millisecond)
	drain(t, site)
	want := emittedSums(t, site)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got, err := countedOn(m, "inst-air")
		if assert.NoError(ct, err) {
			assert.Equal(ct, want, got)
		}
	}, 30*time.Second, 100*time.Millisecond, "the master's count")
	last := export("last.json")
	require.NoError(t, json.Unmarshal(last, &doc))
	require.NotEmpty(t, doc.Batches)
	r, err = upload(last)
	require.NoError(t, err)
	assert.EqualValues(t, n+len(doc.Batches), r.GetSeq(), "acknowledged batches are not exported again")
	got, err := hubCounted(ctx, v.customer, cluster, "inst-air")
	require.NoError(t, err)
	assert.Equal(t, want, got, "every sample at the hub once")
	sites, err := v.customer.ListSites(ctx, connect.NewRequest(&licmeshv1.ListSitesRequest{}))
	require.NoError(t, err)
	require.Len(t, sites.Msg.GetSites(), 1)
	assert.Equal(t, "file", sites.Msg.GetSites()[0].GetArrival())
	t.Logf("%d samples carried by file, counted once", want.samples)
}
