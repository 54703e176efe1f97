package fsm

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/licmesh/licmesh/licensing/lease"
)

// ClusterInfo is what Bootstrap recorded: the cluster's identity, its CA,
// the lease signing key and the first admin token. It holds private keys:
// String omits them, and callers must never log the struct field by field.
type ClusterInfo struct {
	ID             string
	CACertPEM      []byte
	CAKeyPEM       []byte
	SigningKey     []byte // ed25519 seed
	AdminTokenID   string
	AdminTokenHash Hash
	BootstrappedAt int64 // Unix ms
}

// String describes the cluster without its keys.
func (c ClusterInfo) String() string {
	return fmt.Sprintf("ClusterInfo{ID:%s AdminTokenID:%s BootstrappedAt:%d}", c.ID, c.AdminTokenID, c.BootstrappedAt)
}

// SigningPrivateKey expands the signing seed into the key that signs lease
// documents.
func (c ClusterInfo) SigningPrivateKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(c.SigningKey)
}

// SigningPublicKey returns the key collectors verify lease documents with.
func (c ClusterInfo) SigningPublicKey() ed25519.PublicKey {
	return c.SigningPrivateKey().Public().(ed25519.PublicKey)
}

func (c ClusterInfo) clone() ClusterInfo {
	c.CACertPEM = append([]byte(nil), c.CACertPEM...)
	c.CAKeyPEM = append([]byte(nil), c.CAKeyPEM...)
	c.SigningKey = append([]byte(nil), c.SigningKey...)
	return c
}

// PoolStatus is a pool with its current use and overage history.
type PoolStatus struct {
	Pool lease.Pool
	// Held is the number of leases the pool holds now; it may exceed
	// Pool.Seats after a shrink or, for soft pools, through overage.
	Held int
	// OverageGrants counts grants made past the seats (soft pools).
	OverageGrants uint64
	// PeakHeld is the most leases ever held at once.
	PeakHeld int
	// LastOverageAt is the Unix ms time of the last overage grant, or 0.
	LastOverageAt int64
	CreatedAt     int64
	UpdatedAt     int64
}

// Lease is a granted seat.
type Lease struct {
	ID lease.ID
	// Fence is the Raft index of the entry that granted the lease; it only
	// grows, so a product can refuse a lease older than one it has seen.
	Fence       uint64
	Pool        string
	Holder      string
	CollectorID string
	GrantedAt   int64 // Unix ms, the leader's time of the batch
	TTLms       int64
	// Overage marks a grant past a soft pool's seats.
	Overage bool
}

// Document returns the signable lease document for this lease.
func (l Lease) Document(clusterID string, issuedAt, expiresAt time.Time) lease.Document {
	return lease.Document{
		ClusterID:   clusterID,
		LeaseID:     l.ID,
		Fence:       l.Fence,
		Pool:        l.Pool,
		Holder:      l.Holder,
		CollectorID: l.CollectorID,
		IssuedAt:    issuedAt,
		ExpiresAt:   expiresAt,
	}
}

// Token is a join (collector) or admin API token. Only the SHA-256 of its
// secret is kept; String omits even that.
type Token struct {
	ID         string
	Role       Role
	SecretHash Hash
	ExpiresAt  int64 // Unix ms; 0 = never
	MaxUses    int   // 0 = unlimited
	Uses       int
	Revoked    bool
	RevokedAt  int64
	CreatedAt  int64
}

// String describes the token without its secret hash.
func (t Token) String() string {
	return fmt.Sprintf("Token{ID:%s Role:%s ExpiresAt:%d Uses:%d/%d Revoked:%t}", t.ID, t.Role, t.ExpiresAt, t.Uses, t.MaxUses, t.Revoked)
}

// Collector is an enrolled collector.
type Collector struct {
	ID            string
	Hostname      string
	Version       string
	Protocol      string
	EnrolledAt    int64
	CertSerial    string
	CertRenewedAt int64
	TokenID       string
	LastSeenAt    int64
}

// LeaseFilter selects leases; empty fields match everything, Limit <= 0
// means no limit.
type LeaseFilter struct {
	Pool        string
	Holder      string
	CollectorID string
	Limit       int
}

// Counts are the sizes of the state's tables, for metrics.
type Counts struct {
	Pools      int
	Leases     int
	Collectors int
	Tokens     int
}

// OpResult is the outcome of one LeaseOp.
type OpResult struct {
	// Lease is a copy of the lease granted, found (Existing) or removed.
	Lease *Lease
	// Err is nil or a sentinel: ErrUnknownPool, ErrPoolFull,
	// ErrUnknownLease, ErrNotHolder, ErrHeldElsewhere, or ErrInvalidOp
	// (wrapped with a detail).
	Err error
	// Existing says an acquire found the holder's lease already granted.
	Existing bool
}

// Response is what Apply returns for each command log entry (and what
// raft.ApplyFuture.Response holds). Err is set when the whole command was
// refused, in which case nothing changed; Ops holds a LeaseBatch's
// per-operation results in order.
type Response struct {
	Index uint64
	Err   error
	Ops   []OpResult
}

// Observer is told about lease grants and removals as they apply, so the
// leader can keep its deadline table in step with the FSM. Its methods run
// synchronously inside Apply with the FSM's write lock held: they must not
// block and must not call back into the FSM. Restore does not notify it;
// after a restore the leader rebuilds its table from LeaseIDs.
type Observer interface {
	LeaseGranted(l Lease)
	LeaseRemoved(id lease.ID)
}
