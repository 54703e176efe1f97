package fsm

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
)

// Limits on commands. They bound what one Raft entry can hold and what a
// malformed entry can make a node allocate.
const (
	// MaxCommandSize bounds an encoded command, type byte included.
	MaxCommandSize = 16 << 20
	// MaxBatchOps bounds the operations of one LeaseBatch; lease IDs give
	// the operation index 16 bits.
	MaxBatchOps = 1<<16 - 1
	// MaxSeenEntries bounds the entries of one CollectorSeen.
	MaxSeenEntries = 1<<16 - 1
	// MaxLeaseTTLms bounds a lease's renewal TTL (7 days).
	MaxLeaseTTLms = 7 * 24 * 3600 * 1000
	// MaxIDLen bounds cluster, token and collector IDs.
	MaxIDLen = 128
	// MaxPEMLen bounds each PEM block of Bootstrap.
	MaxPEMLen = 64 << 10
	// MaxHostnameLen bounds a collector's hostname (a DNS name's limit).
	MaxHostnameLen = 255
	maxVersionLen  = 64
	maxSerialLen   = 128
	maxUses        = 1_000_000_000
	// maxUnixMs is 9999-12-31T23:59:59.999Z: later times are refused so that
	// every time in state formats as a four-digit year.
	maxUnixMs = 253402300799999
)

// Hash is a SHA-256 digest of a secret (a token secret). Only digests enter
// the log; String never prints one, so a stray %v leaks nothing useful.
type Hash [32]byte

// String returns a placeholder, never the digest.
func (h Hash) String() string { return "Hash(redacted)" }

// IsZero reports whether h is all zeros (no hash set).
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText encodes h as 64 hex digits.
func (h Hash) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h[:])), nil }

// UnmarshalText decodes exactly 64 hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*len(h) {
		return fmt.Errorf("%w: hash has %d hex digits, want %d", ErrMalformed, len(b), 2*len(h))
	}
	if _, err := hex.Decode(h[:], b); err != nil {
		return fmt.Errorf("%w: hash is not hex", ErrMalformed)
	}
	return nil
}

// Role is what a token authorizes.
type Role string

// Token roles.
const (
	// RoleCollector tokens enroll collectors (join tokens).
	RoleCollector Role = "collector"
	// RoleAdmin tokens authorize admin API calls.
	RoleAdmin Role = "admin"
)

// command is implemented, with value receivers, by every command struct, so
// that both T and *T can be passed to Encode.
type command interface {
	msgType() MsgType
	validate() error
	now() int64
}

// Bootstrap creates the cluster: its identity, CA, lease signing key and
// first admin token. It applies once; a second one fails with
// ErrAlreadyBootstrapped.
type Bootstrap struct {
	ClusterID      string
	CACertPEM      []byte
	CAKeyPEM       []byte
	SigningKey     []byte // ed25519 seed, 32 bytes
	AdminTokenID   string
	AdminTokenHash Hash
	Now            int64
}

// String describes the command without its private keys.
func (c Bootstrap) String() string {
	return fmt.Sprintf("Bootstrap{ClusterID:%s AdminTokenID:%s Now:%d}", c.ClusterID, c.AdminTokenID, c.Now)
}

// CreatePool adds a pool; ErrPoolExists if the name is taken.
type CreatePool struct {
	Pool lease.Pool
	Now  int64
}

// UpdatePool changes a pool's seats and enforcement. Shrinking a pool below
// its held leases evicts no one; it only stops new grants (or makes them
// overage, for soft pools) until releases bring it under.
type UpdatePool struct {
	Pool lease.Pool
	Now  int64
}

// OpKind says what a LeaseOp does.
type OpKind uint8

// Lease operation kinds; their JSON form is the lower-case name.
const (
	Acquire OpKind = iota + 1
	Release
	Expire
)

// String returns "acquire", "release" or "expire".
func (k OpKind) String() string {
	switch k {
	case Acquire:
		return "acquire"
	case Release:
		return "release"
	case Expire:
		return "expire"
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// MarshalText encodes the kind by name.
func (k OpKind) MarshalText() ([]byte, error) {
	if k < Acquire || k > Expire {
		return nil, fmt.Errorf("%w: lease op kind %d", ErrMalformed, uint8(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText decodes a kind by name.
func (k *OpKind) UnmarshalText(b []byte) error {
	for _, v := range []OpKind{Acquire, Release, Expire} {
		if string(b) == v.String() {
			*k = v
			return nil
		}
	}
	return fmt.Errorf("%w: lease op kind %q", ErrMalformed, clip(string(b)))
}

// LeaseOp is one request inside a LeaseBatch.
//
//   - Acquire: Pool, Holder, CollectorID and TTLms; LeaseID must be 0.
//     Offline says the collector already let the holder in while it
//     reached no master (a fail-open pool): the seat is granted even past
//     the pool's limits, as overage, so it is counted, never silent.
//   - Release: LeaseID and the CollectorID that holds it.
//   - Expire: LeaseID only (the leader's deadline passed).
type LeaseOp struct {
	Kind        OpKind
	Pool        string   `json:",omitempty"`
	Holder      string   `json:",omitempty"`
	CollectorID string   `json:",omitempty"`
	TTLms       int64    `json:",omitempty"`
	LeaseID     lease.ID `json:",omitempty"`
	Offline     bool     `json:",omitempty"`
}

// BorrowLease lends a seat of Pool to Holder, through CollectorID, until
// Until (Unix ms of trusted time): the holder's lease there if it has one,
// else a new lease admitted as an acquire is. Masters do not expire it
// before Until, renewed or not; releasing it returns it early. Its own
// message type keeps ordinary lease batches readable by masters that
// predate borrowing.
type BorrowLease struct {
	Now         int64
	Pool        string
	Holder      string
	CollectorID string
	TTLms       int64
	Until       int64
}

// LeaseBatch carries the lease requests the leader coalesced into one Raft
// entry. The FSM checks each against the state left by the ones before it.
type LeaseBatch struct {
	Now int64
	Ops []LeaseOp
}

// CreateToken adds a join or admin token. ExpiresAt 0 means it never
// expires; MaxUses 0 means unlimited uses.
type CreateToken struct {
	ID         string
	SecretHash Hash
	Role       Role
	ExpiresAt  int64
	MaxUses    int
	Now        int64
	// User binds an API token to an account (accounts.go); the account
	// must exist and be enabled.
	User string `json:",omitempty"`
}

// RevokeToken revokes a token; revoking twice is not an error.
type RevokeToken struct {
	ID  string
	Now int64
}

// Enroll registers a collector that presented a join token. The FSM checks
// the token (unknown, revoked, expired, exhausted, secret, role, in that
// order), then that the collector ID is new.
type Enroll struct {
	TokenID     string
	SecretHash  Hash
	CollectorID string
	Hostname    string
	Version     string
	CertSerial  string
	Now         int64
}

// RenewCert records a collector's renewed certificate.
type RenewCert struct {
	CollectorID string
	CertSerial  string
	Now         int64
}

// SeenEntry is one collector's presence report.
type SeenEntry struct {
	CollectorID string
	Version     string
	Protocol    string
	SeenAt      int64
}

// CollectorSeen records presence of many collectors at once. Entries for
// unknown collectors are skipped: a collector may have been seen by a
// master before its enrollment was visible there.
type CollectorSeen struct {
	Now     int64
	Entries []SeenEntry
}

// AddLicense stores a vendor license. The master verifies the signature
// against its vendor keys before proposing; the FSM only parses Text (the
// armoured license, canonical or as pasted) and stores its canonical form,
// so every node derives the same pools and features from it. See
// applyAddLicense for the rules (duplicates, renewals, cluster binding,
// expiry).
type AddLicense struct {
	Text []byte
	Now  int64
}

// String describes the command without the license text.
func (c AddLicense) String() string {
	return fmt.Sprintf("AddLicense{%d bytes Now:%d}", len(c.Text), c.Now)
}

// RemoveLicense removes a stored license. Its pools lose its seats; leases
// already held stay until released or expired.
type RemoveLicense struct {
	ID  license.LicenseID
	Now int64
}

func (Bootstrap) msgType() MsgType     { return BootstrapType }
func (CreatePool) msgType() MsgType    { return CreatePoolType }
func (UpdatePool) msgType() MsgType    { return UpdatePoolType }
func (LeaseBatch) msgType() MsgType    { return LeaseBatchType }
func (CreateToken) msgType() MsgType   { return CreateTokenType }
func (RevokeToken) msgType() MsgType   { return RevokeTokenType }
func (Enroll) msgType() MsgType        { return EnrollType }
func (RenewCert) msgType() MsgType     { return RenewCertType }
func (CollectorSeen) msgType() MsgType { return CollectorSeenType }
func (AddLicense) msgType() MsgType    { return AddLicenseType }
func (RemoveLicense) msgType() MsgType { return RemoveLicenseType }
func (BorrowLease) msgType() MsgType   { return BorrowLeaseType }

func (c Bootstrap) now() int64     { return c.Now }
func (c CreatePool) now() int64    { return c.Now }
func (c UpdatePool) now() int64    { return c.Now }
func (c LeaseBatch) now() int64    { return c.Now }
func (c CreateToken) now() int64   { return c.Now }
func (c RevokeToken) now() int64   { return c.Now }
func (c Enroll) now() int64        { return c.Now }
func (c RenewCert) now() int64     { return c.Now }
func (c CollectorSeen) now() int64 { return c.Now }
func (c AddLicense) now() int64    { return c.Now }
func (c RemoveLicense) now() int64 { return c.Now }
func (c BorrowLease) now() int64   { return c.Now }

func (c BorrowLease) validate() error {
	op := LeaseOp{Kind: Acquire, Pool: c.Pool, Holder: c.Holder, CollectorID: c.CollectorID, TTLms: c.TTLms}
	if err := validateOp(&op); err != nil {
		return fmt.Errorf("%w: borrow: %w", ErrMalformed, err)
	}
	if c.Until <= c.Now || c.Until > maxUnixMs {
		return fmt.Errorf("%w: borrow: until %d is not after now %d", ErrMalformed, c.Until, c.Now)
	}
	return checkNow(c.Now)
}

func (c Bootstrap) validate() error {
	switch {
	case len(c.CACertPEM) == 0 || len(c.CACertPEM) > MaxPEMLen:
		return fmt.Errorf("%w: bootstrap: CA certificate PEM has %d bytes, want 1..%d", ErrMalformed, len(c.CACertPEM), MaxPEMLen)
	case len(c.CAKeyPEM) == 0 || len(c.CAKeyPEM) > MaxPEMLen:
		return fmt.Errorf("%w: bootstrap: CA key PEM has %d bytes, want 1..%d", ErrMalformed, len(c.CAKeyPEM), MaxPEMLen)
	case len(c.SigningKey) != ed25519.SeedSize:
		return fmt.Errorf("%w: bootstrap: signing key has %d bytes, want an ed25519 seed of %d", ErrMalformed, len(c.SigningKey), ed25519.SeedSize)
	case c.AdminTokenHash.IsZero():
		return fmt.Errorf("%w: bootstrap: admin token hash is empty", ErrMalformed)
	}
	return firstErr(checkNow(c.Now), checkID("cluster id", c.ClusterID), checkID("admin token id", c.AdminTokenID))
}

func (c CreatePool) validate() error { return validatePoolCmd(c.Pool, c.Now) }
func (c UpdatePool) validate() error { return validatePoolCmd(c.Pool, c.Now) }

func validatePoolCmd(p lease.Pool, now int64) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return checkNow(now)
}

// validate checks the envelope only. Operations are checked one by one as
// they apply, so that one bad request fails alone, not the batch.
func (c LeaseBatch) validate() error {
	if len(c.Ops) > MaxBatchOps {
		return fmt.Errorf("%w: lease batch has %d ops, at most %d allowed", ErrMalformed, len(c.Ops), MaxBatchOps)
	}
	return checkNow(c.Now)
}

// validateOp checks one operation's fields for its kind.
func validateOp(op *LeaseOp) error {
	switch op.Kind {
	case Acquire:
		if err := lease.ValidatePoolName(op.Pool); err != nil {
			return fmt.Errorf("%w: acquire: %w", ErrInvalidOp, err)
		}
		if err := lease.ValidateField("holder", op.Holder, lease.MaxHolderLen); err != nil {
			return fmt.Errorf("%w: acquire: %w", ErrInvalidOp, err)
		}
		if err := checkIDPlain("collector id", op.CollectorID); err != nil {
			return fmt.Errorf("%w: acquire: %w", ErrInvalidOp, err)
		}
		if op.TTLms <= 0 || op.TTLms > MaxLeaseTTLms {
			return fmt.Errorf("%w: acquire: ttl %d ms out of range 1..%d", ErrInvalidOp, op.TTLms, MaxLeaseTTLms)
		}
		if op.LeaseID != 0 {
			return fmt.Errorf("%w: acquire must not name a lease id", ErrInvalidOp)
		}
	case Release, Expire:
		if op.Offline {
			return fmt.Errorf("%w: %s is never offline", ErrInvalidOp, op.Kind)
		}
		if op.LeaseID == 0 {
			return fmt.Errorf("%w: %s: lease id is 0", ErrInvalidOp, op.Kind)
		}
		if op.Pool != "" || op.Holder != "" || op.TTLms != 0 {
			return fmt.Errorf("%w: %s takes only a lease id and collector id", ErrInvalidOp, op.Kind)
		}
		if op.Kind == Release {
			if err := checkIDPlain("collector id", op.CollectorID); err != nil {
				return fmt.Errorf("%w: release: %w", ErrInvalidOp, err)
			}
		} else if op.CollectorID != "" {
			return fmt.Errorf("%w: expire takes only a lease id", ErrInvalidOp)
		}
	default:
		return fmt.Errorf("%w: kind %d", ErrInvalidOp, uint8(op.Kind))
	}
	return nil
}

func (c CreateToken) validate() error {
	switch {
	case c.SecretHash.IsZero():
		return fmt.Errorf("%w: token: secret hash is empty", ErrMalformed)
	case c.Role != RoleCollector && !c.Role.UserRole():
		return fmt.Errorf("%w: token: role %q, want collector or one of %v", ErrMalformed, clip(string(c.Role)), UserRoles)
	case c.Role == RoleCollector && c.User != "":
		return fmt.Errorf("%w: token: a collector join token is nobody's", ErrMalformed)
	case c.Role != RoleCollector && c.Role != RoleAdmin && c.User == "":
		return fmt.Errorf("%w: token: a %s token must be bound to a user", ErrMalformed, c.Role)
	case c.ExpiresAt < 0 || c.ExpiresAt > maxUnixMs:
		return fmt.Errorf("%w: token: expires_at %d out of range", ErrMalformed, c.ExpiresAt)
	case c.MaxUses < 0 || c.MaxUses > maxUses:
		return fmt.Errorf("%w: token: max uses %d out of range 0..%d", ErrMalformed, c.MaxUses, maxUses)
	}
	if c.User != "" {
		if err := CheckUserName(c.User); err != nil {
			return fmt.Errorf("%w: token: %w", ErrMalformed, err)
		}
	}
	return firstErr(checkNow(c.Now), checkID("token id", c.ID))
}

func (c RevokeToken) validate() error {
	return firstErr(checkNow(c.Now), checkID("token id", c.ID))
}

func (c Enroll) validate() error {
	return firstErr(checkNow(c.Now),
		checkID("token id", c.TokenID),
		checkID("collector id", c.CollectorID),
		checkOptText("hostname", c.Hostname, MaxHostnameLen),
		checkOptText("version", c.Version, maxVersionLen),
		checkText("cert serial", c.CertSerial, maxSerialLen))
}

func (c RenewCert) validate() error {
	return firstErr(checkNow(c.Now),
		checkID("collector id", c.CollectorID),
		checkText("cert serial", c.CertSerial, maxSerialLen))
}

func (c CollectorSeen) validate() error {
	if len(c.Entries) > MaxSeenEntries {
		return fmt.Errorf("%w: collector seen has %d entries, at most %d allowed", ErrMalformed, len(c.Entries), MaxSeenEntries)
	}
	if err := checkNow(c.Now); err != nil {
		return err
	}
	for i, e := range c.Entries {
		err := firstErr(checkID("collector id", e.CollectorID),
			checkOptText("version", e.Version, maxVersionLen),
			checkOptText("protocol", e.Protocol, maxVersionLen))
		if err == nil && (e.SeenAt <= 0 || e.SeenAt > maxUnixMs) {
			err = fmt.Errorf("%w: seen_at %d out of range", ErrMalformed, e.SeenAt)
		}
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
	}
	return nil
}

// validate parses the license, so that text no node could use is refused
// before it reaches the log, and Apply refuses it as malformed.
func (c AddLicense) validate() error {
	if err := checkNow(c.Now); err != nil {
		return err
	}
	if _, err := parseLicense(c.Text); err != nil {
		return fmt.Errorf("%w: add license: %w", ErrMalformed, err)
	}
	return nil
}

func (c RemoveLicense) validate() error {
	return firstErr(checkNow(c.Now), checkID("license id", string(c.ID)))
}
