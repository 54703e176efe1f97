package master

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/licmesh/licmesh/mesh/pki"
	"github.com/licmesh/licmesh/mesh/pki/pkitest"
	"github.com/licmesh/licmesh/mesh/transport"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/fsm"
)

// collectorClient talks to s's collector port over TLS/TCP as collector
// id, with a client certificate of the cluster CA; id "" sends none.
func collectorClient(t *testing.T, s *Server, id string) licmeshv1connect.CollectorServiceClient {
	t.Helper()
	return collectorClientOver(t, s, id, transport.ModeTCPOnly)
}

// collectorClientOver is collectorClient over HTTP/3 or HTTP/2 as mode
// says.
func collectorClientOver(t *testing.T, s *Server, id string, mode transport.Mode) licmeshv1connect.CollectorServiceClient {
	t.Helper()
	conf := pki.ClientTLS(s.id.ca.Pool(), nil, "")
	if id != "" {
		cert := pkitest.CollectorCert(t, s.id.ca, id)
		conf = pki.ClientTLS(s.id.ca.Pool(), &cert, "")
	}
	tr := transport.NewClient(transport.ClientConfig{TLS: conf, Mode: mode,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { tr.Close() })
	return licmeshv1connect.NewCollectorServiceClient(tr.HTTPClient(), "https://"+s.CollectorAddr())
}

// usageRecord is a record whose "seq" scalar is its seq, as the end-to-end
// check sums them, with one user and one logon.
func usageRecord(seq uint64, at time.Time) *licmeshv1.UsageRecord {
	user := fmt.Sprintf("u%d", seq)
	return &licmeshv1.UsageRecord{Seq: seq, Sample: &licmeshv1.UsageSample{
		Source: "pm", AtMs: at.UnixMilli(),
		Scalars: map[string]int64{"seq": int64(seq), usage.ScalarUsers: 12},
		Users:   []*licmeshv1.UsageUser{{UserId: user, Role: "staff", Enabled: true}},
		Logons:  []*licmeshv1.UsageLogon{{UserId: user, Role: "staff", StartMs: at.Add(-time.Hour).UnixMilli(), EndMs: at.UnixMilli()}},
	}}
}

func report(t *testing.T, c licmeshv1connect.CollectorServiceClient, epoch uint64, recs ...*licmeshv1.UsageRecord) (*licmeshv1.ReportUsageResponse, error) {
	t.Helper()
	resp, err := c.ReportUsage(context.Background(), connect.NewRequest(&licmeshv1.ReportUsageRequest{
		Installation: "acme", SpoolEpoch: epoch, Records: recs}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

func mustAck(t *testing.T, c licmeshv1connect.CollectorServiceClient, epoch, wantEpoch, wantSeq uint64, recs ...*licmeshv1.UsageRecord) {
	t.Helper()
	r, err := report(t, c, epoch, recs...)
	require.NoError(t, err, "ReportUsage")
	require.Equal(t, wantEpoch, r.SpoolEpoch, "acked epoch")
	require.Equal(t, wantSeq, r.AckedSeq, "acked seq")
}

// committed is what s's state holds of installation acme: the sum of the
// "seq" scalar and the number of samples.
func committed(t *testing.T, s *Server) (sum int64, samples uint64) {
	t.Helper()
	days, ok := s.fsm.UsageDays("acme", usage.MonthKey{})
	if !ok {
		return 0, 0
	}
	for _, d := range days {
		samples += d.Samples
		for _, sc := range d.Scalars {
			if sc.Name == "seq" {
				sum += sc.Sum
			}
		}
	}
	return sum, samples
}

func wantCode(t *testing.T, what string, err error, code connect.Code, detail string) {
	t.Helper()
	require.Equal(t, code, connect.CodeOf(err), "%s: error %v", what, err)
	require.ErrorContains(t, err, detail, what)
}

// A report is acknowledged once committed, duplicates and replays count
// once, a stale spool changes nothing, and bad input is refused whole with
// an error that names it.
func TestReportUsage(t *testing.T) {
	s, clk := startMaster(t, func(c *Config) { c.TimeZone = "Europe/Paris" })
	require.Equal(t, "Europe/Paris", s.fsm.SiteZone(), "the leader left the site zone")
	col := enrolled(t, s, "designer", 1)
	c := collectorClient(t, s, col)
	now := clk.Now()
	at := func(i int) time.Time { return now.Add(time.Duration(i-10) * time.Minute) }

	mustAck(t, c, 1, 1, 3, usageRecord(1, at(1)), usageRecord(2, at(2)), usageRecord(3, at(3)))
	// The acknowledgement came after the commit: the state has it all.
	e, sq := s.fsm.UsageHighWater(col)
	require.Equal(t, [2]uint64{1, 3}, [2]uint64{e, sq}, "state high-water epoch/seq after the ack")
	sum, n := committed(t, s)
	require.Equal(t, int64(6), sum, "committed seq sum over %d samples", n)
	require.Equal(t, uint64(3), n, "committed samples")
	// The same report again, then one overlapping it: only 4 and 5 are new.
	mustAck(t, c, 1, 1, 3, usageRecord(1, at(1)), usageRecord(2, at(2)), usageRecord(3, at(3)))
	mustAck(t, c, 1, 1, 5, usageRecord(2, at(2)), usageRecord(3, at(3)), usageRecord(4, at(4)), usageRecord(5, at(5)))
	// A retry from an older spool is stale: the answer says where the
	// current one stands.
	mustAck(t, c, 0, 1, 5, usageRecord(9, at(9)))
	sum, n = committed(t, s)
	require.Equal(t, int64(15), sum, "committed seq sum over %d samples", n)
	require.Equal(t, uint64(5), n, "committed samples")
	// Asking how far the spool stands writes nothing to Raft.
	before := lastIndex(s)
	mustAck(t, c, 1, 1, 5)
	require.Equal(t, before, lastIndex(s), "an empty report was committed")

	bad := usageRecord(6, at(6))
	bad.Sample.Users[0].Role = "admin"
	_, err := report(t, c, 1, usageRecord(7, at(7)), bad)
	wantCode(t, "unknown role", err, connect.CodeInvalidArgument, `seq 6): user 0: usage: invalid role: got "admin"`)
	_, err = report(t, c, 1, usageRecord(6, now.Add(48*time.Hour)))
	wantCode(t, "future sample", err, connect.CodeInvalidArgument, "more than a day after")
	_, err = report(t, c, 1, usageRecord(6, at(6)), usageRecord(6, at(6)))
	wantCode(t, "repeated seq", err, connect.CodeInvalidArgument, "does not follow")
	many := make([]*licmeshv1.UsageRecord, fsm.MaxUsageRecords+1)
	for i := range many {
		many[i] = &licmeshv1.UsageRecord{Seq: uint64(100 + i), Sample: &licmeshv1.UsageSample{AtMs: at(6).UnixMilli()}}
	}
	_, err = report(t, c, 1, many...)
	wantCode(t, "too many records", err, connect.CodeInvalidArgument, fmt.Sprintf("%d usage records", fsm.MaxUsageRecords+1))
	_, err = c.ReportUsage(context.Background(), connect.NewRequest(&licmeshv1.ReportUsageRequest{SpoolEpoch: 1}))
	wantCode(t, "no installation", err, connect.CodeInvalidArgument, "installation id is empty")
	_, err = report(t, collectorClient(t, s, ""), 1, usageRecord(6, at(6)))
	wantCode(t, "no certificate", err, connect.CodeUnauthenticated, "no collector certificate")
	sum, n = committed(t, s)
	require.Equal(t, int64(15), sum, "refused reports changed the state: seq sum over %d samples", n)
	require.Equal(t, uint64(5), n, "refused reports changed the state: samples")

	// The admin views.
	ctx, a := context.Background(), adminHandler{s}
	ov, err := a.UsageOverview(ctx, connect.NewRequest(&licmeshv1.UsageOverviewRequest{}))
	require.NoError(t, err)
	m := ov.Msg
	require.Equal(t, "Europe/Paris", m.TimeZone, "overview %+v", m)
	require.Equal(t, []string{"2026-11"}, m.Months, "overview %+v", m)
	require.Len(t, m.Installations, 1, "overview %+v", m)
	require.Equal(t, col, m.Installations[0].CollectorId, "overview %+v", m)
	require.Equal(t, uint64(5), m.Installations[0].AckedSeq, "overview %+v", m)
	require.Equal(t, uint64(5), m.Installations[0].Samples, "overview %+v", m)
	hist, err := a.UsageHistory(ctx, connect.NewRequest(&licmeshv1.UsageHistoryRequest{Installation: "acme"}))
	require.NoError(t, err)
	r := hist.Msg.Reports
	require.Len(t, r, 1, "history %+v", hist.Msg)
	require.Equal(t, "2026-11", r[0].Month, "history %+v", hist.Msg)
	require.Equal(t, int64(5), r[0].Metrics.EnStaff, "history %+v", hist.Msg)
	require.Equal(t, int64(12), r[0].Metrics.UserCountLatest, "history %+v", hist.Msg)
	_, err = a.UsageHistory(ctx, connect.NewRequest(&licmeshv1.UsageHistoryRequest{Installation: "elsewhere"}))
	wantCode(t, "unknown installation", err, connect.CodeNotFound, `"elsewhere"`)
	_, err = a.UsageMonth(ctx, connect.NewRequest(&licmeshv1.UsageMonthRequest{Month: "2026-13"}))
	wantCode(t, "bad month", err, connect.CodeInvalidArgument, `"2026-13"`)
	month, err := a.UsageMonth(ctx, connect.NewRequest(&licmeshv1.UsageMonthRequest{Month: "2026-11"}))
	require.NoError(t, err, "month")
	require.Len(t, month.Msg.Reports, 1, "month: %+v", month.Msg)
	require.Equal(t, "acme", month.Msg.Reports[0].Installation, "month: %+v", month.Msg)
	days, err := a.UsageDays(ctx, connect.NewRequest(&licmeshv1.UsageDaysRequest{Installation: "acme", Month: "2026-11"}))
	require.NoError(t, err)
	d := days.Msg.Days
	require.Len(t, d, 1, "days %+v", days.Msg)
	require.Equal(t, "2026-11-01", d[0].Day, "days %+v", days.Msg)
	require.Equal(t, uint64(5), d[0].Samples, "days %+v", days.Msg)
	require.Equal(t, "seq", d[0].Scalars[0].Name, "days %+v", days.Msg)
	require.Equal(t, int64(15), d[0].Scalars[0].Sum, "days %+v", days.Msg)
	_, err = a.UsageDays(ctx, connect.NewRequest(&licmeshv1.UsageDaysRequest{Installation: "acme", Month: "11/2026"}))
	wantCode(t, "bad days month", err, connect.CodeInvalidArgument, `"11/2026"`)
	_, err = a.UsageDays(ctx, connect.NewRequest(&licmeshv1.UsageDaysRequest{Installation: "elsewhere"}))
	wantCode(t, "unknown installation's days", err, connect.CodeNotFound, `"elsewhere"`)
}

// A follower forwards a report to the leader and acknowledges it once its
// own state has it; the collector failing over to the leader with the same
// records changes nothing.
func TestReportUsageThroughFollower(t *testing.T) {
	m1, clk := startMaster(t)
	cfg := testConfig(t, clk)
	cfg.NodeID, cfg.ClusterSecret = "m2", m1.cfg.ClusterSecret
	cfg.BootstrapExpect, cfg.Join = 0, []string{m1.node.GossipAddr()}
	m2 := runMaster(t, cfg)
	col := enrolled(t, m1, "designer", 1)
	require.Eventually(t, func() bool {
		_, ok := m2.fsm.Collector(col)
		return ok && m2.Ready() && m2.node.LeaderMeta()[metaAPI] != "" && m2.caughtUp()
	}, 20*time.Second, poll, "the follower")
	require.False(t, m2.node.IsLeader(), "the joining master leads")
	now := clk.Now()
	recs := []*licmeshv1.UsageRecord{usageRecord(1, now), usageRecord(2, now), usageRecord(3, now), usageRecord(4, now)}
	mustAck(t, collectorClient(t, m2, col), 7, 7, 4, recs...)
	for _, s := range []*Server{m2, m1} {
		e, sq := s.fsm.UsageHighWater(col)
		require.Equal(t, [2]uint64{7, 4}, [2]uint64{e, sq}, "%s: high-water epoch/seq", s.cfg.NodeID)
	}
	mustAck(t, collectorClient(t, m1, col), 7, 7, 4, recs...)
	require.Eventually(t, func() bool { return m2.fsm.AppliedIndex() == m1.fsm.AppliedIndex() }, 5*time.Second, poll, "the follower to apply")
	for _, s := range []*Server{m1, m2} {
		sum, n := committed(t, s)
		require.Equal(t, int64(10), sum, "%s: seq sum over %d samples", s.cfg.NodeID, n)
		require.Equal(t, uint64(4), n, "%s: samples", s.cfg.NodeID)
	}
	require.True(t, m1.node.IsLeader(), "leadership moved during the test")
}

func TestSiteZoneConfig(t *testing.T) {
	c := validConfig(t)
	require.Equal(t, "UTC", c.TimeZone, "default time_zone")
	for _, bad := range []string{"", "Local", "Europe/Atlantis"} {
		c.TimeZone = bad
		assert.ErrorContains(t, c.Validate(), "time_zone", "time_zone %q", bad)
	}
	// A leader whose zone differs from the one usage is recorded in keeps
	// the recorded zone.
	s, _ := startMaster(t)
	col := enrolled(t, s, "designer", 1)
	mustAck(t, collectorClient(t, s, col), 1, 1, 1, usageRecord(1, s.now()))
	s.cfg.TimeZone = "Asia/Tokyo"
	s.syncSiteZone(context.Background())
	require.Equal(t, "UTC", s.fsm.SiteZone(), "zone moved under recorded usage")
	_, err := s.apply(context.Background(), fsm.SetSiteZoneType, fsm.SetSiteZone{Zone: "Asia/Tokyo", Now: s.now().UnixMilli()})
	require.ErrorIs(t, err, fsm.ErrZoneLocked, "a zone change under recorded usage")
	require.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(toConnect(err)), "a zone change under recorded usage: %v", err)
}
