package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
)

func TestClusterFormsAndMeshctlManagesIt(t *testing.T) {
	c := harness.StartCluster(t, 3, harness.Options{})
	leader := c.WaitReady(60 * time.Second)
	follower := c.Masters[0]
	if follower == leader {
		follower = c.Masters[1]
	}

	out, errOut, code := follower.Meshctl("members", "-o", "json")
	require.Equal(t, 0, code, "members: %s", errOut)
	var members struct {
		Members []struct {
			ID     string `json:"id"`
			Voter  bool   `json:"voter"`
			Leader bool   `json:"leader"`
		} `json:"members"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &members), "members json:\n%s", out)
	voters, leaders := 0, 0
	for _, m := range members.Members {
		if m.Voter {
			voters++
		}
		if m.Leader {
			leaders++
		}
	}
	// Want 3 voters and 1 leader.
	require.Len(t, members.Members, 3, "members: %s", out)
	require.Equal(t, 3, voters, "voters: %s", out)
	require.Equal(t, 1, leaders, "leaders: %s", out)

	// Writes on a follower are forwarded to the leader.
	_, errOut, code = follower.Meshctl("pool", "create", "designer", "--seats", "5", "--enforce", "hard")
	require.Equal(t, 0, code, "pool create via follower: %s", errOut)
	for _, m := range c.Masters {
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			out, errOut, code := m.Meshctl("pool", "list", "-o", "csv")
			if code != 0 || !strings.Contains(out, "designer,5,hard") {
				c.Errorf("%s: pool list %d %q %s", m.ID, code, out, errOut)
			}
		}, 5*time.Second, 50*time.Millisecond, "the pool created via a follower on %s", m.ID)
	}
	// A pool that exists is refused again, and nothing changes.
	_, errOut, code = leader.Meshctl("pool", "create", "designer", "--seats", "9")
	require.Equal(t, 1, code, "duplicate pool: %s", errOut)
	require.Contains(t, errOut, "exists", "duplicate pool")

	tok, errOut, code := follower.Meshctl("token", "create", "--role", "collector", "--ttl", "1h", "--uses", "2")
	require.Equal(t, 0, code, "token create: %s", errOut)
	require.True(t, strings.HasPrefix(strings.TrimSpace(tok), "lmj1."), "token create: %q", tok)
	id := strings.Split(strings.TrimSpace(tok), ".")[1]
	out, _, _ = leader.Meshctl("token", "list", "-o", "json")
	// The token list shows the id and never the secret.
	require.Contains(t, out, id, "token list must show the id")
	require.NotContains(t, out, strings.Split(strings.TrimSpace(tok), ".")[2], "token list must never show the secret")
	_, errOut, code = leader.Meshctl("token", "revoke", id)
	require.Equal(t, 0, code, "revoke: %s", errOut)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		out, _, _ := follower.Meshctl("token", "list", "-o", "csv")
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, id+",") && strings.HasSuffix(line, ",yes") {
				return
			}
		}
		c.Errorf("revoked token not shown as revoked: %s", out)
	}, 5*time.Second, 50*time.Millisecond, "the revoked token on the follower")

	// Bad input to meshctl: a clear error, non-zero exit, no change.
	for _, args := range [][]string{
		{"pool", "create", "Bad Name!", "--seats", "1"},
		{"pool", "create", "x", "--seats", "3", "--enforce", "sometimes"},
		{"token", "create", "--role", "collector", "--ttl", "0s"},
		{"token", "revoke", "not-a-token-id"},
	} {
		_, errOut, code := leader.Meshctl(args...)
		assert.NotEqual(t, 0, code, "meshctl %v: exit code; stderr %q", args, errOut)
		assert.NotEmpty(t, strings.TrimSpace(errOut), "meshctl %v: stderr", args)
	}
	out, _, _ = leader.Meshctl("pool", "list", "-o", "csv")
	require.Equal(t, 1, strings.Count(strings.TrimSpace(out), "\n"), "bad input changed the pools: %s", out)
	// A wrong admin token is refused.
	_, errOut, code = harness.RunCmdIn(t, "meshctl", "--addr", "https://"+leader.APIAddr(), "--ca", leader.CAFile(),
		"--token", "lma1.aaaaaaaaaa.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "status")
	require.Equal(t, 1, code, "wrong admin token: %s", errOut)
	require.Contains(t, errOut, "refused", "wrong admin token")
}

func TestBadMasterConfigIsRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"run", "--node-id", "m1", "--data-dir", dir}, nil, "cluster_secret"},
		{[]string{"run", "--node-id", "m1", "--data-dir", dir, "--bootstrap-expect", "2"}, []string{"LICMESH_CLUSTER_SECRET=" + strings.Repeat("A", 43) + "="}, "bootstrap_expect"},
		{[]string{"run", "--node-id", "bad id", "--data-dir", dir}, []string{"LICMESH_CLUSTER_SECRET=" + strings.Repeat("A", 43) + "="}, "node_id"},
		{[]string{"run", "--config", dir + "/missing.yaml"}, nil, "missing.yaml"},
		{[]string{"run", "--no-such-flag"}, nil, "no-such-flag"},
	} {
		_, errOut, code := harness.RunCmdIn(t, "meshd", tc.args...)
		assert.NotEqual(t, 0, code, "meshd %v: exit code; stderr %q", tc.args, errOut)
		assert.Contains(t, errOut, tc.want, "meshd %v", tc.args)
	}
}
