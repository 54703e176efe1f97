package agent

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/licmesh/licmesh/collectors/leasebook"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/mesh/wire"
)

// Leases returns every lease the collector holds or recently lost, ordered by
// ID.
func (a *Agent) Leases() []leasebook.Lease { return a.book.List() }

// Lease returns one lease.
func (a *Agent) Lease(id lease.ID) (leasebook.Lease, bool) { return a.book.Get(id) }

// Status is the agent's state for `collectord status` and the dashboards.
type Status struct {
	CollectorID string
	ClusterID   string
	Version     string
	// ProtocolVersion is the collector protocol version this build speaks.
	ProtocolVersion uint32
	// Phase is enrolling, connecting, connected, disconnected or stopped.
	Phase string
	// Masters are the known masters in the order they are tried.
	Masters []string
	// CurrentMaster is the master that answered last, and MasterNodeID its
	// node ID from hello.
	CurrentMaster string
	MasterNodeID  string
	// Protocol is h3 (QUIC) or h2 (TLS/TCP) towards CurrentMaster.
	Protocol string
	// Transport is the configured mode: auto, quic or tcp.
	Transport string
	// LastContact is when a master last answered (zero if never).
	LastContact time.Time
	// LastError is the last failure to reach the masters, cleared by a
	// successful hello.
	LastError string
	// LeaseTTL is the lease TTL the masters announced.
	LeaseTTL time.Duration
	Leases   leasebook.Counts
	// MaxLeases is the configured capacity.
	MaxLeases int
	// CertNotAfter is when the client certificate ends, CertRenewAt when
	// it is renewed.
	CertNotAfter time.Time
	CertRenewAt  time.Time
	// SigningKeyMismatch is set when a master announced a different lease
	// signing key than the one from enrollment.
	SigningKeyMismatch bool
	StartedAt          time.Time
	// Update is the update this run last worked on (in progress, or how
	// it ended); nil when there was none.
	Update *UpdateStatus
}

// Status returns the agent's state.
func (a *Agent) Status() Status {
	a.mu.Lock()
	st := a.st
	id, tr := a.id, a.tr
	a.mu.Unlock()
	s := Status{
		Version:            a.opts.Version,
		ProtocolVersion:    wire.ProtocolVersion,
		Phase:              st.phase,
		Masters:            a.masters.Snapshot(),
		CurrentMaster:      st.lastMaster,
		MasterNodeID:       st.nodeID,
		Transport:          a.mode.String(),
		LastContact:        st.lastContact.Round(0),
		LastError:          st.lastError,
		LeaseTTL:           st.leaseTTL,
		Leases:             a.book.Counts(),
		MaxLeases:          a.book.Max(),
		SigningKeyMismatch: st.keyMismatch,
		StartedAt:          a.started.Round(0),
		Update:             a.updateStatus(),
	}
	if id != nil {
		s.CollectorID = string(id.CollectorID)
		s.ClusterID = id.ClusterID
		s.CertNotAfter = id.Cert.Leaf.NotAfter
		s.CertRenewAt = certRenewAt(id)
	}
	if tr != nil && st.lastMaster != "" {
		s.Protocol = tr.Protocol(st.lastMaster)
	}
	return s
}

// Verification is the outcome of checking a lease token offline.
type Verification struct {
	// Valid is true when the token is well formed, signed by this cluster's
	// key, for this cluster, and not past its end.
	Valid bool
	// Reason is a stable code when not valid: malformed, bad_signature,
	// wrong_cluster, expired, not_enrolled.
	Reason string
	// Detail explains Reason.
	Detail string
	// Document is what the token says; set when it decoded and its
	// signature verified (also when expired).
	Document *lease.Document
	// Held reports whether this collector holds the lease, and State its
	// state here.
	Held  bool
	State leasebook.State
}

// Verification reasons.
const (
	VerifyMalformed    = "malformed"
	VerifyBadSignature = "bad_signature"
	VerifyWrongCluster = "wrong_cluster"
	VerifyExpired      = "expired"
	VerifyNotEnrolled  = "not_enrolled"
)

// Verify checks a lease token offline with the cluster's signing key, against
// the wall clock (as the product would). For a lease this collector holds,
// the book decides whether it still holds: it counts on the monotonic and
// boot clocks, so a wall clock set forward does not end a borrow early,
// nor one set back extend it.
func (a *Agent) Verify(token string) Verification {
	id := a.identity()
	if id == nil {
		return Verification{Reason: VerifyNotEnrolled, Detail: ErrNotReady.Error()}
	}
	token = strings.TrimSpace(token)
	doc, err := lease.Verify(lease.Token(token), id.SigningKey, a.clock.Now())
	v := Verification{}
	switch {
	case err == nil:
		v.Valid = true
	case errors.Is(err, lease.ErrDocExpired):
		v.Reason, v.Detail = VerifyExpired, err.Error()
	case errors.Is(err, lease.ErrBadSignature):
		return Verification{Reason: VerifyBadSignature, Detail: err.Error()}
	default:
		return Verification{Reason: VerifyMalformed, Detail: err.Error()}
	}
	if doc.ClusterID != id.ClusterID {
		return Verification{Reason: VerifyWrongCluster,
			Detail: fmt.Sprintf("token is for cluster %q, this collector belongs to %q", doc.ClusterID, id.ClusterID)}
	}
	v.Document = &doc
	if l, ok := a.book.Get(doc.LeaseID); ok && doc.CollectorID == string(id.CollectorID) {
		v.Held, v.State = true, l.State
		if l.Borrowed {
			v.Valid = l.Holds()
			v.Reason, v.Detail = "", ""
			if !v.Valid {
				v.Reason, v.Detail = VerifyExpired, "the borrow has ended"
			}
		}
	}
	return v
}
