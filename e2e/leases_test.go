package e2e

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/licmesh/licmesh/e2e/harness"
)

// startSite starts a 3-master cluster, a pool and n enrolled collectors.
func startSite(t *testing.T, opts harness.Options, pool string, seats int, enforce string, n int) (*harness.Cluster, []*harness.Collector) {
	t.Helper()
	c := harness.StartCluster(t, 3, opts)
	leader := c.WaitReady(60 * time.Second)
	if _, errOut, code := leader.Meshctl("pool", "create", pool, "--seats", fmt.Sprint(seats), "--enforce", enforce); code != 0 {
		t.Fatalf("pool create: %s", errOut)
	}
	tok := leader.JoinToken(n)
	var cols []*harness.Collector
	for i := range n {
		// Each collector starts from a different master, as a site would.
		masters := c.CollectorAddrs()
		masters = append(masters[i%3:], masters[:i%3]...)
		cols = append(cols, harness.StartCollector(t, fmt.Sprintf("c%d", i+1), masters[:1], tok))
	}
	for _, col := range cols {
		col.WaitReady(30 * time.Second)
	}
	return c, cols
}

func TestLeaseLifecycleThroughCollector(t *testing.T) {
	c, cols := startSite(t, harness.Options{}, "designer", 2, "hard", 1)
	col := cols[0]
	l, err := col.Acquire("designer", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !l.Valid || l.Token == "" || l.Fence == 0 {
		t.Fatalf("bad lease: %+v", l)
	}
	again, err := col.Acquire("designer", "alice")
	if err != nil || again.ID != l.ID {
		t.Fatalf("acquiring again for the same holder: %+v %v", again, err)
	}
	v, err := col.Verify(l.Token)
	if err != nil || v["valid"] != true {
		t.Fatalf("verify: %v %v", v, err)
	}
	if v, err := col.Verify(l.Token[:len(l.Token)-4] + "AAAA"); err == nil && v["valid"] == true {
		t.Fatalf("tampered token verified: %v", v)
	}
	if _, err := col.Acquire("designer", "bob"); err != nil {
		t.Fatal(err)
	}
	_, err = col.Acquire("designer", "carol")
	var ae *harness.APIError
	if !errors.As(err, &ae) || ae.Status != 409 {
		t.Fatalf("third holder in a 2-seat hard pool: %v", err)
	}
	if _, err := col.Acquire("no-such-pool", "alice"); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("unknown pool: %v", err)
	}
	out, _, _ := c.Masters[1].Meshctl("lease", "list", "--pool", "designer", "-o", "csv")
	if strings.Count(out, "designer") != 2 {
		t.Fatalf("masters should list 2 leases:\n%s", out)
	}
	if err := col.Release(l.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := col.Acquire("designer", "carol"); err != nil {
		t.Fatalf("a released seat should be free: %v", err)
	}
	// Leases are renewed past their TTL (6s in tests).
	time.Sleep(8 * time.Second)
	ls, err := col.Leases()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if !l.Valid {
			t.Fatalf("lease not renewed: %+v", l)
		}
	}
	// A soft pool grants past its seats and records the overage.
	if _, errOut, code := c.Masters[0].Meshctl("pool", "create", "viewer", "--seats", "1", "--enforce", "soft"); code != 0 {
		t.Fatal(errOut)
	}
	for _, h := range []string{"v1", "v2", "v3"} {
		if _, err := col.Acquire("viewer", h); err != nil {
			t.Fatalf("soft pool refused %s: %v", h, err)
		}
	}
	err = harness.Eventually(5*time.Second, func() error {
		out, _, _ := c.Masters[0].Meshctl("pool", "list", "-o", "csv")
		for _, line := range strings.Split(out, "\n") {
			// NAME,SEATS,ENFORCE,HELD,PEAK,OVERAGES,...
			if f := strings.Split(line, ","); len(f) > 5 && f[0] == "viewer" && f[3] == "3" && f[5] == "2" {
				return nil
			}
		}
		return errorf("soft pool overage not recorded:\n%s", out)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, _, _ = c.Masters[2].Meshctl("collector", "list", "-o", "csv")
	if !strings.Contains(out, "c-") {
		t.Fatalf("collector not listed: %s", out)
	}
}
