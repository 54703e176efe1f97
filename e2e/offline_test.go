package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
)

// TestCollectorKeepsLeasesWhileMastersAreDown stops every master: the
// collector keeps its leases valid until each one's end, then reports them
// expired.
func TestCollectorKeepsLeasesWhileMastersAreDown(t *testing.T) {
	c, cols := startSite(t, harness.Options{LeaseTTL: 6 * time.Second}, "designer", 5, "hard", 1)
	col := cols[0]
	for _, h := range []string{"alice", "bob"} {
		_, err := col.Acquire("designer", h)
		require.NoError(t, err)
	}
	for _, m := range c.Masters {
		m.Proc.Kill()
	}
	downAt := time.Now()
	ls, err := col.Leases()
	require.NoError(t, err, "leases")
	require.Len(t, ls, 2, "leases: %v", ls)
	var end time.Duration
	for _, l := range ls {
		require.True(t, l.Valid, "lease invalid right after the masters went down: %+v", l)
		end = max(end, time.Duration(l.RemainingMS)*time.Millisecond)
	}
	// Valid until just before their end...
	for time.Since(downAt) < end-time.Second {
		for _, l := range mustLeases(t, col) {
			remaining := time.Duration(l.RemainingMS) * time.Millisecond
			if time.Since(downAt)+remaining < end-time.Second {
				require.True(t, l.Valid, "lease lost %s after the masters went down, before its end: %+v", time.Since(downAt), l)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	// ...and expired after it.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		ls, err := col.Leases()
		if err != nil {
			c.Errorf("%v", err)
			return
		}
		for _, l := range ls {
			if l.Valid || l.State != "expired" {
				c.Errorf("lease still %s: %+v", l.State, l)
				return
			}
		}
	}, end+5*time.Second, 50*time.Millisecond, "the leases expire at their end")
	require.GreaterOrEqual(t, time.Since(downAt), end, "leases expired before their end")
	_, err = col.Acquire("designer", "carol")
	require.Error(t, err, "a new grant with every master down")
}

func mustLeases(t *testing.T, col *harness.Collector) []harness.Lease {
	t.Helper()
	ls, err := col.Leases()
	require.NoError(t, err)
	return ls
}

// TestJoinTokensAreChecked refuses bad, expired, used, revoked and wrongly
// pinned tokens, each with an error that says which.
func TestJoinTokensAreChecked(t *testing.T) {
	c := harness.StartCluster(t, 3, harness.Options{})
	leader := c.WaitReady(60 * time.Second)
	masters := c.CollectorAddrs()

	once := leader.JoinToken(1)
	ok := harness.StartCollector(t, "first", masters, once)
	ok.WaitReady(30 * time.Second)

	mk := func(args ...string) string {
		out, errOut, code := leader.Meshctl(append([]string{"token", "create", "--role", "collector"}, args...)...)
		require.Equal(t, 0, code, "token create: %s", errOut)
		return strings.TrimSpace(out)
	}
	expired := mk("--ttl", "1s")
	revoked := mk("--ttl", "1h")
	_, errOut, code := leader.Meshctl("token", "revoke", strings.Split(revoked, ".")[1])
	require.Equal(t, 0, code, "token revoke: %s", errOut)
	good := mk("--ttl", "1h")
	parts := strings.Split(good, ".")
	wrongPin := strings.Join(append(parts[:3:3], "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), ".")
	wrongSecret := strings.Join([]string{parts[0], parts[1], "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", parts[3]}, ".")
	time.Sleep(1500 * time.Millisecond) // let the 1s token expire

	for _, tc := range []struct{ name, token, want string }{
		{"reused", once, "exhausted"},
		{"expired", expired, "expired"},
		{"revoked", revoked, "revoked"},
		{"wrong-pin", wrongPin, "pin"},
		{"wrong-secret", wrongSecret, "secret"},
		{"garbage", "lmj1.not-a-token", "token"},
	} {
		col := harness.StartCollector(t, tc.name, masters, tc.token)
		assert.Error(t, col.Proc.Wait(30*time.Second), "%s token: collectord exited 0", tc.name)
		log := col.Proc.Log()
		// Not assert.Contains: the log is long; print only its tail.
		assert.True(t, strings.Contains(strings.ToLower(log), tc.want),
			"%s token: the collector's output does not say %q:\n%s", tc.name, tc.want, tail(log))
	}
	// Nothing was enrolled by the refused tokens.
	out, _, _ := leader.Meshctl("collector", "list", "-o", "csv")
	require.Equal(t, 1, strings.Count(out, "c-"), "want exactly 1 enrolled collector:\n%s", out)
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

// TestCollectorFallsBackToTCPWhenUDPIsBlocked drops UDP to the masters'
// collector ports with iptables: the collector enrolls and leases over
// HTTP/2 on TCP by itself.
func TestCollectorFallsBackToTCPWhenUDPIsBlocked(t *testing.T) {
	ipt, err := exec.LookPath("iptables")
	if err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run this test: iptables (%v) and root (euid %d) are needed", err, os.Geteuid())
		}
		t.Skip("SKIPPED: blocking UDP needs iptables and root; run `make deps` as root")
	}
	c := harness.StartCluster(t, 3, harness.Options{})
	leader := c.WaitReady(60 * time.Second)
	_, errOut, code := leader.Meshctl("pool", "create", "designer", "--seats", "3")
	require.Equal(t, 0, code, "pool create: %s", errOut)
	for _, m := range c.Masters {
		port := strings.Split(m.CollectorAddr(), ":")[1]
		rule := []string{"OUTPUT", "-p", "udp", "-d", "127.0.0.1", "--dport", port, "-j", "DROP"}
		out, err := exec.Command(ipt, append([]string{"-I"}, rule...)...).CombinedOutput()
		require.NoError(t, err, "iptables: %s", out)
		t.Cleanup(func() { _ = exec.Command(ipt, append([]string{"-D"}, rule...)...).Run() })
	}
	col := harness.StartCollector(t, "tcp-only", c.CollectorAddrs(), leader.JoinToken(1))
	col.WaitReady(30 * time.Second)
	_, err = col.Acquire("designer", "alice")
	require.NoError(t, err)
	st, err := col.Status()
	require.NoError(t, err)
	require.Equal(t, "h2", st["protocol"], "with UDP blocked the collector should use h2")
}

// TestDeadCollectorsLeasesExpire kills a collector holding leases: once
// their deadlines pass the leader commits their expiry and the seats are
// free again.
func TestDeadCollectorsLeasesExpire(t *testing.T) {
	c, cols := startSite(t, harness.Options{LeaseTTL: 3 * time.Second}, "designer", 2, "hard", 2)
	for _, h := range []string{"alice", "bob"} {
		_, err := cols[0].Acquire("designer", h)
		require.NoError(t, err)
	}
	_, err := cols[1].Acquire("designer", "carol")
	require.Error(t, err, "a third seat in a 2-seat hard pool")
	cols[0].Proc.Kill()
	killed := time.Now()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		_, err := cols[1].Acquire("designer", "carol")
		assert.NoError(c, err)
	}, 20*time.Second, 50*time.Millisecond, "the dead collector's seats were never freed")
	// Not before the lease's TTL: renewals answered until the kill keep it.
	require.GreaterOrEqual(t, time.Since(killed), 2*time.Second, "seat freed after the kill, before the lease could have ended")
	// Both expire (possibly in different batches) and leave the list.
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		l := c.Leader()
		if l == nil {
			ct.Errorf("no leader")
			return
		}
		out, _, _ := l.Meshctl("lease", "list", "--pool", "designer", "-o", "csv")
		// The holder column: a collector ID can hold "bob" too.
		if strings.Contains(out, ",alice,") || strings.Contains(out, ",bob,") {
			ct.Errorf("expired leases still listed:\n%s", out)
		}
	}, 10*time.Second, 50*time.Millisecond, "the expired leases leave the list")
}
