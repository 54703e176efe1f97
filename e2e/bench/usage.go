package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"connectrpc.com/connect"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// Limits the masters put on one report (node/fsm's MaxUsageRecords and
// MaxUsageUsers), repeated here because e2e sees the masters only from
// outside.
const (
	maxUsageRecords = 10_000
	maxUsageUsers   = 50_000
)

// UsageConfig configures the usage measurements: U1 (samples ingested
// through ReportUsage, one per call and batched) and U2 (a collectord
// process metering a SQL source).
type UsageConfig struct {
	// Samples is how many usage samples each U1 mode ingests.
	Samples int
	// BatchRecords is the records per call of U1's batched modes; 500 is
	// a collector's default batch_max_records.
	BatchRecords int
	// Users is the number of user rows in each U1 sample.
	Users int
	// Interval is how often U2's SQL source samples.
	Interval time.Duration
	// Window is how long U2 watches the collector, after its first sample
	// was acknowledged and start-up garbage had time to go.
	Window time.Duration
	// DBUsers, DBCases and DBLogons size U2's ProcessMaker-like database,
	// made by `demoproduct create`: USERS rows, APPLICATION rows (cases)
	// and LOGIN_LOG rows spread over the last 30 days.
	DBUsers, DBCases, DBLogons int
}

// DefaultUsageConfig returns the settings `make bench` uses.
func DefaultUsageConfig() UsageConfig {
	return UsageConfig{
		Samples:      4000,
		BatchRecords: 500,
		Users:        10,
		Interval:     10 * time.Second,
		Window:       60 * time.Second,
		DBUsers:      500,
		DBCases:      20_000,
		DBLogons:     15_000,
	}
}

// Validate reports the first field that is out of range.
func (c UsageConfig) Validate() error {
	switch {
	case c.Samples < 1:
		return fmt.Errorf("%w: usage samples %d must be at least 1", ErrInvalidConfig, c.Samples)
	case c.BatchRecords < 1 || c.BatchRecords > maxUsageRecords:
		return fmt.Errorf("%w: usage batch records %d must be 1 to %d", ErrInvalidConfig, c.BatchRecords, maxUsageRecords)
	case c.Users < 0 || c.Users > maxUsageUsers:
		return fmt.Errorf("%w: usage users per sample %d must be 0 to %d", ErrInvalidConfig, c.Users, maxUsageUsers)
	case c.Interval < time.Second:
		return fmt.Errorf("%w: usage source interval %v must be at least 1s", ErrInvalidConfig, c.Interval)
	case c.Window < c.Interval:
		return fmt.Errorf("%w: usage window %v must cover at least one source interval %v", ErrInvalidConfig, c.Window, c.Interval)
	case c.DBUsers < 1 || c.DBCases < 0 || c.DBLogons < 0:
		return fmt.Errorf("%w: usage database of %d users, %d cases, %d logons: need a user and no negative counts",
			ErrInvalidConfig, c.DBUsers, c.DBCases, c.DBLogons)
	}
	return nil
}

// usageRoles are the roles a sample's users cycle through.
var usageRoles = [...]string{"super", "staff", "staff", "manager", "rep"}

// usageSender is one collector's spool as U1 drives it: its installation,
// spool epoch and the last sequence reported. It is not safe for
// concurrent use; each sender has one goroutine.
type usageSender struct {
	client licmeshv1connect.CollectorServiceClient
	inst   string
	epoch  uint64
	seq    uint64
	// scalars and users are shared by every sample: the masters only read
	// them, and a real installation's users change little between samples.
	scalars map[string]int64
	users   []*licmeshv1.UsageUser
}

// newUsageSender makes the sender of installation inst with a sample of
// users user rows, whose IDs look like the collector's pseudonyms (128
// bits of a keyed hash, in hex).
func newUsageSender(client licmeshv1connect.CollectorServiceClient, inst string, users int) *usageSender {
	s := &usageSender{
		client: client, inst: inst, epoch: uint64(time.Now().UnixNano()),
		scalars: map[string]int64{"users": int64(users), "cases": 20_000, "file_limit_mb": 2048, "process_fields": 120},
	}
	for i := range users {
		sum := sha256.Sum256(fmt.Appendf(nil, "%s/user-%d", inst, i))
		s.users = append(s.users, &licmeshv1.UsageUser{
			UserId: hex.EncodeToString(sum[:16]), Role: usageRoles[i%len(usageRoles)], Enabled: i%7 != 6,
		})
	}
	return s
}

// report sends the next n samples in one call and fails unless the masters
// acknowledged every one of them: a refused or short-acknowledged report
// must end the measurement, not count.
func (s *usageSender) report(ctx context.Context, n int, timeout time.Duration) error {
	at := time.Now().UnixMilli()
	first := s.seq + 1
	recs := make([]*licmeshv1.UsageRecord, n)
	for i := range recs {
		s.seq++
		recs[i] = &licmeshv1.UsageRecord{Seq: s.seq, Sample: &licmeshv1.UsageSample{
			Source: "processmaker", AtMs: at, Scalars: s.scalars, Users: s.users,
		}}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := s.client.ReportUsage(ctx, connect.NewRequest(&licmeshv1.ReportUsageRequest{
		Installation: s.inst, SpoolEpoch: s.epoch, Records: recs,
	}))
	if err != nil {
		return fmt.Errorf("%w: %s: report of seqs %d..%d: %w", ErrMesh, s.inst, first, s.seq, err)
	}
	if r.Msg.SpoolEpoch != s.epoch || r.Msg.AckedSeq < s.seq {
		return fmt.Errorf("%w: %s: reported seqs %d..%d of epoch %d, acknowledged %d of epoch %d",
			ErrNotAcked, s.inst, first, s.seq, s.epoch, r.Msg.AckedSeq, r.Msg.SpoolEpoch)
	}
	return nil
}

// UsageOverview asks master i how far each collector's usage is committed.
func (m *MeshCluster) UsageOverview(ctx context.Context, i int) (*licmeshv1.UsageOverviewResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.CallTimeout)
	defer cancel()
	r, err := m.admin[i].UsageOverview(ctx, connect.NewRequest(&licmeshv1.UsageOverviewRequest{}))
	if err != nil {
		return nil, fmt.Errorf("%w: usage overview of %s: %w", ErrMesh, m.c.Masters[i].ID, err)
	}
	return r.Msg, nil
}

// UsageDays asks master i for one installation's daily usage aggregates.
func (m *MeshCluster) UsageDays(ctx context.Context, i int, inst string) ([]*licmeshv1.UsageDay, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.CallTimeout)
	defer cancel()
	r, err := m.admin[i].UsageDays(ctx, connect.NewRequest(&licmeshv1.UsageDaysRequest{Installation: inst}))
	if err != nil {
		return nil, fmt.Errorf("%w: usage days of %s on %s: %w", ErrMesh, inst, m.c.Masters[i].ID, err)
	}
	return r.Msg.Days, nil
}
