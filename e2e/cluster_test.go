package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

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
	if code != 0 {
		t.Fatalf("members: %d %s", code, errOut)
	}
	var members struct {
		Members []struct {
			ID     string `json:"id"`
			Voter  bool   `json:"voter"`
			Leader bool   `json:"leader"`
		} `json:"members"`
	}
	if err := json.Unmarshal([]byte(out), &members); err != nil {
		t.Fatalf("members json: %v\n%s", err, out)
	}
	voters, leaders := 0, 0
	for _, m := range members.Members {
		if m.Voter {
			voters++
		}
		if m.Leader {
			leaders++
		}
	}
	if len(members.Members) != 3 || voters != 3 || leaders != 1 {
		t.Fatalf("want 3 voters and 1 leader, got %s", out)
	}

	// Writes on a follower are forwarded to the leader.
	if _, errOut, code := follower.Meshctl("pool", "create", "designer", "--seats", "5", "--enforce", "hard"); code != 0 {
		t.Fatalf("pool create via follower: %d %s", code, errOut)
	}
	for _, m := range c.Masters {
		err := harness.Eventually(5*time.Second, func() error {
			out, errOut, code := m.Meshctl("pool", "list", "-o", "csv")
			if code != 0 || !strings.Contains(out, "designer,5,hard") {
				return errorf("%s: pool list %d %q %s", m.ID, code, out, errOut)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A pool that exists is refused again, and nothing changes.
	if _, errOut, code := leader.Meshctl("pool", "create", "designer", "--seats", "9"); code != 1 || !strings.Contains(errOut, "exists") {
		t.Fatalf("duplicate pool: %d %s", code, errOut)
	}

	tok, errOut, code := follower.Meshctl("token", "create", "--role", "collector", "--ttl", "1h", "--uses", "2")
	if code != 0 || !strings.HasPrefix(strings.TrimSpace(tok), "lmj1.") {
		t.Fatalf("token create: %d %q %s", code, tok, errOut)
	}
	id := strings.Split(strings.TrimSpace(tok), ".")[1]
	out, _, _ = leader.Meshctl("token", "list", "-o", "json")
	if !strings.Contains(out, id) || strings.Contains(out, strings.Split(strings.TrimSpace(tok), ".")[2]) {
		t.Fatalf("token list must show the id and never the secret: %s", out)
	}
	if _, errOut, code := leader.Meshctl("token", "revoke", id); code != 0 {
		t.Fatalf("revoke: %s", errOut)
	}
	if err := harness.Eventually(5*time.Second, func() error {
		out, _, _ := follower.Meshctl("token", "list", "-o", "csv")
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, id+",") && strings.HasSuffix(line, ",yes") {
				return nil
			}
		}
		return errorf("revoked token not shown as revoked: %s", out)
	}); err != nil {
		t.Fatal(err)
	}

	// Bad input to meshctl: a clear error, non-zero exit, no change.
	for _, args := range [][]string{
		{"pool", "create", "Bad Name!", "--seats", "1"},
		{"pool", "create", "x", "--seats", "3", "--enforce", "sometimes"},
		{"token", "create", "--role", "collector", "--ttl", "0s"},
		{"token", "revoke", "not-a-token-id"},
	} {
		_, errOut, code := leader.Meshctl(args...)
		if code == 0 || strings.TrimSpace(errOut) == "" {
			t.Errorf("meshctl %v: exit %d, stderr %q", args, code, errOut)
		}
	}
	out, _, _ = leader.Meshctl("pool", "list", "-o", "csv")
	if strings.Count(strings.TrimSpace(out), "\n") != 1 {
		t.Fatalf("bad input changed the pools: %s", out)
	}
	// A wrong admin token is refused.
	_, errOut, code = harness.RunCmdIn(t, "meshctl", "--addr", "https://"+leader.APIAddr(), "--ca", leader.CAFile(),
		"--token", "lma1.aaaaaaaaaa.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "status")
	if code != 1 || !strings.Contains(errOut, "refused") {
		t.Fatalf("wrong admin token: %d %s", code, errOut)
	}
}

func TestBadMasterConfigIsRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"agent", "--node-id", "m1", "--data-dir", dir}, nil, "cluster_secret"},
		{[]string{"agent", "--node-id", "m1", "--data-dir", dir, "--bootstrap-expect", "2"}, []string{"LICMESH_CLUSTER_SECRET=" + strings.Repeat("A", 43) + "="}, "bootstrap_expect"},
		{[]string{"agent", "--node-id", "bad id", "--data-dir", dir}, []string{"LICMESH_CLUSTER_SECRET=" + strings.Repeat("A", 43) + "="}, "node_id"},
		{[]string{"agent", "--config", dir + "/missing.yaml"}, nil, "missing.yaml"},
		{[]string{"agent", "--no-such-flag"}, nil, "no-such-flag"},
	} {
		_, errOut, code := harness.RunCmdIn(t, "meshd", tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("meshd %v: exit %d, stderr %q, want mention of %q", tc.args, code, errOut, tc.want)
		}
	}
}
