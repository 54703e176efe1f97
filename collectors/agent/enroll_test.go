package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/collectors/config"
	"github.com/licmesh/licmesh/collectors/identity"
	"github.com/licmesh/licmesh/mesh/pki"
	"github.com/stretchr/testify/require"
)

func TestEnrollRightPin(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	cfg := testConfig(t, c.Token(), m)
	a, _ := newAgent(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case <-a.Ready():
	case err := <-done:
		require.FailNowf(t, "Run returned before ready", "%v", err)
	}
	st := a.Status()
	require.NotEmpty(t, st.CollectorID, "status after enrollment: %+v", st)
	require.Equal(t, c.ClusterID, st.ClusterID, "status after enrollment: %+v", st)
	require.Equal(t, PhaseConnected, st.Phase, "status after enrollment: %+v", st)
	require.Equal(t, "h2", st.Protocol, "status after enrollment: %+v", st)
	cancel()
	require.NoError(t, <-done, "Run")

	// The identity is on disk with tight permissions.
	fi, err := os.Stat(cfg.DataDir)
	require.NoError(t, err, "data_dir")
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "data_dir mode")
	fi, err = os.Stat(filepath.Join(cfg.DataDir, identity.KeyFile))
	require.NoError(t, err, "key")
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "key mode")

	// A restart reuses the identity and needs no token.
	cfg.Token = ""
	b, _ := newAgent(t, cfg)
	require.Equal(t, st.CollectorID, b.Status().CollectorID, "restart: collector")
	require.NoError(t, b.hello(context.Background()), "hello after restart")
	require.Equal(t, 1, c.Calls("Enroll"), "enrolled more than once")
}

func TestEnrollWrongPin(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	other, err := pki.NewCA("other", c.CA.Cert().NotBefore)
	require.NoError(t, err)
	cfg := testConfig(t, c.TokenWithPin(other.Pin()), m)
	a, _ := newAgent(t, cfg)
	err = a.Run(context.Background())
	require.ErrorIs(t, err, ErrEnroll, "Run")
	require.ErrorIs(t, err, pki.ErrPinMismatch, "Run")
	require.Zero(t, c.Calls("Enroll"), "the token was sent to a master whose CA does not match the pin")
	_, err = os.Stat(filepath.Join(cfg.DataDir, identity.IDFile))
	require.ErrorIs(t, err, os.ErrNotExist, "an identity was saved")
}

func TestEnrollRefusedToken(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	tok, err := pki.NewJoinToken(c.CA.Pin()) // right pin, unknown token
	require.NoError(t, err)
	a, _ := newAgent(t, testConfig(t, tok.String(), m))
	err = a.Run(context.Background())
	var rej *RejectedError
	require.ErrorIs(t, err, ErrEnroll, "Run, want ErrEnroll with the master's refusal")
	require.ErrorAs(t, err, &rej, "Run, want ErrEnroll with the master's refusal")
	require.NotErrorIs(t, err, ErrUnavailable, "a refused token is reported as unreachable masters")
}

func TestEnrollBadAnswers(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	other, _ := pki.NewCA("other", c.CA.Cert().NotBefore)
	for name, hook := range map[string]func(*licmeshEnroll) error{
		"other CA":        func(r *licmeshEnroll) error { r.CaCertificate = other.Cert().Raw; return nil },
		"garbage cert":    func(r *licmeshEnroll) error { r.Certificate = []byte("nope"); return nil },
		"short key":       func(r *licmeshEnroll) error { r.SigningPublicKey = r.SigningPublicKey[:5]; return nil },
		"empty cluster":   func(r *licmeshEnroll) error { r.ClusterId = ""; return nil },
		"future protocol": func(r *licmeshEnroll) error { r.ProtocolVersion = 99; return nil },
		"id mismatch":     func(r *licmeshEnroll) error { r.CollectorId = "someone-else"; return nil },
	} {
		t.Run(name, func(t *testing.T) {
			c.SetHooks(agenttest.Hooks{Enroll: hook})
			a, _ := newAgent(t, testConfig(t, c.Token(), m))
			err := a.enroll(context.Background())
			require.Error(t, err, "bad enrollment answer accepted")
			t.Log(err)
			require.Nil(t, a.identity(), "identity installed from a bad answer")
		})
	}
}

func TestNewNeedsTokenUntilEnrolled(t *testing.T) {
	cfg := config.DefaultConfig()
	cfg.Masters = []string{"127.0.0.1:1"}
	cfg.DataDir = t.TempDir()
	_, err := New(cfg, Options{})
	require.ErrorIs(t, err, config.ErrTokenRequired, "New without identity or token")
}
