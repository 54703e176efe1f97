package upstream

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/usage"
)

// BatchFormat is the payload format version of batches this build writes
// and reads.
const BatchFormat = 1

// Bounds on one batch.
const (
	// MaxBatchBytes bounds a batch's payload.
	MaxBatchBytes = 8 << 20
	// MaxBatchRecords bounds the months, days, credit and seat records of
	// one batch together; a cluster with more changed periods sends more
	// batches.
	MaxBatchRecords = 4000
	maxZoneLen      = 64
	maxNameLen      = 128
)

// Batch is usage a cluster owes its hub: the latest state of every period
// that changed since the batch before it. Seq numbers a cluster's batches
// from 1 without gaps, and Prev is the Hash of batch Seq-1 (empty for the
// first), so batches form one chain per cluster whichever way each one
// travels.
type Batch struct {
	Format    int               `json:"format"`
	ClusterID license.ClusterID `json:"cluster_id"`
	Seq       uint64            `json:"seq"`
	Prev      string            `json:"prev,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	// Zone is the IANA zone the site cuts months and days in.
	Zone    string   `json:"zone"`
	Months  []Month  `json:"months,omitempty"`
	Days    []Day    `json:"days,omitempty"`
	Credits []Credit `json:"credits,omitempty"`
	Seats   []Seats  `json:"seats,omitempty"`
}

// Month is one installation's month as the site holds it. A closed month
// never changes again (promise P3): its metrics are final, and data that
// came after it closed is in Late, beside them.
type Month struct {
	Installation usage.InstallationID `json:"installation"`
	Month        usage.MonthKey       `json:"month"`
	Closed       bool                 `json:"closed,omitempty"`
	ClosedAt     time.Time            `json:"closed_at,omitzero"`
	Metrics      usage.Metrics        `json:"metrics"`
	Late         *usage.LateArrivals  `json:"late,omitempty"`
}

// Day is one installation's aggregate of one day.
type Day struct {
	Installation usage.InstallationID `json:"installation"`
	usage.DayStats
}

// Credit is one "on usage" license's credits: how many were bought and
// how many the site has consumed so far.
type Credit struct {
	License  license.LicenseID `json:"license"`
	Unit     string            `json:"unit"`
	Bought   int64             `json:"bought"`
	Consumed int64             `json:"consumed"`
}

// Seats is one pool's seat use: its size, the leases held when the batch
// was made, the most ever held at once, and the grants past its size a
// soft pool has recorded.
type Seats struct {
	Pool          string    `json:"pool"`
	Seats         int64     `json:"seats"`
	Held          int64     `json:"held"`
	Peak          int64     `json:"peak"`
	OverageGrants uint64    `json:"overage_grants,omitempty"`
	LastOverageAt time.Time `json:"last_overage_at,omitzero"`
}

// Records is how many records the batch carries.
func (b *Batch) Records() int { return len(b.Months) + len(b.Days) + len(b.Credits) + len(b.Seats) }

// Validate checks b's form: everything the hub relies on before storing
// it.
func (b *Batch) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: batch %d: %s", ErrMalformed, b.Seq, fmt.Sprintf(format, args...))
	}
	switch {
	case b.Format != BatchFormat:
		return bad("format %d, this build reads %d", b.Format, BatchFormat)
	case b.ClusterID.Validate() != nil:
		return bad("%v", b.ClusterID.Validate())
	case b.Seq == 0:
		return bad("seq must start at 1")
	case b.Seq == 1 && b.Prev != "":
		return bad("the first batch has no previous hash")
	case b.Seq > 1 && !validHash(b.Prev):
		return bad("prev %q is not a hex SHA-256", clip(b.Prev))
	case b.CreatedAt.IsZero() || b.CreatedAt.Unix() < 0:
		return bad("created_at is missing")
	case b.Zone == "" || len(b.Zone) > maxZoneLen:
		return bad("zone %q is not a zone name", clip(b.Zone))
	case b.Records() > MaxBatchRecords:
		return bad("%d records, at most %d", b.Records(), MaxBatchRecords)
	}
	for i, m := range b.Months {
		if err := m.validate(); err != nil {
			return bad("month %d: %v", i, err)
		}
	}
	for i, d := range b.Days {
		if err := d.validate(); err != nil {
			return bad("day %d: %v", i, err)
		}
	}
	for i, c := range b.Credits {
		if err := firstErr(checkName("license", string(c.License)), checkName("unit", c.Unit)); err != nil {
			return bad("credit %d: %v", i, err)
		}
		if c.Bought < 0 || c.Consumed < 0 {
			return bad("credit %d: negative amount", i)
		}
	}
	for i, s := range b.Seats {
		if err := checkName("pool", s.Pool); err != nil {
			return bad("seats %d: %v", i, err)
		}
		if s.Seats < 0 || s.Held < 0 || s.Peak < 0 {
			return bad("seats %d: negative count", i)
		}
	}
	return nil
}

func (m Month) validate() error {
	if err := m.Installation.Validate(); err != nil {
		return err
	}
	if !m.Month.Valid() {
		return fmt.Errorf("month %v is not valid", m.Month)
	}
	if m.Closed != !m.ClosedAt.IsZero() {
		return fmt.Errorf("%s: closed and closed_at disagree", m.Month)
	}
	if m.Late != nil && !m.Closed {
		return fmt.Errorf("%s: late arrivals on an open month", m.Month)
	}
	if !nonNegative(m.Metrics) {
		return fmt.Errorf("%s: a negative metric", m.Month)
	}
	return nil
}

func nonNegative(m usage.Metrics) bool {
	for _, v := range []int64{m.Super, m.EnStaff, m.AcStaff, m.EnMgrs, m.AcMgrs, m.EnReps, m.AcReps,
		m.ConcMax, m.LogonMinutes, m.FileLimitMB, m.CommItems, m.ProcessFields,
		m.UserCountLatest, m.UserCountMax, m.CaseCountLatest, m.CaseCountMax} {
		if v < 0 {
			return false
		}
	}
	return true
}

func (d Day) validate() error {
	if err := d.Installation.Validate(); err != nil {
		return err
	}
	switch {
	case !d.Day.Valid():
		return fmt.Errorf("day %v is not valid", d.Day)
	case d.Samples == 0:
		return fmt.Errorf("%s: no samples", d.Day)
	case len(d.Scalars) > usage.MaxDayScalars:
		return fmt.Errorf("%s: %d scalars, at most %d", d.Day, len(d.Scalars), usage.MaxDayScalars)
	}
	for i, s := range d.Scalars {
		if err := usage.CheckScalarName(s.Name); err != nil {
			return err
		}
		if i > 0 && d.Scalars[i-1].Name >= s.Name {
			return fmt.Errorf("%s: scalars not sorted or repeated at %q", d.Day, s.Name)
		}
		if s.Min > s.Last || s.Last > s.Max {
			return fmt.Errorf("%s: scalar %q: last %d outside [%d, %d]", d.Day, s.Name, s.Last, s.Min, s.Max)
		}
	}
	return nil
}

// SealBatch validates b, encodes it and signs it with the cluster key.
func SealBatch(b *Batch, key ed25519.PrivateKey) (Signed, error) {
	if len(key) != ed25519.PrivateKeySize {
		return Signed{}, fmt.Errorf("%w: cluster key has %d bytes, want %d", ErrBadSignature, len(key), ed25519.PrivateKeySize)
	}
	if err := b.Validate(); err != nil {
		return Signed{}, err
	}
	payload, err := json.Marshal(b)
	if err != nil {
		return Signed{}, fmt.Errorf("%w: encoding batch %d: %v", ErrMalformed, b.Seq, err)
	}
	if len(payload) > MaxBatchBytes {
		return Signed{}, fmt.Errorf("%w: batch %d has %d bytes, at most %d", ErrTooLarge, b.Seq, len(payload), MaxBatchBytes)
	}
	return sign(batchContext, key, "", payload), nil
}

// OpenBatch verifies a signed batch with the public key of the cluster it
// must come from and returns it. A batch from another cluster, or signed
// by another key, or changed by one byte, is refused.
func OpenBatch(s Signed, cluster license.ClusterID, pub ed25519.PublicKey) (*Batch, error) {
	if s.KeyID != "" {
		return nil, fmt.Errorf("%w: a batch is signed by its cluster, not by key %q", ErrMalformed, clip(s.KeyID))
	}
	if err := s.verify(batchContext, pub); err != nil {
		return nil, fmt.Errorf("batch of cluster %s: %w", cluster, err)
	}
	var b Batch
	if err := decodeStrict(s.Payload, MaxBatchBytes, &b, "batch"); err != nil {
		return nil, err
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	if b.ClusterID != cluster {
		return nil, fmt.Errorf("%w: batch %d is from cluster %s, not %s", ErrWrongCluster, b.Seq, b.ClusterID, cluster)
	}
	return &b, nil
}

// Peek decodes a signed batch without verifying it, to learn which
// cluster it claims to come from (so the key to verify it with can be
// looked up). Nothing in the result may be trusted before OpenBatch.
func Peek(s Signed) (license.ClusterID, uint64, error) {
	var head struct {
		ClusterID license.ClusterID `json:"cluster_id"`
		Seq       uint64            `json:"seq"`
	}
	if len(s.Payload) > MaxBatchBytes {
		return "", 0, fmt.Errorf("%w: batch has %d bytes, at most %d", ErrTooLarge, len(s.Payload), MaxBatchBytes)
	}
	if err := json.Unmarshal(s.Payload, &head); err != nil {
		return "", 0, fmt.Errorf("%w: batch: %v", ErrMalformed, err)
	}
	if err := head.ClusterID.Validate(); err != nil {
		return "", 0, fmt.Errorf("%w: batch: %v", ErrMalformed, err)
	}
	return head.ClusterID, head.Seq, nil
}

// Link says whether next follows a chain whose last batch is (seq, hash):
// nil if it is the next one, ErrBrokenChain if it skips or does not chain.
// The caller handles next.Seq <= seq (a batch already held) itself.
func Link(seq uint64, hash string, next *Batch) error {
	switch {
	case next.Seq > seq+1:
		return fmt.Errorf("%w: batch %d arrived but the hub holds batches up to %d: batches %d to %d are missing",
			ErrBrokenChain, next.Seq, seq, seq+1, next.Seq-1)
	case next.Prev != hash:
		return fmt.Errorf("%w: batch %d does not follow batch %d (its previous hash %s is not %s)",
			ErrBrokenChain, next.Seq, seq, short(next.Prev), short(hash))
	}
	return nil
}

func validHash(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

func short(h string) string {
	if h == "" {
		return "(none)"
	}
	return clip(h)[:min(len(h), 12)]
}

func checkName(field, s string) error {
	if s == "" || len(s) > maxNameLen {
		return fmt.Errorf("%s %q is not 1-%d bytes", field, clip(s), maxNameLen)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s %q holds a control character", field, clip(s))
		}
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
