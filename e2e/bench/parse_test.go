package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"
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
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		metricBatchSum: 42.5, metricBatchCount: 7,
		`licmesh_lease_batch_ops_bucket{le="1"}`:           3,
		`licmesh_lease_refusals_total{reason="pool full"}`: 2,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	if _, ok := got["licmesh_bad_value"]; ok {
		t.Error("an unparsable value was kept")
	}
}

const fsmBenchOutput = `goos: linux
goarch: amd64
pkg: github.com/licmesh/licmesh/node/fsm
cpu: Intel(R) Xeon(R) Processor
BenchmarkHeapPerLease-2   	       1	2266507727 ns/op	       197.3 B/lease
BenchmarkSnapshot1M-2     	       1	 342404815 ns/op	        42.79 B/lease-on-disk	        12.00 capture-µs
BenchmarkRestore1M-2      	       1	 739155434 ns/op	  57.90 MB/s
PASS
ok  	github.com/licmesh/licmesh/node/fsm	8.248s
`

func TestParseFSMBench(t *testing.T) {
	r, err := parseFSMBench([]byte(fsmBenchOutput))
	if err != nil {
		t.Fatal(err)
	}
	want := FSMBenchRun{HeapPerLease: 197.3, Snapshot: 342404815, SnapshotBytesPerLease: 42.79, Restore: 739155434}
	if r != want {
		t.Errorf("got %+v, want %+v", r, want)
	}
	rows := g6Rows(r)
	if len(rows) != 3 || rows[0].Value != 197.3 || rows[1].Unit != "s" {
		t.Errorf("rows %+v", rows)
	}
	for _, row := range rows {
		if row.Met == nil || !*row.Met {
			t.Errorf("row %s misjudged: %+v", row.Name, row)
		}
	}
	if rows := g6Rows(FSMBenchRun{HeapPerLease: 331, Snapshot: 11 * time.Second}); *rows[0].Met || *rows[1].Met || !*rows[2].Met {
		t.Errorf("over the goals: %+v", rows)
	}

	cut := strings.Replace(fsmBenchOutput, "BenchmarkRestore1M", "BenchmarkOther", 1)
	if _, err := parseFSMBench([]byte(cut)); !errors.Is(err, ErrFSMBench) || !strings.Contains(err.Error(), benchRestore) {
		t.Errorf("missing benchmark: %v", err)
	}
}

func TestParseBenchLine(t *testing.T) {
	name, v, ok := parseBenchLine("BenchmarkX-16 \t 3\t 10 ns/op\t 2.5 B/lease")
	if !ok || name != "BenchmarkX" || v["ns/op"] != 10 || v["B/lease"] != 2.5 {
		t.Errorf("got %q %v %v", name, v, ok)
	}
	if name, _, ok := parseBenchLine("BenchmarkNoProcs 1 5 ns/op"); !ok || name != "BenchmarkNoProcs" {
		t.Errorf("without a -N suffix: %q %v", name, ok)
	}
	for _, line := range []string{"PASS", "BenchmarkX-2 --- FAIL", "BenchmarkX-2 1 ten ns/op", "ok pkg 1s"} {
		if _, _, ok := parseBenchLine(line); ok {
			t.Errorf("%q parsed", line)
		}
	}
}

func testCA(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestParseJoinToken(t *testing.T) {
	ca := testCA(t)
	pin := sha256.Sum256(ca.RawSubjectPublicKeyInfo)
	secret := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	pinText := base64.RawURLEncoding.EncodeToString(pin[:])
	tok, err := ParseJoinToken("lmj1.abcdefghij." + secret + "." + pinText + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if tok.ID != "abcdefghij" || strings.Contains(tok.String(), secret) {
		t.Errorf("token %v", tok)
	}
	if err := tok.CheckPin(ca); err != nil {
		t.Errorf("own CA: %v", err)
	}
	if err := tok.CheckPin(testCA(t)); !errors.Is(err, ErrBadToken) {
		t.Errorf("other CA: %v", err)
	}
	for name, text := range map[string]string{
		"admin token":  "lma1.abcdefghij." + secret,
		"short secret": "lmj1.abcdefghij.AAAA." + pinText,
		"bad pin":      "lmj1.abcdefghij." + secret + ".!!",
		"empty":        "",
	} {
		_, err := ParseJoinToken(text)
		if !errors.Is(err, ErrBadToken) {
			t.Errorf("%s: got %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error shows the secret", name)
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
		if err := cfg.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: got %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestModuleDir(t *testing.T) {
	dir, err := moduleDir("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := moduleDir(t.TempDir()); !errors.Is(err, ErrFSMBench) {
		t.Errorf("a dir without go.mod: %v", err)
	}
	if got, err := moduleDir(dir); err != nil || got != dir {
		t.Errorf("explicit dir: %q %v", got, err)
	}
}

func TestBucketQuantile(t *testing.T) {
	ms := map[string]float64{
		metricBatchBucket + `1"}`: 10, metricBatchBucket + `2"}`: 10, metricBatchBucket + `4"}`: 20,
		metricBatchBucket + `+Inf"}`: 20, metricBatchCount: 20,
	}
	before := buckets(ms, metricBatchBucket)
	if len(before) != 4 || before[4] != 20 {
		t.Fatalf("buckets %v", before)
	}
	after := map[float64]float64{1: 12, 2: 30, 4: 119, math.Inf(1): 120}
	// 100 new observations: 2 of ≤1, 18 of ≤2, 79 of ≤4 and 1 above.
	if got := bucketQuantile(before, after, 0.5); got != 4 {
		t.Errorf("p50 bound %v, want 4", got)
	}
	if got := bucketQuantile(before, after, 0.15); got != 2 {
		t.Errorf("p15 bound %v, want 2", got)
	}
	if got := bucketQuantile(before, after, 0.999); !math.IsInf(got, 1) {
		t.Errorf("p99.9 bound %v, want +Inf", got)
	}
	if got := bucketQuantile(after, after, 0.5); got != 0 {
		t.Errorf("no observations: %v", got)
	}
}
