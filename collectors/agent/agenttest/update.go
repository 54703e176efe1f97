package agenttest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/licmesh/licmesh/licensing/entitlement"
	"github.com/licmesh/licmesh/mesh/pki"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// updates is the fake cluster's entitlement stream and rollout; c.mu.
type updates struct {
	streaming bool
	serial    uint64
	order     *licmeshv1.UpdateOrder
	// changed is closed and replaced when the order changes, to wake the
	// streams.
	changed   chan struct{}
	artifacts map[string][]byte
	reports   []*licmeshv1.ReportUpdateRequest
	downloads int
}

// StreamEntitlements makes the masters serve WatchEntitlements (they
// answer Unimplemented until then): each stream sends at once a document
// with no entitlements, signed for the caller, with the current update
// order, and again whenever SetUpdate changes the order.
func (c *Cluster) StreamEntitlements() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.upd.streaming = true
}

// SetUpdate sets the update order sent with every document (nil: none)
// and sends it on the open streams.
func (c *Cluster) SetUpdate(o *licmeshv1.UpdateOrder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.upd.order = o
	close(c.upd.changed)
	c.upd.changed = make(chan struct{})
}

// AddArtifact makes the masters serve b as the build with b's SHA-256,
// which it returns in hex.
func (c *Cluster) AddArtifact(b []byte) string {
	h := sha256.Sum256(b)
	sha := hex.EncodeToString(h[:])
	c.ServeArtifact(sha, b)
	return sha
}

// ServeArtifact makes the masters serve b under sha, right or wrong.
func (c *Cluster) ServeArtifact(sha string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.upd.artifacts[sha] = b
}

// Downloads returns how many builds the masters served.
func (c *Cluster) Downloads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.upd.downloads
}

// UpdateReports returns the ReportUpdate requests received, oldest first.
func (c *Cluster) UpdateReports() []*licmeshv1.ReportUpdateRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*licmeshv1.ReportUpdateRequest, len(c.upd.reports))
	for i, r := range c.upd.reports {
		out[i] = proto.CloneOf(r)
	}
	return out
}

// LackArtifacts makes this master answer 404 for every build, as a master
// that has not received them yet.
func (m *Master) LackArtifacts() {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	m.noArtifacts = true
}

// serveArtifact serves GET /v1/artifacts/{sha} to collectors.
func (c *Cluster) serveArtifact(m *Master) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Error(w, "no TLS", http.StatusUnauthorized)
			return
		}
		if role, _, err := pki.VerifiedPeer(*r.TLS); err != nil || role != pki.RoleCollector {
			http.Error(w, "a collector certificate is required", http.StatusUnauthorized)
			return
		}
		c.mu.Lock()
		b, ok := c.upd.artifacts[r.PathValue("sha")]
		if m.noArtifacts {
			ok = false
		}
		if ok {
			c.upd.downloads++
		}
		c.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	}
}

func (h *handler) WatchEntitlements(ctx context.Context, req *connect.Request[licmeshv1.WatchEntitlementsRequest], stream *connect.ServerStream[licmeshv1.WatchEntitlementsResponse]) error {
	if _, err := h.before("WatchEntitlements"); err != nil {
		return err
	}
	cid, err := collector(ctx)
	if err != nil {
		return err
	}
	c := h.c
	for {
		c.mu.Lock()
		if !c.upd.streaming {
			c.mu.Unlock()
			return connect.NewError(connect.CodeUnimplemented, errors.New("agenttest: no entitlement stream"))
		}
		c.upd.serial++
		serial, order, changed := c.upd.serial, c.upd.order, c.upd.changed
		c.mu.Unlock()
		doc := c.SignEntitlements(&entitlement.Document{Format: entitlement.FormatVersion, ClusterID: c.ClusterID,
			CollectorID: cid, Serial: serial, IssuedAt: c.now()})
		if err := stream.Send(&licmeshv1.WatchEntitlementsResponse{Document: doc, Update: order}); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

func (h *handler) ReportUpdate(ctx context.Context, req *connect.Request[licmeshv1.ReportUpdateRequest]) (*connect.Response[licmeshv1.ReportUpdateResponse], error) {
	if _, err := h.before("ReportUpdate"); err != nil {
		return nil, err
	}
	if _, err := collector(ctx); err != nil {
		return nil, err
	}
	h.c.mu.Lock()
	h.c.upd.reports = append(h.c.upd.reports, proto.CloneOf(req.Msg))
	h.c.mu.Unlock()
	return connect.NewResponse(&licmeshv1.ReportUpdateResponse{}), nil
}
