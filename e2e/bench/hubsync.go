package bench

import (
	"context"
	"fmt"
)

// H3 and H4 measure what sites send the hub and what sales read of it, on
// embedded SQLite and on a real PostgreSQL in the same run, each against a
// baseline on the same engine, from the hub package's Go benchmarks:
//
//   - H3: monthly usage batches (one installation's month and its 30 days)
//     from 1,000 sites, up to twelve months each, pushed over HTTPS as a
//     site's leader pushes them (signature, chain check, upserts, the
//     monitor's row, the signed receipt) ÷ the same batches appended
//     through the store in their own transactions.
//   - H4: the sales monitor's page over 10,000 installations (1,000 sites of
//     ten), p50 and p99 ÷ the same rows read from the store.
const (
	// h3MinRatio: the push adds to the store's writes an HTTPS call, the
	// batch's decoding and signature check, the chain's lookups, the
	// site's contact and backlog, and a signed receipt; within three times
	// the bare append (0.41x SQLite, 0.57x PostgreSQL when set) leaves
	// room for noise, and less means the path wastes something.
	h3MinRatio = 0.33
	// h4MaxRatio: the page (a query, paging, HTML over HTTPS) within four
	// times the bare read of its rows, at the median.
	h4MaxRatio = 4.0
	h3Runs     = "2000x"
	h4Runs     = "40x"
)

// HubSyncRun is what H3 and H4 read, by engine.
type HubSyncRun struct {
	Pushed, Appended map[string]float64 // batches/s
	PageP50, PageP99 map[string]float64 // ms
	RawP50, RawP99   map[string]float64 // ms
}

func measureHubSync(ctx context.Context, cfg Config, h4 bool) (HubSyncRun, []byte, error) {
	run := HubSyncRun{Pushed: map[string]float64{}, Appended: map[string]float64{}, PageP50: map[string]float64{}, PageP99: map[string]float64{},
		RawP50: map[string]float64{}, RawP99: map[string]float64{}}
	if err := cfg.Validate(); err != nil {
		return run, nil, err
	}
	pattern, benchtime := "^(BenchmarkPushMonthlyBatches|BenchmarkRawBatchAppend)$", h3Runs
	if h4 {
		pattern, benchtime = "^(BenchmarkMonitorPage10k|BenchmarkRawInstallations10k)$", h4Runs
	}
	metrics, out, err := runGoBench(ctx, cfg.FSM, hubPackage, pattern, benchtime)
	if err != nil {
		return run, out, err
	}
	return readHubSync(run, metrics, out, h4)
}

// readHubSync fills run from the benchmarks' values; every engine must
// have printed its pair.
func readHubSync(run HubSyncRun, metrics map[string]map[string]float64, out []byte, h4 bool) (HubSyncRun, []byte, error) {
	for _, e := range hubEngines {
		for _, m := range []struct {
			bench, unit string
			into        map[string]float64
		}{
			{"BenchmarkPushMonthlyBatches", "batches/s", run.Pushed}, {"BenchmarkRawBatchAppend", "batches/s", run.Appended},
			{"BenchmarkMonitorPage10k", "p50-ms", run.PageP50}, {"BenchmarkMonitorPage10k", "p99-ms", run.PageP99},
			{"BenchmarkRawInstallations10k", "p50-ms", run.RawP50}, {"BenchmarkRawInstallations10k", "p99-ms", run.RawP99},
		} {
			if v, ok := metrics[m.bench+"/"+e][m.unit]; ok {
				m.into[e] = v
			}
		}
	}
	a, b := run.Pushed, run.Appended
	if h4 {
		a, b = run.PageP50, run.RawP50
	}
	if len(a) != len(hubEngines) || len(b) != len(hubEngines) {
		return run, out, fmt.Errorf("%w: hub benchmarks printed no result for every engine\n%s", ErrFSMBench, tail(out, 4000))
	}
	return run, out, nil
}

func h3Rows(r HubSyncRun) []Result {
	var rows []Result
	for _, e := range hubEngines {
		ratio := r.Pushed[e] / r.Appended[e]
		rows = append(rows, Result{ID: "H3", Name: "monthly usage batches pushed ÷ appended in the store, " + e, Value: ratio, Unit: "x",
			Goal: fmt.Sprintf("≥ %gx", h3MinRatio), Met: Verdict(ratio >= h3MinRatio),
			Note: fmt.Sprintf("%.0f batches/s pushed; %.0f appended/s (%s of 1,000 sites × 12 months)", r.Pushed[e], r.Appended[e], h3Runs)})
	}
	return rows
}

func h4Rows(r HubSyncRun) []Result {
	var rows []Result
	for _, e := range hubEngines {
		ratio := r.PageP50[e] / r.RawP50[e]
		rows = append(rows, Result{ID: "H4", Name: "sales monitor over 10,000 installations ÷ bare read, p50, " + e, Value: ratio, Unit: "x",
			Goal: fmt.Sprintf("≤ %gx", h4MaxRatio), Met: Verdict(ratio <= h4MaxRatio),
			Note: fmt.Sprintf("page p50 %.1f ms, p99 %.1f ms; bare read p50 %.1f ms, p99 %.1f ms (%s)", r.PageP50[e], r.PageP99[e], r.RawP50[e], r.RawP99[e], h4Runs)})
	}
	return rows
}

func runH3(ctx context.Context, s *Session) ([]Result, error) {
	r, _, err := measureHubSync(ctx, s.Config(), false)
	if err != nil {
		return nil, err
	}
	return h3Rows(r), nil
}

func runH4(ctx context.Context, s *Session) ([]Result, error) {
	r, _, err := measureHubSync(ctx, s.Config(), true)
	if err != nil {
		return nil, err
	}
	return h4Rows(r), nil
}
