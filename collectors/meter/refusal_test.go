package meter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/collectors/agent"
	"github.com/licmesh/licmesh/collectors/sources"
	"github.com/licmesh/licmesh/collectors/spool"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// errFuture is the masters' reason for a record from the future.
var errFuture = errors.New("sample time 2026-03-17T12:00:00Z is more than a day after the master's time 2026-03-15T12:00:00Z")

// refuseSeqs refuses the records with those seqs, as the masters refuse an
// invalid record.
func refuseSeqs(bad ...uint64) func(*licmeshv1.UsageRecord) error {
	return func(r *licmeshv1.UsageRecord) error {
		if slices.Contains(bad, r.GetSeq()) {
			return errFuture
		}
		return nil
	}
}

// openWith opens a meter reporting to rep.
func (e *env) openWith(rep Reporter) *Meter {
	e.t.Helper()
	m, err := Open(e.cfg, nil, rep, e.options())
	require.NoError(e.t, err, "Open")
	return m
}

// spoolN stores n samples of users users each, before the meter runs, so
// that they go in one batch.
func spoolN(t *testing.T, m *Meter, n, users int) {
	t.Helper()
	for i := range n {
		m.record(t.Context(), sampleN(i, users))
	}
	require.Equal(t, uint64(n), spoolStats(m).LastSeq, "spooled records")
}

// TestRefusedRecordsSkipped: a batch the masters refuse as invalid is split
// until each record they refuse on its own is found; those are skipped
// (acknowledged here, never sent again), counted and logged with their seq
// and the masters' reason, and every other record is committed once. None
// of it waits for a backoff: the fake clock never moves.
func TestRefusedRecordsSkipped(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		bad   []uint64
		calls int // reports, when the test pins them
	}{
		// 1..10 X, 1..5 X, 1..2 X, 1 ok, 2 X (skipped), then whole again: 3..10.
		{name: "one", n: 10, bad: []uint64{2}, calls: 6},
		{name: "several", n: 10, bad: []uint64{3, 4, 9}},
		{name: "last", n: 7, bad: []uint64{7}},
		{name: "all", n: 4, bad: []uint64{1, 2, 3, 4}},
		{name: "alone", n: 1, bad: []uint64{1}, calls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			m := e.open()
			spoolN(t, m, tc.n, 3)
			e.master.set(func(f *fakeMaster) { f.refuse = refuseSeqs(tc.bad...) })
			e.run(m)
			// The counters move after the spool's mark: once they add up,
			// both are there.
			require.Eventually(t, func() bool {
				st := m.Stats()
				return st.RecordsAcked+st.RejectedRecords == uint64(tc.n)
			}, 10*time.Second, poll, "the spool drained")

			want := []uint64{} // empty, not nil, like what seqs returns
			for s := uint64(1); s <= uint64(tc.n); s++ {
				if !slices.Contains(tc.bad, s) {
					want = append(want, s)
				}
			}
			epoch := m.Stats().Epoch
			assert.Equal(t, want, seqs(e.master.committed(epoch)), "committed")
			e.master.checkOnce(t)
			st := m.Stats()
			assert.Equal(t, uint64(len(tc.bad)), st.RejectedRecords, "Stats = %+v", st)
			assert.Equal(t, uint64(len(want)), st.RecordsAcked, "Stats = %+v", st)
			assert.Zero(t, st.FailuresInRow, "Stats = %+v", st)
			assert.Empty(t, st.LastError, "Stats = %+v", st)
			assert.Zero(t, st.Spool.Records, "Stats = %+v", st)
			if tc.calls != 0 {
				assert.Equal(t, tc.calls, e.master.callCount(), "reports")
			}
			logs := e.logs.String()
			for _, s := range tc.bad {
				line := logLine(logs, "usage record; it is skipped", fmt.Sprintf("seq=%d ", s))
				assert.Contains(t, line, "more than a day after", "no warning naming seq %d and the reason:\n%s", s, logs)
				assert.Contains(t, line, "level=WARN", "no warning naming seq %d and the reason:\n%s", s, logs)
			}
			// The records' content (pseudonyms) is never logged.
			assert.NotContains(t, logs, string(sources.Pseudonym(testKey, "user-1")), "a record's content reached the log")

			// Later records go in whole batches, and a skipped one never
			// goes again.
			calls := e.master.callCount()
			e.master.set(func(f *fakeMaster) { f.refuse = func(r *licmeshv1.UsageRecord) error { return nil } })
			m.record(t.Context(), sampleN(tc.n, 3))
			require.Eventually(t, func() bool { return spoolStats(m).AckedSeq == uint64(tc.n+1) }, 10*time.Second, poll, "the next sample")
			assert.Equal(t, 1, e.master.callCount()-calls, "reports for one new sample")
			for _, s := range tc.bad {
				assert.NotContains(t, seqs(e.master.committed(epoch)), s, "skipped seq %d was sent again", s)
			}
		})
	}
}

// logLine returns the first line of logs holding every part.
func logLine(logs string, parts ...string) string {
	for l := range strings.Lines(logs) {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return l
		}
	}
	return ""
}

// TestOtherRefusalsRetried: a refusal that says nothing about the records
// (the collector is not enrolled, or unknown) keeps the batch whole and is
// retried after a backoff; nothing is skipped.
func TestOtherRefusalsRetried(t *testing.T) {
	for _, code := range []connect.Code{connect.CodePermissionDenied, connect.CodeNotFound, connect.CodeFailedPrecondition} {
		t.Run(code.String(), func(t *testing.T) {
			e := newEnv(t)
			refusing := true
			var sizes []int
			rep := ReporterFunc(func(ctx context.Context, req *licmeshv1.ReportUsageRequest) (*licmeshv1.ReportUsageResponse, error) {
				var r bool
				e.master.set(func(*fakeMaster) { r = refusing; sizes = append(sizes, len(req.GetRecords())) })
				if r {
					return nil, &agent.RejectedError{Master: "127.0.0.1:7443", Code: code, Message: "collector c-1 is not enrolled"}
				}
				return e.master.ReportUsage(ctx, req)
			})
			m := e.openWith(rep)
			spoolN(t, m, 4, 2)
			e.run(m)
			waits := e.clock.WaitAfters(t, 1)
			e.clock.Advance(waits[0])
			waits = e.clock.WaitAfters(t, 2)
			st := m.Stats()
			require.Zero(t, st.Spool.AckedSeq, "after two refusals: %+v", st)
			require.Zero(t, st.RejectedRecords, "after two refusals: %+v", st)
			require.Equal(t, 2, st.FailuresInRow, "after two refusals: %+v", st)
			require.Contains(t, st.LastError, "not enrolled", "after two refusals: %+v", st)
			e.master.set(func(*fakeMaster) { refusing = false })
			e.clock.Advance(waits[1])
			require.Eventually(t, func() bool { return m.Stats().RecordsAcked == 4 }, 10*time.Second, poll, "delivered")
			e.master.set(func(*fakeMaster) {
				assert.Equal(t, []int{4, 4, 4}, sizes, "batch sizes, want the whole batch each time")
			})
			st = m.Stats()
			assert.Zero(t, st.RejectedRecords, "Stats = %+v", st)
			assert.Equal(t, uint64(4), st.RecordsAcked, "Stats = %+v", st)
		})
	}
}

// TestTooLargeShrinks: a request over the client's message limit, which the
// agent reports among the masters it could not reach, is sent in smaller
// batches; a record too large on its own is skipped.
func TestTooLargeShrinks(t *testing.T) {
	e := newEnv(t)
	const limit = 3 // records per request the "client" sends
	var sizes []int
	rep := ReporterFunc(func(ctx context.Context, req *licmeshv1.ReportUsageRequest) (*licmeshv1.ReportUsageResponse, error) {
		n := len(req.GetRecords())
		e.master.set(func(*fakeMaster) { sizes = append(sizes, n) })
		big := slices.ContainsFunc(req.GetRecords(), func(r *licmeshv1.UsageRecord) bool { return len(r.GetSample().GetUsers()) > 50 })
		if n > limit || big {
			// As the agent words it: every master failed, one after a
			// timeout, the others on the client's own size check.
			tooBig := connect.NewError(connect.CodeResourceExhausted, errors.New("message size 1100000 exceeds sendMaxBytes 1048576"))
			return nil, fmt.Errorf("%w: %w", agent.ErrUnavailable, errors.Join(
				fmt.Errorf("127.0.0.1:7443: %w", connect.NewError(connect.CodeDeadlineExceeded, context.DeadlineExceeded)),
				fmt.Errorf("127.0.0.1:7453: %w", tooBig)))
		}
		return e.master.ReportUsage(ctx, req)
	})
	m := e.openWith(rep)
	for i := range 10 {
		users := 2
		if i == 6 {
			users = 100
		}
		m.record(t.Context(), sampleN(i, users))
	}
	e.run(m)
	require.Eventually(t, func() bool { st := m.Stats(); return st.RecordsAcked+st.RejectedRecords == 10 }, 10*time.Second, poll, "the spool drained")
	want := []uint64{1, 2, 3, 4, 5, 6, 8, 9, 10}
	assert.Equal(t, want, seqs(e.master.committed(m.Stats().Epoch)), "committed")
	e.master.set(func(*fakeMaster) { t.Logf("batch sizes: %v", sizes) })
	st := m.Stats()
	assert.Equal(t, uint64(1), st.RejectedRecords, "Stats = %+v", st)
	assert.Zero(t, st.FailuresInRow, "Stats = %+v", st)
	assert.Contains(t, logLine(e.logs.String(), "seq=7 ", "it is skipped"), "message size limit",
		"the skipped record's warning does not give the reason")
}

// connectMaster serves the fake master over real Connect, as the masters'
// collector service does: a refusal is a Connect error with its code.
type connectMaster struct {
	licmeshv1connect.UnimplementedCollectorServiceHandler
	f *fakeMaster
}

func (c connectMaster) ReportUsage(ctx context.Context, req *connect.Request[licmeshv1.ReportUsageRequest]) (*connect.Response[licmeshv1.ReportUsageResponse], error) {
	resp, err := c.f.ReportUsage(ctx, req.Msg)
	var rej *agent.RejectedError
	switch {
	case errors.As(err, &rej):
		return nil, connect.NewError(rej.Code, errors.New(rej.Message))
	case err != nil:
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	return connect.NewResponse(resp), nil
}

// TestRefusalsOverConnect runs the rule against a real Connect server and
// client, without the agent: the masters' body limit (ResourceExhausted
// from the server), the client's send limit (ResourceExhausted raised
// locally) and an invalid record (InvalidArgument) all shrink the batch
// until the one record at fault is skipped.
func TestRefusalsOverConnect(t *testing.T) {
	const limit = 6 << 10
	for name, tc := range map[string]struct {
		server     []connect.HandlerOption
		clientOpts []connect.ClientOption
		refuse     func(*licmeshv1.UsageRecord) error
		reason     string
	}{
		"server body limit": {server: []connect.HandlerOption{connect.WithReadMaxBytes(limit)}, reason: "resource_exhausted"},
		"client send limit": {clientOpts: []connect.ClientOption{connect.WithSendMaxBytes(limit)}, reason: "client's message size limit"},
		"invalid record":    {refuse: refuseSeqs(7), reason: "more than a day after"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.master.set(func(f *fakeMaster) { f.refuse = tc.refuse })
			mux := http.NewServeMux()
			mux.Handle(licmeshv1connect.NewCollectorServiceHandler(connectMaster{f: e.master}, tc.server...))
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			client := licmeshv1connect.NewCollectorServiceClient(srv.Client(), srv.URL, tc.clientOpts...)
			m := e.openWith(ReporterFunc(func(ctx context.Context, req *licmeshv1.ReportUsageRequest) (*licmeshv1.ReportUsageResponse, error) {
				resp, err := client.ReportUsage(ctx, connect.NewRequest(req))
				if err != nil {
					return nil, err
				}
				return resp.Msg, nil
			}))
			// ~1.3 KiB each, so that about four go in 6 KiB; the 7th
			// is over it alone.
			for i := range 12 {
				users := 20
				if i == 6 && tc.refuse == nil {
					users = 200
				}
				m.record(t.Context(), sampleN(i, users))
			}
			e.run(m)
			require.Eventually(t, func() bool { st := m.Stats(); return st.RecordsAcked+st.RejectedRecords == 12 }, 10*time.Second, poll, "the spool drained")
			want := []uint64{1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12}
			assert.Equal(t, want, seqs(e.master.committed(m.Stats().Epoch)), "committed")
			e.master.checkOnce(t)
			st := m.Stats()
			assert.Equal(t, uint64(1), st.RejectedRecords, "Stats = %+v", st)
			assert.Zero(t, st.FailuresInRow, "Stats = %+v", st)
			assert.Contains(t, logLine(e.logs.String(), "seq=7 ", "it is skipped"), tc.reason, "the warning for seq 7 does not give the reason")
		})
	}
}

func TestBisect(t *testing.T) {
	recs := func(first, last uint64) []spool.Record {
		var out []spool.Record
		for s := first; s <= last; s++ {
			out = append(out, spool.Record{Seq: s})
		}
		return out
	}
	b := bisect{full: 100}
	require.Equal(t, 100, b.size(), "a new bisect: size")
	require.False(t, b.active(), "a new bisect: active")
	b.refused(recs(11, 20))
	require.Equal(t, 5, b.size(), "after a refused batch of 10: size")
	require.True(t, b.active(), "after a refused batch of 10: active")
	b.passed(15)
	require.Equal(t, 5, b.size(), "the first half passed: size, want 5 for the second")
	b.refused(recs(16, 20))
	b.refused(recs(16, 17))
	require.Equal(t, 1, b.size(), "size")
	b.passed(17)
	require.Equal(t, 100, b.size(), "past the refused range: size")
	require.False(t, b.active(), "past the refused range: active")
}
