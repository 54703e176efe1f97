package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP licmesh_lease_batch_ops Lease operations per Raft entry.
# TYPE licmesh_lease_batch_ops histogram
licmesh_lease_batch_ops_bucket{le="1"} 3
licmesh_lease_batch_ops_sum 42.5
licmesh_lease_batch_ops_count 7
licmesh_lease_refusals_total{reason="pool full"} 2 1700000000000
licmesh_bad_value NaNx
`
	got, err := parseMetrics(strings.NewReader(text))
	require.NoError(t, err)
	for name, want := range map[string]float64{
		metricBatchSum: 42.5, metricBatchCount: 7,
		`licmesh_lease_batch_ops_bucket{le="1"}`:           3,
		`licmesh_lease_refusals_total{reason="pool full"}`: 2,
	} {
		if assert.Contains(t, got, name) {
			assert.Equal(t, want, got[name], name)
		}
	}
	assert.NotContains(t, got, "licmesh_bad_value", "an unparsable value was kept")
}

const fsmBenchOutput = `goos: linux
goarch: amd64
pkg: github.com/licmesh/licmesh/node/fsm
cpu: Intel(R) Xeon(R) Processor
BenchmarkHeapPerLease-2   	       1	2266507727 ns/op	       197.3 B/lease
BenchmarkSnapshotLeases-2 	       1	 342404815 ns/op	        42.79 B/lease-on-disk	        12.00 capture-µs	   1000000 leases
BenchmarkRestoreLeases-2  	       1	 739155434 ns/op	  57.90 MB/s
PASS
ok  	github.com/licmesh/licmesh/node/fsm	8.248s
`

func TestParseFSMBench(t *testing.T) {
	r, err := parseFSMBench(parseGoBench([]byte(fsmBenchOutput)), []byte(fsmBenchOutput))
	require.NoError(t, err)
	want := FSMBenchRun{Leases: 1e6, HeapPerLease: 197.3, Snapshot: 342404815, SnapshotBytesPerLease: 42.79, Restore: 739155434}
	assert.Equal(t, want, r)
	rows := g6Rows(r)
	if assert.Len(t, rows, 3, "rows %+v", rows) {
		assert.Equal(t, 197.3, rows[0].Value, "rows %+v", rows)
		assert.Equal(t, "s", rows[1].Unit, "rows %+v", rows)
	}
	for _, row := range rows {
		if assert.NotNil(t, row.Met, "row %s misjudged: %+v", row.Name, row) {
			assert.True(t, *row.Met, "row %s misjudged: %+v", row.Name, row)
		}
	}
	over := g6Rows(FSMBenchRun{HeapPerLease: 201, Snapshot: 11 * time.Second})
	assert.False(t, *over[0].Met, "over the goals: %+v", over)
	assert.False(t, *over[1].Met, "over the goals: %+v", over)
	assert.True(t, *over[2].Met, "over the goals: %+v", over)

	cut := strings.Replace(fsmBenchOutput, "BenchmarkRestoreLeases", "BenchmarkOther", 1)
	_, err = parseFSMBench(parseGoBench([]byte(cut)), []byte(cut))
	if assert.ErrorIs(t, err, ErrFSMBench, "missing benchmark") {
		assert.ErrorContains(t, err, benchRestore, "missing benchmark")
	}
}

func TestParseBenchLine(t *testing.T) {
	name, v, ok := parseBenchLine("BenchmarkX-16 \t 3\t 10 ns/op\t 2.5 B/lease")
	assert.True(t, ok, "got %q %v", name, v)
	assert.Equal(t, "BenchmarkX", name)
	assert.Equal(t, 10.0, v["ns/op"], "values %v", v)
	assert.Equal(t, 2.5, v["B/lease"], "values %v", v)
	name, _, ok = parseBenchLine("BenchmarkNoProcs 1 5 ns/op")
	assert.True(t, ok, "without a -N suffix")
	assert.Equal(t, "BenchmarkNoProcs", name, "without a -N suffix")
	for _, line := range []string{"PASS", "BenchmarkX-2 --- FAIL", "BenchmarkX-2 1 ten ns/op", "ok pkg 1s"} {
		_, _, ok := parseBenchLine(line)
		assert.False(t, ok, "%q parsed", line)
	}
}

func testCA(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert
}

func TestParseJoinToken(t *testing.T) {
	ca := testCA(t)
	pin := sha256.Sum256(ca.RawSubjectPublicKeyInfo)
	secret := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	pinText := base64.RawURLEncoding.EncodeToString(pin[:])
	tok, err := ParseJoinToken("lmj1.abcdefghij." + secret + "." + pinText + "\n")
	require.NoError(t, err)
	assert.Equal(t, "abcdefghij", tok.ID, "token %v", tok)
	assert.NotContains(t, tok.String(), secret, "the token shows its secret")
	assert.NoError(t, tok.CheckPin(ca), "own CA")
	assert.ErrorIs(t, tok.CheckPin(testCA(t)), ErrBadToken, "other CA")
	for name, text := range map[string]string{
		"admin token":  "lma1.abcdefghij." + secret,
		"short secret": "lmj1.abcdefghij.AAAA." + pinText,
		"bad pin":      "lmj1.abcdefghij." + secret + ".!!",
		"empty":        "",
	} {
		_, err := ParseJoinToken(text)
		assert.ErrorIs(t, err, ErrBadToken, name)
		if err != nil {
			assert.NotContains(t, err.Error(), secret, "%s: error shows the secret", name)
		}
	}
}

func TestMeshConfigValidate(t *testing.T) {
	for name, edit := range map[string]func(*Config){
		"two masters":        func(c *Config) { c.Mesh.Masters = 2 },
		"no collectors":      func(c *Config) { c.Mesh.Collectors = 0 },
		"repeated level":     func(c *Config) { c.Mesh.Concurrency = []int{64, 64} },
		"no levels":          func(c *Config) { c.Mesh.Concurrency = nil },
		"short ttl":          func(c *Config) { c.Mesh.LeaseTTL = time.Millisecond },
		"pool too big":       func(c *Config) { c.Mesh.RenewWorkers, c.Mesh.LeasesPerWorker = 1000, 10000 },
		"no trials":          func(c *Config) { c.Mesh.FailoverTrials = 0 },
		"failover under try": func(c *Config) { c.Mesh.FailoverTimeout = c.Mesh.TryTimeout },
		"no go tool":         func(c *Config) { c.FSM.GoTool = "" },
	} {
		cfg := DefaultConfig()
		edit(&cfg)
		assert.ErrorIs(t, cfg.Validate(), ErrInvalidConfig, name)
	}
}

func TestModuleDir(t *testing.T) {
	dir, err := moduleDir("")
	require.NoError(t, err)
	_, err = moduleDir(t.TempDir())
	assert.ErrorIs(t, err, ErrFSMBench, "a dir without go.mod")
	got, err := moduleDir(dir)
	if assert.NoError(t, err, "explicit dir") {
		assert.Equal(t, dir, got, "explicit dir")
	}
}

func TestBucketQuantile(t *testing.T) {
	ms := map[string]float64{
		metricBatchBucket + `1"}`: 10, metricBatchBucket + `2"}`: 10, metricBatchBucket + `4"}`: 20,
		metricBatchBucket + `+Inf"}`: 20, metricBatchCount: 20,
	}
	before := buckets(ms, metricBatchBucket)
	require.Len(t, before, 4, "buckets %v", before)
	require.Equal(t, 20.0, before[4], "buckets %v", before)
	after := map[float64]float64{1: 12, 2: 30, 4: 119, math.Inf(1): 120}
	// 100 new observations: 2 of ≤1, 18 of ≤2, 79 of ≤4 and 1 above.
	assert.Equal(t, 4.0, bucketQuantile(before, after, 0.5), "p50 bound")
	assert.Equal(t, 2.0, bucketQuantile(before, after, 0.15), "p15 bound")
	got := bucketQuantile(before, after, 0.999)
	assert.True(t, math.IsInf(got, 1), "p99.9 bound %v, want +Inf", got)
	assert.Equal(t, 0.0, bucketQuantile(after, after, 0.5), "no observations")
}

const hubBenchOutput = `pkg: github.com/licmesh/licmesh/node/hub
BenchmarkIssueLicense/sqlite-2         	     200	   1810652 ns/op	       552.3 licenses/s
BenchmarkIssueLicense/postgres-2       	     200	   2511176 ns/op	       398.2 licenses/s
BenchmarkRawLicenseInsert/sqlite-2     	     200	   1386146 ns/op	       721.4 licenses/s
BenchmarkRawLicenseInsert/postgres-2   	     200	   1009694 ns/op	       990.4 licenses/s
PASS
`

func TestReadHubBench(t *testing.T) {
	run := HubBenchRun{Issued: map[string]float64{}, RawInsert: map[string]float64{}, Page: map[string]float64{}, RawList: map[string]float64{}}
	r, err := readHubBench(run, parseGoBench([]byte(hubBenchOutput)), []byte(hubBenchOutput), false)
	require.NoError(t, err)
	assert.Equal(t, 552.3, r.Issued["sqlite"])
	assert.Equal(t, 990.4, r.RawInsert["postgres"])
	rows := h1Rows(r)
	require.Len(t, rows, 3)
	assert.InDelta(t, 552.3/721.4, rows[0].Value, 1e-9)
	require.NotNil(t, rows[0].Met)
	assert.True(t, *rows[0].Met)
	_, err = readHubBench(run, parseGoBench([]byte(hubBenchOutput)), []byte(hubBenchOutput), true)
	assert.ErrorIs(t, err, ErrFSMBench, "H2 without its benchmarks' lines")
}

func TestReadHubSync(t *testing.T) {
	out := []byte(`BenchmarkPushMonthlyBatches/sqlite-2   1000  1947254 ns/op  513.5 batches/s
BenchmarkPushMonthlyBatches/postgres-2 1000  4572135 ns/op  218.7 batches/s
BenchmarkRawBatchAppend/sqlite-2       1000  1190261 ns/op  840.2 batches/s
BenchmarkRawBatchAppend/postgres-2     1000  3183750 ns/op  314.1 batches/s
`)
	r, _, err := readHubSync(HubSyncRun{Pushed: map[string]float64{}, Appended: map[string]float64{}, PageP50: map[string]float64{},
		PageP99: map[string]float64{}, RawP50: map[string]float64{}, RawP99: map[string]float64{}}, parseGoBench(out), out, false)
	require.NoError(t, err)
	rows := h3Rows(r)
	require.Len(t, rows, 2)
	assert.InDelta(t, 513.5/840.2, rows[0].Value, 1e-9)
	assert.True(t, *rows[0].Met)
	_, _, err = readHubSync(HubSyncRun{Pushed: map[string]float64{}, Appended: map[string]float64{}, PageP50: map[string]float64{},
		PageP99: map[string]float64{}, RawP50: map[string]float64{}, RawP99: map[string]float64{}}, parseGoBench(out), out, true)
	assert.ErrorIs(t, err, ErrFSMBench, "H4 without its benchmarks' lines")
}
