package bench

import (
	"context"
	"fmt"
)

// H1 and H2 measure the vendor hub on embedded SQLite and on a real
// PostgreSQL (started by the benchmarks from the installed binaries), in
// the same run, each against a baseline on the same engine, by running the
// hub package's Go benchmarks in a `go test` process of their own:
//
//   - H1: licenses issued per second through the whole path (an API call
//     over HTTPS, authentication, the product's templates, the license
//     validated, signed and stored with its history and audit records in one
//     transaction) ÷ one license row inserted in its own transaction.
//   - H2: the customer portal's license dashboard (GET /ui/ over HTTPS as
//     the company's user) for a company that has 1,000 licenses ÷ the same
//     rows read from the store.
//
// The PostgreSQL the benchmarks start runs with fsync off (it is a test
// server): its figures are not durable ones, and H1 on SQLite (which syncs
// every commit) is the one to quote for a single machine.
const (
	hubPackage = "./node/hub"
	// h1MinRatio: the API path makes about four times the database round
	// trips of a bare insert (the key's check, the company, the product,
	// the signing key, the license, its history and audit rows) besides
	// the HTTPS call and the signature, so a fifth to a quarter of the bare
	// rate is its floor; below 0.15x the path wastes something.
	h1MinRatio = 0.15
	// h2MaxRatio: the portal of a company with 1,000 licenses within three
	// times the bare read of its licenses.
	h2MaxRatio = 3.0
)

var hubEngines = []string{"sqlite", "postgres"}

// HubBenchRun is what H1 and H2 read from the hub's benchmarks, by engine.
type HubBenchRun struct {
	Issued, RawInsert  map[string]float64 // licenses/s
	Page, RawList      map[string]float64 // ms per 1,000 licenses
	IssueRuns, PageRun string             // -benchtime used
}

// MeasureHub runs the hub's benchmarks for H1 (issue) or H2 (page).
func MeasureHub(ctx context.Context, cfg Config, h2 bool) (HubBenchRun, error) {
	if err := cfg.Validate(); err != nil {
		return HubBenchRun{}, err
	}
	run := HubBenchRun{Issued: map[string]float64{}, RawInsert: map[string]float64{}, Page: map[string]float64{}, RawList: map[string]float64{},
		IssueRuns: "300x", PageRun: "20x"}
	pattern, benchtime := "^(BenchmarkIssueLicense|BenchmarkRawLicenseInsert)$", run.IssueRuns
	if h2 {
		pattern, benchtime = "^(BenchmarkPortalDashboard1000|BenchmarkRawLicenseList1000)$", run.PageRun
	}
	metrics, out, err := runGoBench(ctx, cfg.FSM, hubPackage, pattern, benchtime)
	if err != nil {
		return HubBenchRun{}, err
	}
	return readHubBench(run, metrics, out, h2)
}

// readHubBench fills run from the benchmarks' values.
func readHubBench(run HubBenchRun, metrics map[string]map[string]float64, out []byte, h2 bool) (HubBenchRun, error) {
	for _, e := range hubEngines {
		for _, m := range []struct {
			bench, unit string
			into        map[string]float64
		}{
			{"BenchmarkIssueLicense", "licenses/s", run.Issued}, {"BenchmarkRawLicenseInsert", "licenses/s", run.RawInsert},
			{"BenchmarkPortalDashboard1000", "ms/page", run.Page}, {"BenchmarkRawLicenseList1000", "ms/page", run.RawList},
		} {
			if v, ok := metrics[m.bench+"/"+e][m.unit]; ok {
				m.into[e] = v
			}
		}
	}
	want := run.Issued
	if h2 {
		want = run.Page
	}
	if len(want) != len(hubEngines) {
		return HubBenchRun{}, fmt.Errorf("%w: hub benchmarks printed no result for every engine\n%s", ErrFSMBench, tail(out, 4000))
	}
	return run, nil
}

func h1Rows(r HubBenchRun) []Result {
	var rows []Result
	for _, e := range hubEngines {
		ratio := r.Issued[e] / r.RawInsert[e]
		rows = append(rows, Result{ID: "H1", Name: "licenses issued through the API ÷ bare insert, " + e, Value: ratio, Unit: "x",
			Goal: fmt.Sprintf("≥ %gx", h1MinRatio), Met: Verdict(ratio >= h1MinRatio),
			Note: fmt.Sprintf("%.0f licenses/s issued; %.0f bare inserts/s (%s each)", r.Issued[e], r.RawInsert[e], r.IssueRuns)})
	}
	rows = append(rows, Result{ID: "H1", Name: "licenses issued, postgres ÷ sqlite", Value: r.Issued["postgres"] / r.Issued["sqlite"], Unit: "x",
		Note: "the test PostgreSQL runs with fsync off; SQLite syncs every commit"})
	return rows
}

func h2Rows(r HubBenchRun) []Result {
	var rows []Result
	for _, e := range hubEngines {
		ratio := r.Page[e] / r.RawList[e]
		rows = append(rows, Result{ID: "H2", Name: "portal dashboard of a company with 1,000 licenses ÷ bare read, " + e, Value: ratio, Unit: "x",
			Goal: fmt.Sprintf("≤ %gx", h2MaxRatio), Met: Verdict(ratio <= h2MaxRatio),
			Note: fmt.Sprintf("%.1f ms per page; bare read %.1f ms (%s each)", r.Page[e], r.RawList[e], r.PageRun)})
	}
	return rows
}

func runH1(ctx context.Context, s *Session) ([]Result, error) {
	r, err := MeasureHub(ctx, s.Config(), false)
	if err != nil {
		return nil, err
	}
	return h1Rows(r), nil
}

func runH2(ctx context.Context, s *Session) ([]Result, error) {
	r, err := MeasureHub(ctx, s.Config(), true)
	if err != nil {
		return nil, err
	}
	return h2Rows(r), nil
}
