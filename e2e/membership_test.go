package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
)

type memberView struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Voter  bool   `json:"voter"`
	Leader bool   `json:"leader"`
}

func members(m *harness.Master) ([]memberView, error) {
	out, errOut, code := m.Meshctl("members", "-o", "json")
	if code != 0 {
		return nil, errors.New(errOut)
	}
	var v struct {
		Members []memberView `json:"members"`
	}
	err := json.Unmarshal([]byte(out), &v)
	return v.Members, err
}

func voters(m *harness.Master) (map[string]bool, error) {
	ms, err := members(m)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, x := range ms {
		if x.Voter {
			out[x.ID] = true
		}
	}
	return out, nil
}

func waitVoters(t *testing.T, m *harness.Master, want ...string) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		v, err := voters(m)
		if err != nil {
			c.Errorf("%v", err)
			return
		}
		if len(v) != len(want) {
			c.Errorf("voters %v, want %v", v, want)
			return
		}
		for _, id := range want {
			if !v[id] {
				c.Errorf("voters %v, want %v", v, want)
				return
			}
		}
	}, 20*time.Second, 50*time.Millisecond, "voters on %s", m.ID)
}

// TestMembershipChanges: a new master joins through any member and becomes
// a voter; SIGTERM leaves gracefully; a dead master is removed with
// remove-peer; health, readiness and metrics answer.
func TestMembershipChanges(t *testing.T) {
	c := harness.StartCluster(t, 3, harness.Options{})
	leader := c.WaitReady(60 * time.Second)

	m4 := c.AddMaster("m4")
	waitVoters(t, leader, "m1", "m2", "m3", "m4")
	_, errOut, code := m4.Meshctl("pool", "create", "late", "--seats", "1")
	require.Equal(t, 0, code, "the new master does not serve writes: %s", errOut)

	// A follower that gets SIGTERM leaves the voters.
	var leaving *harness.Master
	for _, m := range c.Masters[:3] {
		if m != leader {
			leaving = m
			break
		}
	}
	require.NoError(t, leaving.Proc.Signal(syscall.SIGTERM))
	require.NoError(t, leaving.Proc.Wait(20*time.Second), "%s did not exit cleanly on SIGTERM", leaving.ID)
	var rest []string
	for _, m := range c.Masters {
		if m != leaving {
			rest = append(rest, m.ID)
		}
	}
	waitVoters(t, leader, rest...)

	// A master killed for good stays a voter until remove-peer.
	var dead *harness.Master
	for _, m := range c.Masters {
		if m != leaving && m != leader {
			dead = m
			break
		}
	}
	dead.Proc.Kill()
	time.Sleep(time.Second)
	v, _ := voters(leader)
	require.True(t, v[dead.ID], "a killed master must stay a voter until removed: %v", v)
	// remove-peer through any live master (a follower forwards it).
	var via *harness.Master
	for _, m := range c.Running() {
		if m != leader {
			via = m
		}
	}
	if via == nil {
		via = leader
	}
	// Until gossip declares it dead the leader refuses, saying so.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		if _, errOut, code := via.Meshctl("operator", "remove-peer", dead.ID); code != 0 {
			c.Errorf("%s", errOut)
		}
	}, 30*time.Second, 50*time.Millisecond, "remove-peer")
	var alive []string
	for _, m := range c.Running() {
		alive = append(alive, m.ID)
	}
	waitVoters(t, leader, alive...)
	// Removing an unknown peer fails with a message.
	_, errOut, code = leader.Meshctl("operator", "remove-peer", "no-such-master")
	require.NotEqual(t, 0, code, "removing an unknown peer should fail")
	require.NotEmpty(t, errOut, "removing an unknown peer should fail with a message")

	hc, err := leader.HTTPClient()
	require.NoError(t, err)
	for path, want := range map[string]string{
		"/healthz": "ok", "/readyz": "ready",
		"/metrics": "licmesh_lease_grants_total",
	} {
		resp, err := hc.Get("https://" + leader.APIAddr() + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "%s: status; body %.200s", path, body)
		// Not assert.Contains: /metrics is too long to print whole.
		assert.True(t, strings.Contains(string(body), want), "%s lacks %q: %.200s", path, want, body)
	}
	resp, err := hc.Get("https://" + leader.APIAddr() + "/metrics")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.True(t, strings.Contains(string(body), "licmesh_raft"), "/metrics lacks raft metrics")
	}
}
