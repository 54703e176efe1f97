package localapi

import (
	"time"

	"github.com/licmesh/licmesh/collectors/agent"
	"github.com/licmesh/licmesh/collectors/leasebook"
	"github.com/licmesh/licmesh/licensing/lease"
)

// AcquireRequest is the body of POST /v1/leases.
type AcquireRequest struct {
	Pool   string `json:"pool"`
	Holder string `json:"holder"`
}

// BorrowRequest is the body of POST /v1/leases/borrow.
type BorrowRequest struct {
	Pool   string `json:"pool"`
	Holder string `json:"holder"`
	// Duration is how long to borrow for: a Go duration ("72h") or whole
	// days ("3d"), at most the pool's maximum borrow period.
	Duration string `json:"duration"`
}

// VerifyRequest is the body of POST /v1/verify.
type VerifyRequest struct {
	Token string `json:"token"`
}

// ConsumeRequest is the body of POST /v1/credits/consume.
type ConsumeRequest struct {
	Unit   string `json:"unit"`
	Amount int64  `json:"amount"`
}

// Lease is a lease as the API shows it.
type Lease struct {
	ID     uint64 `json:"id"`
	Pool   string `json:"pool"`
	Holder string `json:"holder"`
	Fence  uint64 `json:"fence"`
	Token  string `json:"token"`
	// State is valid, grace (past its validity with no master reached,
	// within the pool's offline grace), borrowed, expired, lost or
	// releasing.
	State string `json:"state"`
	// Valid says the holder may work: State is valid, grace or borrowed.
	Valid bool `json:"valid"`
	// RemainingMS is how long the holder may still work without a
	// renewal: to the end of validity, of the grace, or of the borrow.
	RemainingMS int64 `json:"remaining_ms"`
	TTLMS       int64 `json:"ttl_ms"`
	// GraceMS is the pool's offline grace the lease carries.
	GraceMS int64 `json:"grace_ms,omitempty"`
	// Borrowed says the seat is lent until valid_until.
	Borrowed bool `json:"borrowed,omitempty"`
	// ValidUntil is a wall-clock estimate of the end of validity.
	ValidUntil string `json:"valid_until,omitempty"`
	// Reason says why a lease was lost.
	Reason string `json:"reason,omitempty"`
}

// LeaseFrom converts a lease for the API.
func LeaseFrom(l leasebook.Lease) Lease {
	out := Lease{
		ID:          uint64(l.ID),
		Pool:        l.Pool,
		Holder:      l.Holder,
		Fence:       l.Fence,
		Token:       string(l.Token),
		State:       string(l.State),
		Valid:       l.Holds(),
		RemainingMS: l.Remaining.Milliseconds(),
		TTLMS:       l.TTL.Milliseconds(),
		GraceMS:     l.Grace.Milliseconds(),
		Borrowed:    l.Borrowed,
		Reason:      l.Reason,
	}
	if !l.ValidUntil.IsZero() {
		out.ValidUntil = l.ValidUntil.UTC().Format(time.RFC3339Nano)
	}
	return out
}

// ListResponse is the body of GET /v1/leases.
type ListResponse struct {
	Leases    []Lease `json:"leases"`
	Counts    Counts  `json:"counts"`
	MaxLeases int     `json:"max_leases"`
}

// Counts counts leases by state; held is valid plus expired.
type Counts struct {
	Held      int `json:"held"`
	Valid     int `json:"valid"`
	Grace     int `json:"grace"`
	Borrowed  int `json:"borrowed"`
	Expired   int `json:"expired"`
	Lost      int `json:"lost"`
	Releasing int `json:"releasing"`
}

// CountsFrom converts lease counts for the API.
func CountsFrom(c leasebook.Counts) Counts {
	return Counts{Held: c.Held, Valid: c.Valid, Grace: c.Grace, Borrowed: c.Borrowed, Expired: c.Expired, Lost: c.Lost, Releasing: c.Releasing}
}

// ReleaseResponse is the body of DELETE /v1/leases/{id}.
type ReleaseResponse struct {
	Lease Lease `json:"lease"`
	// Released is true when a master confirmed the release.
	Released bool `json:"released"`
	// Pending is true when no master could be reached: the collector stopped
	// using the lease and retries the release in the background.
	Pending bool `json:"pending"`
}

// VerifyResponse is the body of POST /v1/verify.
type VerifyResponse struct {
	Valid bool `json:"valid"`
	// Reason is set when not valid: malformed, bad_signature,
	// wrong_cluster, expired, not_enrolled.
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Lease is what the token says, when its signature verified.
	Lease *Document `json:"lease,omitempty"`
	// Held says whether this collector holds the lease, State its state here.
	Held  bool   `json:"held"`
	State string `json:"state,omitempty"`
}

// Document is a signed lease document.
type Document struct {
	ClusterID   string `json:"cluster_id"`
	LeaseID     uint64 `json:"lease_id"`
	Fence       uint64 `json:"fence"`
	Pool        string `json:"pool"`
	Holder      string `json:"holder"`
	CollectorID string `json:"collector_id"`
	IssuedAt    string `json:"issued_at"`
	ExpiresAt   string `json:"expires_at"`
}

// VerifyFrom converts a verification for the API.
func VerifyFrom(v agent.Verification) VerifyResponse {
	out := VerifyResponse{Valid: v.Valid, Reason: v.Reason, Detail: v.Detail, Held: v.Held, State: string(v.State)}
	if d := v.Document; d != nil {
		out.Lease = documentFrom(*d)
	}
	return out
}

func documentFrom(d lease.Document) *Document {
	return &Document{
		ClusterID:   d.ClusterID,
		LeaseID:     uint64(d.LeaseID),
		Fence:       d.Fence,
		Pool:        d.Pool,
		Holder:      d.Holder,
		CollectorID: d.CollectorID,
		IssuedAt:    d.IssuedAt.UTC().Format(time.RFC3339Nano),
		ExpiresAt:   d.ExpiresAt.UTC().Format(time.RFC3339Nano),
	}
}

// Status is the body of GET /v1/status.
type Status struct {
	CollectorID     string   `json:"collector_id"`
	ClusterID       string   `json:"cluster_id"`
	Version         string   `json:"version"`
	ProtocolVersion uint32   `json:"protocol_version"`
	Phase           string   `json:"phase"`
	Masters         []string `json:"masters"`
	CurrentMaster   string   `json:"current_master"`
	MasterNodeID    string   `json:"master_node_id,omitempty"`
	// Protocol is h3 or h2 towards the current master.
	Protocol string `json:"protocol"`
	// Transport is the configured mode: auto, quic or tcp.
	Transport          string `json:"transport"`
	LastContact        string `json:"last_contact,omitempty"`
	LastError          string `json:"last_error,omitempty"`
	LeaseTTLMS         int64  `json:"lease_ttl_ms"`
	Leases             Counts `json:"leases"`
	MaxLeases          int    `json:"max_leases"`
	CertNotAfter       string `json:"cert_not_after,omitempty"`
	CertRenewAt        string `json:"cert_renew_at,omitempty"`
	SigningKeyMismatch bool   `json:"signing_key_mismatch,omitempty"`
	StartedAt          string `json:"started_at"`
	// Usage is usage metering's state, when it is on.
	Usage *UsageStatus `json:"usage,omitempty"`
	// Update is the update this run last worked on, if any.
	Update *UpdateStatus `json:"update,omitempty"`
}

// UpdateStatus is an update order's progress as /v1/status shows it.
type UpdateStatus struct {
	RolloutID string `json:"rollout_id"`
	Action    string `json:"action"`
	Target    string `json:"target"`
	State     string `json:"state"`
	Detail    string `json:"detail,omitempty"`
	Since     string `json:"since"`
}

// UsageStatus is usage metering as /v1/status shows it.
type UsageStatus struct {
	Installation string `json:"installation"`
	SpoolEpoch   uint64 `json:"spool_epoch"`
	// Pending records wait in the spool for the masters' acknowledgement;
	// AckedSeq is the acknowledgement mark.
	Pending      uint64 `json:"pending"`
	PendingBytes int64  `json:"pending_bytes"`
	AckedSeq     uint64 `json:"acked_seq"`
	Samples      uint64 `json:"samples"`
	RecordsAcked uint64 `json:"records_acked"`
	// DroppedFull counts records the full spool dropped unsent since start.
	DroppedFull   uint64 `json:"dropped_full"`
	LastAck       string `json:"last_ack,omitempty"`
	LastError     string `json:"last_error,omitempty"`
	FailuresInRow int    `json:"failures_in_row,omitempty"`
}

// StatusFrom converts the agent's status for the API.
func StatusFrom(s agent.Status) Status {
	out := Status{
		CollectorID:        s.CollectorID,
		ClusterID:          s.ClusterID,
		Version:            s.Version,
		ProtocolVersion:    s.ProtocolVersion,
		Phase:              s.Phase,
		Masters:            s.Masters,
		CurrentMaster:      s.CurrentMaster,
		MasterNodeID:       s.MasterNodeID,
		Protocol:           s.Protocol,
		Transport:          s.Transport,
		LastError:          s.LastError,
		LeaseTTLMS:         s.LeaseTTL.Milliseconds(),
		Leases:             CountsFrom(s.Leases),
		MaxLeases:          s.MaxLeases,
		SigningKeyMismatch: s.SigningKeyMismatch,
		StartedAt:          timeText(s.StartedAt),
		LastContact:        timeText(s.LastContact),
		CertNotAfter:       timeText(s.CertNotAfter),
		CertRenewAt:        timeText(s.CertRenewAt),
	}
	if out.Masters == nil {
		out.Masters = []string{}
	}
	if u := s.Update; u != nil {
		out.Update = &UpdateStatus{RolloutID: u.RolloutID, Action: u.Action, Target: u.Target, State: u.State, Detail: u.Detail, Since: timeText(u.Since)}
	}
	return out
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// ErrorResponse is the body of every error.
type ErrorResponse struct {
	Error string `json:"error"`
	// Code is a stable name for the kind of error.
	Code string `json:"code"`
}
