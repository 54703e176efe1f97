package fsm

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
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

// PoolSource says where a pool's seats come from; see PoolStatus.Source.
type PoolSource string

// Pool sources, in order of precedence.
const (
	// SourceLicense means licenses in force (active or in grace) grant the
	// pool; their seats add up. A manual config of the same name is
	// ignored meanwhile.
	SourceLicense PoolSource = "license"
	// SourceManual means the pool was made by CreatePool and is changed by
	// UpdatePool, for tests and development.
	SourceManual PoolSource = "manual"
	// SourceExpired means only licenses past their grace grant the pool:
	// it has 0 seats and refuses acquires with ErrPoolExpired. Leases held
	// stay until released or expired; the leader should stop renewing
	// them (see FSM.PoolExpired).
	SourceExpired PoolSource = "expired"
	// SourceNone means nothing grants the pool any more (its license was
	// removed, or replaced by one without it). It has 0 seats, refuses
	// acquires with ErrUnknownPool, and disappears with its last lease.
	SourceNone PoolSource = "none"
)

// PoolStatus is a pool with its current use and overage history.
type PoolStatus struct {
	// Pool is the pool in force: from its licenses, its manual config, or
	// 0 seats (SourceExpired, SourceNone).
	Pool lease.Pool
	// Source says where Pool comes from.
	Source PoolSource
	// Licenses are the licenses granting the pool (SourceLicense), or the
	// expired ones that granted it (SourceExpired), sorted.
	Licenses []license.LicenseID
	// Amount is the allowance the licenses grant with the pool, summed
	// (see license.Pool.Amount); masters do not lease it.
	Amount int64
	// Manual is the pool's CreatePool/UpdatePool config, if it has one; it
	// is in force only when Source is SourceManual.
	Manual *lease.Pool
	// Held is the number of leases the pool holds now; it may exceed
	// Pool.Seats after a shrink or, for soft pools, through overage.
	Held int
	// Borrowed counts the held leases lent until a set end; Offline those
	// a fail-open collector let in while it reached no master.
	Borrowed, Offline int
	// OverageGrants counts grants made past the seats (soft pools, and
	// hard pools' allowed overage).
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
	// GraceMs is the offline grace the lease was granted with: masters
	// count its seat held that long past its deadline.
	GraceMs int64
	// Borrowed is when a borrowed lease ends (Unix ms), 0 for a lease that
	// lives by renewals.
	Borrowed int64
	// Offline marks a seat a fail-open collector let its holder take
	// while it reached no master.
	Offline bool
}

// Document returns the signable lease document for this lease; a borrowed
// lease's ends when the borrow does, whatever expiresAt says.
func (l Lease) Document(clusterID string, issuedAt, expiresAt time.Time) lease.Document {
	if l.Borrowed != 0 {
		expiresAt = time.UnixMilli(l.Borrowed).UTC()
	}
	return lease.Document{
		ClusterID:   clusterID,
		LeaseID:     l.ID,
		Fence:       l.Fence,
		Pool:        l.Pool,
		Holder:      l.Holder,
		CollectorID: l.CollectorID,
		IssuedAt:    issuedAt,
		ExpiresAt:   expiresAt,
		Grace:       time.Duration(l.GraceMs) * time.Millisecond,
		Borrowed:    l.Borrowed != 0,
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
	// User is the account an API token acts for; empty for join tokens and
	// for admin tokens made before accounts existed. Such a token acts with
	// the least of its own role and its user's, and only while the user is
	// enabled.
	User string `json:",omitempty"`
}

// String describes the token without its secret hash.
func (t Token) String() string {
	return fmt.Sprintf("Token{ID:%s Role:%s User:%s ExpiresAt:%d Uses:%d/%d Revoked:%t}", t.ID, t.Role, t.User, t.ExpiresAt, t.Uses, t.MaxUses, t.Revoked)
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
	// Borrowed keeps only borrowed leases.
	Borrowed bool
	Limit    int
}

// Counts are the sizes of the state's tables, for metrics.
type Counts struct {
	Pools      int
	Leases     int
	Collectors int
	Tokens     int
	Licenses   int
}

// OpResult is the outcome of one LeaseOp.
type OpResult struct {
	// Lease is a copy of the lease granted, found (Existing) or removed.
	Lease *Lease
	// Err is nil or a sentinel: ErrUnknownPool, ErrPoolFull,
	// ErrPoolExpired, ErrUnknownLease, ErrNotHolder, ErrHeldElsewhere, or
	// ErrInvalidOp (wrapped with a detail).
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
	// Replaced lists the licenses an AddLicense replaced, sorted.
	Replaced []license.LicenseID
	// Credit is a ConsumeCredits' receipt.
	Credit *CreditReceipt
	// Alerts are the keys a FireAlerts fired (not those firing already).
	Alerts []string
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

// LicenseInfo is a stored license as the FSM sees it at trusted time. The
// payload is the license's own (customer, product, type, dates, features,
// subscription ID...), decoded afresh for each read, so the caller may keep
// or change it.
type LicenseInfo struct {
	license.Payload
	// KeyID is the vendor key that signed the license.
	KeyID license.KeyID
	// Status is the license judged at trusted time: Phase (active,
	// in_grace, expired, not_yet_valid), days left, trial. Its Tampered is
	// always false: the local clock plays no part in the FSM.
	Status license.State
	// InForce says the license grants its pools and features now (active
	// or in grace).
	InForce bool
	// Grants are the pools the license grants by its terms at trusted time
	// (the trial template's during the trial), each with the leases held
	// in the pool of that name, which other licenses may share. They count
	// toward the pool only while InForce.
	Grants []PoolGrant
	// AddedAt is when AddLicense stored the license (Unix ms).
	AddedAt int64
	// Replaced lists the licenses this one replaced when it was added.
	Replaced []license.LicenseID
	// Text is the canonical armoured license; only FSM.License fills it.
	Text []byte
	// Credits is the usage-credit balance of a license that has credits.
	Credits *CreditBalance
}

// PoolGrant is one pool a license grants, with the use of the pool of that
// name.
type PoolGrant struct {
	license.Pool
	// Held is the number of leases the pool holds, from whatever source.
	Held int
}
