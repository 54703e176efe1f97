package e2e

import (
	"context"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// renewClient speaks the collector protocol to one master with col's own
// certificate over HTTP/2 on TCP, so the test chooses which master a
// renewal goes to and when it is sent.
func renewClient(t *testing.T, col *harness.Collector, master string) licmeshv1connect.CollectorServiceClient {
	t.Helper()
	cfg, err := col.ClientTLS()
	require.NoError(t, err)
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
	return licmeshv1connect.NewCollectorServiceClient(hc, "https://"+master)
}

// renewal is the outcome of one Renew call of a single lease.
type renewal struct {
	sent, answered time.Time
	result         *licmeshv1.RenewResult // nil when the call failed
	err            error
}

func renewOnce(c licmeshv1connect.CollectorServiceClient, id uint64) renewal {
	r := renewal{sent: time.Now()}
	resp, err := c.Renew(context.Background(), connect.NewRequest(&licmeshv1.RenewRequest{LeaseIds: []uint64{id}}))
	r.answered, r.err = time.Now(), err
	if err == nil && len(resp.Msg.Results) == 1 {
		r.result = resp.Msg.Results[0]
	}
	return r
}

// ok reports whether the renewal was answered "renewed".
func (r renewal) ok() bool { return r.err == nil && r.result != nil && r.result.Ok }

// TestFrozenLeaderRenewsNothingAfterItsTerm freezes the leader (SIGSTOP)
// while A holds the one seat of a hard pool. A new leader is elected; A's
// lease ends there (A releases it through the new leader) and the seat goes
// to B. Renewals of A's lease are then queued in the frozen leader's
// sockets, and it is thawed (SIGCONT) while its own deadline for the lease
// still runs: answering from memory, it would report A's lease renewed, for
// a seat the cluster has given to B. No renewal answered after the new
// leader's election may be reported valid, and every master ends up seeing
// one lease in the pool, B's.
//
// The lease ends by release rather than by expiry because the new leader
// gives every lease a full TTL (and more) from its election, so an expiry
// there always comes after the frozen leader's own deadline has passed,
// and the thawed master would refuse the renewal from its table anyway.
func TestFrozenLeaderRenewsNothingAfterItsTerm(t *testing.T) {
	const ttl = 6 * time.Second
	c := harness.StartCluster(t, 3, harness.Options{LeaseTTL: ttl})
	old := c.WaitReady(60 * time.Second)
	_, errOut, code := old.Meshctl("pool", "create", "frozen", "--seats", "1", "--enforce", "hard")
	require.Equal(t, 0, code, "pool create: %s", errOut)
	var others []*harness.Master
	var otherAddrs []string
	for _, m := range c.Masters {
		if m != old {
			others = append(others, m)
			otherAddrs = append(otherAddrs, m.CollectorAddr())
		}
	}
	tok := old.JoinToken(2)

	// A holds the seat, then its daemon goes away: from here on the test
	// speaks for A, to the master it chooses. B will ask the other masters.
	a := harness.StartCollector(t, "a", []string{old.CollectorAddr()}, tok)
	a.WaitReady(30 * time.Second)
	held, err := a.Acquire("frozen", "alice")
	require.NoError(t, err)
	a.Proc.Kill()
	b := harness.StartCollector(t, "b", otherAddrs, tok)
	b.WaitReady(30 * time.Second)
	_, err = b.Acquire("frozen", "bob")
	require.Error(t, err, "B got the seat A holds")

	// Several connections to the leader, each already open, as many
	// collectors' would be.
	toOld := make([]licmeshv1connect.CollectorServiceClient, 8)
	for i := range toOld {
		toOld[i] = renewClient(t, a, old.CollectorAddr())
		first := renewOnce(toOld[i], held.ID)
		require.True(t, first.ok(), "renewal on the leader before the freeze: %+v", first)
	}

	// Freeze the leader right after those renewals: its deadline for the
	// lease ends a TTL after them.
	require.NoError(t, old.Process().Signal(syscall.SIGSTOP))
	frozenAt := time.Now()
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			_ = old.Process().Signal(syscall.SIGCONT)
		}
	}
	t.Cleanup(thaw)
	t.Logf("froze leader %s", old.ID)

	var newLeader *harness.Master
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		newLeader = nil
		for _, m := range others {
			if st, err := m.Status(); err == nil && st.State == "leader" {
				newLeader = m
			}
		}
		assert.NotNil(ct, newLeader, "no new leader among the others")
	}, 20*time.Second, 20*time.Millisecond)
	elected := time.Now()
	t.Logf("%s leads %v after the freeze", newLeader.ID, elected.Sub(frozenAt))

	// A's lease ends with the new leader, and B gets the seat.
	_, err = renewClient(t, a, newLeader.CollectorAddr()).Release(context.Background(),
		connect.NewRequest(&licmeshv1.ReleaseRequest{LeaseId: held.ID}))
	require.NoError(t, err, "release of A's lease through the new leader")
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		_, err := b.Acquire("frozen", "bob")
		assert.NoError(ct, err)
	}, 10*time.Second, 20*time.Millisecond, "the seat never went to B")
	t.Logf("B holds the seat %v after the freeze", time.Since(frozenAt))

	// Renewals of A's lease reach the frozen leader and wait in its
	// sockets: many, as a busy site's would, so that on waking it is handling
	// renewals while raft's own timers catch up.
	const perConn = 25
	queued := make(chan renewal, len(toOld)*perConn)
	for _, cl := range toOld {
		for range perConn {
			go func() { queued <- renewOnce(cl, held.ID) }()
		}
	}
	time.Sleep(500 * time.Millisecond)
	require.Less(t, time.Since(frozenAt), ttl-time.Second,
		"the frozen leader's own deadline must still run when it wakes, or the test proves nothing")
	thaw()
	t.Logf("thawed %s after %v", old.ID, time.Since(frozenAt))

	outcomes := map[string]int{}
	for range cap(queued) {
		var r renewal
		select {
		case r = <-queued:
		case <-time.After(30 * time.Second):
			t.Fatal("a queued renewal was never answered")
		}
		switch {
		case r.ok():
			outcomes["renewed"]++
			t.Errorf("a renewal sent %v after the freeze, after the new leader's election, was answered renewed %v after it: %+v",
				r.sent.Sub(frozenAt), r.answered.Sub(frozenAt), r.result)
		case r.err != nil:
			outcomes[connect.CodeOf(r.err).String()]++
		default:
			outcomes["refused: "+r.result.GetReason()]++
		}
	}
	t.Logf("%d renewals queued in the frozen leader: %v", cap(queued), outcomes)

	// Every master, the thawed one included, sees one lease, B's.
	c.WaitReady(30 * time.Second)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		for _, m := range c.Masters {
			out, errOut, code := m.Meshctl("lease", "list", "--pool", "frozen", "-o", "csv")
			if !assert.Equal(ct, 0, code, "%s: lease list: %s", m.ID, errOut) {
				continue
			}
			assert.Equal(ct, 1, strings.Count(out, "\n")-1, "%s: leases in the 1-seat pool:\n%s", m.ID, out)
			assert.Contains(ct, out, "bob", "%s", m.ID)
		}
	}, 20*time.Second, 100*time.Millisecond)

	// And a renewal now, through the thawed master, is refused too.
	now := renewOnce(toOld[0], held.ID)
	assert.False(t, now.ok(), "A's released lease renewed through the thawed master: %+v", now.result)
}
