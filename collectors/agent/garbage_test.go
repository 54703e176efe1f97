package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/collectors/leasebook"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/mesh/pki"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/stretchr/testify/require"
)

// hugeMasters is a masters list of about 10 MB.
func hugeMasters() []string {
	list := make([]string, 200_000)
	for i := range list {
		list[i] = fmt.Sprintf("master-%040d.example.com:7443", i)
	}
	return list
}

// otherKeyToken signs a document like tok's with a key that is not the
// cluster's.
func otherKeyToken(t *testing.T, tok string) string {
	t.Helper()
	doc, err := lease.Decode(lease.Token(tok))
	require.NoError(t, err)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	out, err := lease.Sign(doc, priv)
	require.NoError(t, err)
	return string(out)
}

// resign returns tok's document changed by edit, signed by the cluster: a
// well-signed token that says the wrong thing.
func resign(t *testing.T, c *agenttest.Cluster, tok string, edit func(*lease.Document)) string {
	t.Helper()
	doc, err := lease.Decode(lease.Token(tok))
	require.NoError(t, err)
	edit(&doc)
	return string(c.Sign(doc))
}

// snapshot captures what must not change.
func snapshot(a *Agent) string {
	var b strings.Builder
	for _, l := range a.Leases() {
		fmt.Fprintf(&b, "%d %s %s %s %s %v|", l.ID, l.Pool, l.Holder, l.Token, l.State, l.Remaining)
	}
	fmt.Fprintf(&b, "masters=%v", a.masters.Snapshot())
	return b.String()
}

func TestGarbageAcquireAnswers(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, _ := enrolled(t, c, m)
	a.tokens = newTokenSampler(1) // every signature checked, so a forged one is caught whenever it comes
	alice := acquire(t, a, "seats", "alice")

	cases := map[string]func(t *testing.T, r *licmeshv1.AcquireResponse){
		"nil lease":  func(t *testing.T, r *licmeshv1.AcquireResponse) { r.Lease = nil },
		"lease id 0": func(t *testing.T, r *licmeshv1.AcquireResponse) { r.Lease.Id = 0 },
		"huge ttl": func(t *testing.T, r *licmeshv1.AcquireResponse) {
			r.Lease.TtlMs = int64(30 * 24 * time.Hour / time.Millisecond)
		},
		"zero ttl":          func(t *testing.T, r *licmeshv1.AcquireResponse) { r.Lease.TtlMs = 0 },
		"negative ttl":      func(t *testing.T, r *licmeshv1.AcquireResponse) { r.Lease.TtlMs = -5 },
		"mismatched pool":   func(t *testing.T, r *licmeshv1.AcquireResponse) { r.Lease.Pool = "other" },
		"mismatched holder": func(t *testing.T, r *licmeshv1.AcquireResponse) { r.Lease.Holder = "mallory" },
		"other collector":   func(t *testing.T, r *licmeshv1.AcquireResponse) { r.Lease.CollectorId = "col-99" },
		"no token":          func(t *testing.T, r *licmeshv1.AcquireResponse) { r.Lease.Token = "" },
		"garbage token":     func(t *testing.T, r *licmeshv1.AcquireResponse) { r.Lease.Token = "lml1.AAAA.BBBB" },
		"huge token":        func(t *testing.T, r *licmeshv1.AcquireResponse) { r.Lease.Token = strings.Repeat("x", 100_000) },
		"other key":         func(t *testing.T, r *licmeshv1.AcquireResponse) { r.Lease.Token = otherKeyToken(t, r.Lease.Token) },
		"token for another lease": func(t *testing.T, r *licmeshv1.AcquireResponse) {
			r.Lease.Token = resign(t, c, r.Lease.Token, func(d *lease.Document) { d.LeaseID++ })
		},
		"token for another holder": func(t *testing.T, r *licmeshv1.AcquireResponse) {
			r.Lease.Token = resign(t, c, r.Lease.Token, func(d *lease.Document) { d.Holder = "mallory" })
		},
		"token with other fence": func(t *testing.T, r *licmeshv1.AcquireResponse) {
			r.Lease.Token = resign(t, c, r.Lease.Token, func(d *lease.Document) { d.Fence++ })
		},
		"id collision": func(t *testing.T, r *licmeshv1.AcquireResponse) {
			// alice's lease ID for bob, with a token that is otherwise right.
			r.Lease.Id = uint64(alice.ID)
			r.Lease.Token = resign(t, c, r.Lease.Token, func(d *lease.Document) { d.LeaseID = alice.ID })
		},
		"error with garbage message": func(t *testing.T, r *licmeshv1.AcquireResponse) {},
	}
	for name, hook := range cases {
		t.Run(name, func(t *testing.T) {
			before := snapshot(a)
			c.SetHooks(agenttest.Hooks{Acquire: func(r *licmeshv1.AcquireResponse) error {
				if name == "error with garbage message" {
					return connect.NewError(connect.CodeResourceExhausted, errors.New(strings.Repeat("\x00\n", 10_000)))
				}
				hook(t, r)
				return nil
			}})
			defer c.SetHooks(agenttest.Hooks{})
			l, err := a.Acquire(context.Background(), "seats", "bob")
			require.Error(t, err, "accepted %+v", l)
			t.Log(err)
			if name != "error with garbage message" {
				require.ErrorIs(t, err, ErrBadAnswer)
			}
			require.NotContains(t, err.Error(), "\x00", "error carries the master's garbage")
			require.LessOrEqual(t, len(err.Error()), 2000, "error carries the master's garbage unbounded")
			require.Equal(t, before, snapshot(a), "state changed")
		})
	}
	// After all that the agent works normally.
	acquire(t, a, "seats", "bob")
}

func TestGarbageRenewAnswers(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, clk := enrolled(t, c, m)
	a.tokens = newTokenSampler(1)
	acquire(t, a, "seats", "alice")
	acquire(t, a, "seats", "bob")

	cases := map[string]func(t *testing.T, r *licmeshv1.RenewResponse){
		"missing result":   func(t *testing.T, r *licmeshv1.RenewResponse) { r.Results = r.Results[:1] },
		"no results":       func(t *testing.T, r *licmeshv1.RenewResponse) { r.Results = nil },
		"duplicate result": func(t *testing.T, r *licmeshv1.RenewResponse) { r.Results[1] = r.Results[0] },
		"nil result":       func(t *testing.T, r *licmeshv1.RenewResponse) { r.Results[1] = nil },
		"unasked lease":    func(t *testing.T, r *licmeshv1.RenewResponse) { r.Results[1].LeaseId = 424242 },
		"unknown reason": func(t *testing.T, r *licmeshv1.RenewResponse) {
			r.Results[0] = &licmeshv1.RenewResult{LeaseId: r.Results[0].LeaseId, Reason: "because"}
		},
		"huge ttl":  func(t *testing.T, r *licmeshv1.RenewResponse) { r.Results[0].TtlMs = 1 << 60 },
		"zero ttl":  func(t *testing.T, r *licmeshv1.RenewResponse) { r.Results[1].TtlMs = 0 },
		"bad token": func(t *testing.T, r *licmeshv1.RenewResponse) { r.Results[1].Token = "lml1.x.y" },
		"other key": func(t *testing.T, r *licmeshv1.RenewResponse) {
			r.Results[0].Token = otherKeyToken(t, r.Results[0].Token)
		},
		"swapped tokens": func(t *testing.T, r *licmeshv1.RenewResponse) {
			r.Results[0].Token, r.Results[1].Token = r.Results[1].Token, r.Results[0].Token
		},
		"10 MB masters list": func(t *testing.T, r *licmeshv1.RenewResponse) { r.Masters = hugeMasters() },
	}
	for name, hook := range cases {
		t.Run(name, func(t *testing.T) {
			clk.Advance(time.Second)
			before := snapshot(a)
			c.SetHooks(agenttest.Hooks{Renew: func(r *licmeshv1.RenewResponse) error { hook(t, r); return nil }})
			defer c.SetHooks(agenttest.Hooks{})
			err := a.renewAll(context.Background())
			require.ErrorIs(t, err, ErrUnavailable, "renewAll, want an error")
			t.Log(clip(err.Error(), 300))
			require.Equal(t, before, snapshot(a), "state changed")
		})
	}
	// Masters list entries that are not host:port are ignored; the renewal
	// itself stands.
	c.SetHooks(agenttest.Hooks{Renew: func(r *licmeshv1.RenewResponse) error { r.Masters = []string{"x:y", "\x00"}; return nil }})
	before := a.masters.Snapshot()
	require.NoError(t, a.renewAll(context.Background()), "renewal with a bad masters list")
	require.Equal(t, fmt.Sprint(before), fmt.Sprint(a.masters.Snapshot()), "a bad masters list was learned")
	for _, l := range a.Leases() {
		require.Equal(t, leasebook.StateValid, l.State, "lease after good renewal: %+v", l)
		require.Equal(t, 30*time.Second, l.Remaining, "lease after good renewal: %+v", l)
	}
}

func TestGarbageHelloAnswers(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, _ := enrolled(t, c, m)
	before := snapshot(a)
	cases := map[string]struct {
		hook func(*licmeshv1.HelloResponse)
		is   error
	}{
		"10 MB masters list": {func(r *licmeshv1.HelloResponse) { r.Masters = hugeMasters() }, ErrUnavailable},
		"future protocol":    {func(r *licmeshv1.HelloResponse) { r.ProtocolVersion = 99 }, ErrProtocolVersion},
		"protocol zero":      {func(r *licmeshv1.HelloResponse) { r.ProtocolVersion = 0 }, ErrProtocolVersion},
		"other cluster":      {func(r *licmeshv1.HelloResponse) { r.ClusterId = "evil" }, ErrBadAnswer},
		"negative ttl":       {func(r *licmeshv1.HelloResponse) { r.LeaseTtlMs = -1 }, ErrBadAnswer},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c.SetHooks(agenttest.Hooks{Hello: func(r *licmeshv1.HelloResponse) error { tc.hook(r); return nil }})
			defer c.SetHooks(agenttest.Hooks{})
			err := a.hello(context.Background())
			require.ErrorIs(t, err, tc.is, "hello")
			require.NotEmpty(t, a.Status().LastError, "status does not show the error")
			require.Equal(t, before, snapshot(a), "state changed")
		})
	}
	// A master that refuses our protocol version says so clearly.
	c.SetHooks(agenttest.Hooks{Hello: func(*licmeshv1.HelloResponse) error {
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("collector protocol 1 not supported, want 2..3"))
	}})
	var rej *RejectedError
	err := a.hello(context.Background())
	require.ErrorAs(t, err, &rej, "refused version")
	require.Equal(t, connect.CodeFailedPrecondition, rej.Code, "refused version: %v", err)
	require.Contains(t, a.Status().LastError, "collector protocol 1 not supported", "status does not show the master's refusal")
	// A different signing key is reported, not adopted.
	c.SetHooks(agenttest.Hooks{Hello: func(r *licmeshv1.HelloResponse) error {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		r.SigningPublicKey = pub
		return nil
	}})
	require.NoError(t, a.hello(context.Background()))
	st := a.Status()
	require.True(t, st.SigningKeyMismatch, "status: %+v", st)
	require.Equal(t, PhaseConnected, st.Phase, "status: %+v", st)
	require.True(t, a.identity().SigningKey.Equal(c.SignPub), "signing key replaced by hello")
}

func TestGarbageCertificateAnswers(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, _ := enrolled(t, c, m)
	other, _ := pki.NewCA("other", time.Now())
	oldCert := a.identity().Cert.Leaf
	cases := map[string]func(*licmeshv1.RenewCertificateResponse){
		"empty":   func(r *licmeshv1.RenewCertificateResponse) { r.Certificate = nil },
		"garbage": func(r *licmeshv1.RenewCertificateResponse) { r.Certificate = []byte{1, 2, 3} },
		"old certificate": func(r *licmeshv1.RenewCertificateResponse) {
			r.Certificate = oldCert.Raw // does not match the new key
		},
		"other collector": func(r *licmeshv1.RenewCertificateResponse) {
			der, err := c.CA.SignCSR(c.LastCSR(), "col-someone-else", time.Hour, time.Now())
			if err != nil {
				panic(err)
			}
			r.Certificate = der
		},
		"shorter than the current one": func(r *licmeshv1.RenewCertificateResponse) {
			der, err := c.CA.SignCSR(c.LastCSR(), string(a.identity().CollectorID), time.Minute, time.Now())
			if err != nil {
				panic(err)
			}
			r.Certificate = der
		},
		"other CA": func(r *licmeshv1.RenewCertificateResponse) {
			der, err := other.SignCSR(c.LastCSR(), string(a.identity().CollectorID), time.Hour, time.Now())
			if err != nil {
				panic(err)
			}
			r.Certificate = der
		},
	}
	for name, hook := range cases {
		t.Run(name, func(t *testing.T) {
			c.SetHooks(agenttest.Hooks{RenewCertificate: func(r *licmeshv1.RenewCertificateResponse) error { hook(r); return nil }})
			defer c.SetHooks(agenttest.Hooks{})
			err := a.renewCertificate(context.Background())
			require.ErrorIs(t, err, ErrBadAnswer, "renewCertificate")
			t.Log(err)
			require.True(t, a.identity().Cert.Leaf.Equal(oldCert), "certificate replaced by a bad answer")
		})
	}
}
