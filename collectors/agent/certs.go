package agent

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/collectors/identity"
	"github.com/licmesh/licmesh/mesh/pki"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// certRenewAt returns when a certificate is due for renewal: at two thirds
// of its life, leaving a third to get through a master outage.
func certRenewAt(id *identity.Identity) time.Time {
	leaf := id.Cert.Leaf
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	return leaf.NotBefore.Add(life * 2 / 3)
}

// renewCertificate asks a master for a certificate for a fresh key, over the
// current mutual-TLS connection, checks it and stores it.
func (a *Agent) renewCertificate(ctx context.Context) error {
	id, tr := a.identity(), a.transport()
	if id == nil || tr == nil {
		return ErrNotReady
	}
	csr, key, err := pki.NewCSR(string(id.CollectorID))
	if err != nil {
		return fmt.Errorf("agent: certificate renewal: %w", err)
	}
	var next identity.Identity
	err = a.call(ctx, tr, a.cfg.RequestTimeout, func(ctx context.Context, c licmeshv1connect.CollectorServiceClient, addr string) error {
		resp, err := c.RenewCertificate(ctx, connect.NewRequest(&licmeshv1.RenewCertificateRequest{Csr: csr}))
		if err != nil {
			return err
		}
		cert, err := pki.TLSCertificate(key, resp.Msg.GetCertificate())
		if err != nil {
			return badAnswer("renewed certificate: %v", err)
		}
		if err := identity.CheckCertificate(cert, id.CA, id.CollectorID, a.clock.Now()); err != nil {
			return badAnswer("renewed certificate: %v", err)
		}
		if !cert.Leaf.NotAfter.After(id.Cert.Leaf.NotAfter) {
			return badAnswer("renewed certificate ends %s, no later than the current one", cert.Leaf.NotAfter.Format(time.RFC3339))
		}
		next = *id
		next.Cert = cert
		return nil
	})
	if err != nil {
		return err
	}
	if err := a.store.SaveCertificate(key, next.Cert.Leaf.Raw); err != nil {
		return fmt.Errorf("agent: save renewed certificate: %w", err)
	}
	a.mu.Lock()
	a.id = &next
	a.mu.Unlock()
	a.log.Info("collectord: certificate renewed", "collector_id", next.CollectorID,
		"not_after", next.Cert.Leaf.NotAfter.Format(time.RFC3339))
	return nil
}
