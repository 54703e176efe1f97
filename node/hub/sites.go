package hub

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/upstream"
	"github.com/licmesh/licmesh/node/hub/store"
)

// Sites: the customers' clusters, as the hub knows them. A cluster is
// registered by the public key it sends at activation, and is from then on
// known by that key only: a batch, a proof or a re-activation signed with
// another key is refused, whoever sends it. Activation binds the company's
// licenses to the cluster (re-issuing an unbound one with the cluster's
// ID), so the same call made twice, or by a new leader half-way, ends in
// the same place.

var (
	// ErrSiteKey is returned when a cluster ID is registered with another
	// key than the one a request is signed with: a cloned or impersonated
	// cluster.
	ErrSiteKey = errors.New("hub: cluster registered with another key")
	// ErrNoLicense is returned when a company has no license to bind to a
	// cluster at activation.
	ErrNoLicense = errors.New("hub: no license to activate")
)

// proofSkew is how far a cluster's proof may be from the hub's clock.
const proofSkew = time.Hour

// activate registers req's cluster for company c and binds c's licenses
// to it; it returns the licenses bound to the cluster.
func (a *api) activate(ctx context.Context, tx *store.Tx, p *principal, remote string, req *upstream.ActivationRequest, c store.Company, now time.Time) ([]store.License, store.Site, error) {
	site, err := tx.Site(ctx, req.ClusterID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		site = store.Site{ClusterID: req.ClusterID, Company: c.ID, PublicKey: []byte(b64(req.PublicKey)), RegisteredAt: now,
			ChainSeq: req.ChainSeq, ChainHash: req.ChainHash, Zone: "UTC"}
	case err != nil:
		return nil, store.Site{}, err
	case string(site.PublicKey) != b64(req.PublicKey):
		return nil, store.Site{}, fmt.Errorf("%w: cluster %s was activated with another cluster key; a copy of a cluster cannot take its place (ask the vendor to release the old registration)",
			ErrSiteKey, req.ClusterID)
	case site.Company != c.ID:
		return nil, store.Site{}, fmt.Errorf("%w: cluster %s is activated for another company", ErrPermission, req.ClusterID)
	}
	site.Products = skuStrings(req.Products)
	site.MasterVersions, site.CollectorVersions = req.Versions.Masters, req.Versions.Collectors
	site.LastContactAt = now
	if err := tx.PutSite(ctx, site); err != nil {
		return nil, store.Site{}, err
	}
	// Bind the company's current, unbound licenses to the cluster.
	current, err := tx.ListLicenses(ctx, store.LicenseFilter{Company: c.ID, Current: true})
	if err != nil {
		return nil, store.Site{}, err
	}
	var bound []store.License
	for _, l := range current {
		switch l.ClusterID {
		case req.ClusterID:
			bound = append(bound, l)
		case "":
			nl, err := a.reissue(ctx, tx, p, remote, l, c, now, func(spec *issueSpec, _ *license.Payload) error {
				spec.Tailoring.ClusterID = req.ClusterID
				return nil
			}, "license.bound", "to cluster "+string(req.ClusterID))
			if err != nil {
				return nil, store.Site{}, err
			}
			bound = append(bound, nl)
		}
	}
	if len(bound) == 0 {
		return nil, store.Site{}, fmt.Errorf("%w: company %s has no current license that is not bound to another cluster: start a trial, or ask the vendor",
			ErrNoLicense, c.Name)
	}
	if err := companyChange(ctx, tx, p, remote, store.Event{Company: c.ID, At: now, Kind: "site.activated",
		Detail: fmt.Sprintf("cluster %s, %d license(s)", req.ClusterID, len(bound))}); err != nil {
		return nil, store.Site{}, err
	}
	return bound, site, nil
}

func skuStrings(s []license.SKU) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = string(x)
	}
	return out
}

// siteKey returns a registered site and its public key.
func siteKey(ctx context.Context, tx *store.Tx, id license.ClusterID) (store.Site, ed25519.PublicKey, error) {
	site, err := tx.Site(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Site{}, nil, fmt.Errorf("%w: cluster %s is not activated at this hub (activate it online, or upload its activation request)", ErrPermission, id)
	}
	if err != nil {
		return store.Site{}, nil, err
	}
	pub, err := unb64(string(site.PublicKey))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return store.Site{}, nil, fmt.Errorf("hub: site %s: stored public key is unreadable", id)
	}
	return site, pub, nil
}

// ingestResult is what a push or an upload did.
type ingestResult struct {
	Cluster    license.ClusterID
	Seq        uint64
	Hash       string
	Accepted   int
	Duplicates int
	// Receipt is the signed receipt for Seq (nil for an empty chain).
	Receipt []byte
}

// ingest verifies and stores signed batches of one cluster, in order, all
// or nothing: a batch the hub holds already (same place, same hash) is a
// duplicate and changes nothing; one that takes a held place with other
// bytes, skips a batch, does not chain, comes from another cluster or
// fails its signature refuses the whole call. then, if not nil, runs in
// the same transaction once the batches are stored (an upload's audit
// record).
func (s *Server) ingest(ctx context.Context, signed []upstream.Signed, via string, then func(tx *store.Tx, r ingestResult) error) (ingestResult, error) {
	var r ingestResult
	if len(signed) == 0 {
		return r, fmt.Errorf("%w: no batches", ErrInvalidArgument)
	}
	cluster, _, err := upstream.Peek(signed[0])
	if err != nil {
		return r, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	now := s.clk.Now()
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		r = ingestResult{Cluster: cluster}
		site, pub, err := siteKey(ctx, tx, cluster)
		if err != nil {
			return err
		}
		seq, hash := site.ChainSeq, site.ChainHash
		for i, sb := range signed {
			b, err := upstream.OpenBatch(sb, cluster, pub)
			if err != nil {
				return fmt.Errorf("%w: batch %d of %d: %w", ErrInvalidArgument, i+1, len(signed), err)
			}
			h := sb.Hash()
			if b.Seq <= seq {
				held, ok, err := tx.BatchHash(ctx, cluster, b.Seq)
				if err != nil {
					return err
				}
				if !ok || held != h {
					return fmt.Errorf("%w: %w: batch %d of cluster %s is held with other contents; this one is a replay or a forgery",
						ErrInvalidArgument, upstream.ErrConflict, b.Seq, cluster)
				}
				r.Duplicates++
				continue
			}
			if err := upstream.Link(seq, hash, b); err != nil {
				return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
			}
			if err := tx.AppendBatch(ctx, b, h, via, now); err != nil {
				return err
			}
			seq, hash = b.Seq, h
			r.Accepted++
		}
		r.Seq, r.Hash = seq, hash
		if err := tx.TouchSite(ctx, cluster, via, now); err != nil {
			return err
		}
		// Signed in the same transaction, with the key it reads: no
		// second round trip per push.
		if r.Receipt, err = s.receipt(ctx, tx, r, now); err != nil || then == nil {
			return err
		}
		return then(tx, r)
	})
	if err != nil {
		return ingestResult{}, err
	}
	s.m.batches.WithLabelValues(via, "accepted").Add(float64(r.Accepted))
	s.m.batches.WithLabelValues(via, "duplicate").Add(float64(r.Duplicates))
	return r, nil
}

// receipt signs the hub's word that it holds cluster's chain up to seq.
func (s *Server) receipt(ctx context.Context, tx *store.Tx, r ingestResult, now time.Time) ([]byte, error) {
	if r.Seq == 0 {
		return nil, nil
	}
	vk, err := tx.SigningKey(ctx)
	if err != nil {
		return nil, err
	}
	priv, err := s.signer(vk)
	if err != nil {
		return nil, err
	}
	rc, err := upstream.SealReceipt(upstream.Receipt{ClusterID: r.Cluster, Seq: r.Seq, Hash: r.Hash, IssuedAt: now.UTC()}, priv, license.KeyID(vk.KeyID))
	if err != nil {
		return nil, err
	}
	return rc.Marshal(), nil
}

// licenseTexts are the armoured texts of ls.
func licenseTexts(ls []store.License) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.Text)
	}
	return slices.Clip(out)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func unb64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
