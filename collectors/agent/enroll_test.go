package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/collectors/config"
	"github.com/licmesh/licmesh/collectors/identity"
	"github.com/licmesh/licmesh/mesh/pki"
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
		t.Fatalf("Run returned before ready: %v", err)
	}
	st := a.Status()
	if st.CollectorID == "" || st.ClusterID != c.ClusterID || st.Phase != PhaseConnected || st.Protocol != "h2" {
		t.Fatalf("status after enrollment: %+v", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	// The identity is on disk with tight permissions.
	fi, err := os.Stat(cfg.DataDir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data_dir mode %v, %v", fi.Mode().Perm(), err)
	}
	fi, err = os.Stat(filepath.Join(cfg.DataDir, identity.KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v, %v", fi.Mode().Perm(), err)
	}

	// A restart reuses the identity and needs no token.
	cfg.Token = ""
	b, _ := newAgent(t, cfg)
	if got := b.Status().CollectorID; got != st.CollectorID {
		t.Fatalf("restart: collector %q, want %q", got, st.CollectorID)
	}
	if err := b.hello(context.Background()); err != nil {
		t.Fatalf("hello after restart: %v", err)
	}
	if n := c.Calls("Enroll"); n != 1 {
		t.Fatalf("enrolled %d times, want once", n)
	}
}

func TestEnrollWrongPin(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	other, err := pki.NewCA("other", c.CA.Cert().NotBefore)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, c.TokenWithPin(other.Pin()), m)
	a, _ := newAgent(t, cfg)
	err = a.Run(context.Background())
	if !errors.Is(err, ErrEnroll) || !errors.Is(err, pki.ErrPinMismatch) {
		t.Fatalf("Run = %v, want ErrEnroll and ErrPinMismatch", err)
	}
	if n := c.Calls("Enroll"); n != 0 {
		t.Fatalf("the token was sent to a master whose CA does not match the pin (%d calls)", n)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, identity.IDFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an identity was saved: %v", err)
	}
}

func TestEnrollRefusedToken(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	tok, err := pki.NewJoinToken(c.CA.Pin()) // right pin, unknown token
	if err != nil {
		t.Fatal(err)
	}
	a, _ := newAgent(t, testConfig(t, tok.String(), m))
	err = a.Run(context.Background())
	var rej *RejectedError
	if !errors.Is(err, ErrEnroll) || !errors.As(err, &rej) {
		t.Fatalf("Run = %v, want ErrEnroll with the master's refusal", err)
	}
	if errors.Is(err, ErrUnavailable) {
		t.Fatal("a refused token is reported as unreachable masters")
	}
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
			if err == nil {
				t.Fatal("bad enrollment answer accepted")
			}
			t.Log(err)
			if a.identity() != nil {
				t.Fatal("identity installed from a bad answer")
			}
		})
	}
}

func TestNewNeedsTokenUntilEnrolled(t *testing.T) {
	cfg := config.DefaultConfig()
	cfg.Masters = []string{"127.0.0.1:1"}
	cfg.DataDir = t.TempDir()
	_, err := New(cfg, Options{})
	if !errors.Is(err, config.ErrTokenRequired) {
		t.Fatalf("New without identity or token: %v", err)
	}
}
