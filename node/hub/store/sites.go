package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/upstream"
	"github.com/licmesh/licmesh/licensing/usage"
)

// Site is a registered cluster: one customer installation of masters, and
// the chain of usage batches it has sent.
type Site struct {
	ClusterID         license.ClusterID
	Company           CompanyID
	PublicKey         []byte
	Products          []string
	MasterVersions    []string
	CollectorVersions []string
	RegisteredAt      time.Time
	LastContactAt     time.Time
	LastOnlineAt      time.Time
	LastFileAt        time.Time
	// ChainSeq and ChainHash are the last batch the hub holds.
	ChainSeq  uint64
	ChainHash string
	Zone      string
	// Backlog is what the site said still waited to be sent, at its last
	// push: batches and changed periods.
	Backlog int64
}

// Arrival says how the site's usage has reached the hub.
func (s Site) Arrival() string {
	switch {
	case !s.LastOnlineAt.IsZero() && !s.LastFileAt.IsZero():
		return "both"
	case !s.LastOnlineAt.IsZero():
		return "online"
	case !s.LastFileAt.IsZero():
		return "file"
	}
	return "none"
}

const siteCols = `cluster_id, company_id, public_key, products, master_versions, collector_versions, registered_at,
	last_contact_at, last_online_at, last_file_at, chain_seq, chain_hash, zone`

// siteReadCols are siteCols and what only updates set.
const siteReadCols = siteCols + `, backlog`

func scanSite(r interface{ Scan(...any) error }) (Site, error) {
	var s Site
	var key, products, masters, collectors string
	var reg, contact int64
	var online, file sql.NullInt64
	var seq int64
	err := r.Scan(&s.ClusterID, &s.Company, &key, &products, &masters, &collectors, &reg, &contact, &online, &file, &seq, &s.ChainHash, &s.Zone,
		&s.Backlog)
	if err != nil {
		return s, err
	}
	s.PublicKey = []byte(key)
	s.RegisteredAt, s.LastContactAt, s.LastOnlineAt, s.LastFileAt = fromMS(reg), fromMS(contact), fromNullMS(online), fromNullMS(file)
	s.ChainSeq = uint64(seq)
	for _, f := range []struct {
		text string
		into *[]string
	}{{products, &s.Products}, {masters, &s.MasterVersions}, {collectors, &s.CollectorVersions}} {
		if err := json.Unmarshal([]byte(f.text), f.into); err != nil {
			return s, fmt.Errorf("site %s: %w", s.ClusterID, err)
		}
	}
	return s, nil
}

func jsonText(v any) string {
	b, _ := json.Marshal(v) // slices of strings and plain structs
	return string(b)
}

// PutSite registers a site, or updates what a re-registration may change
// (company, products, versions, contact time) of one registered with the
// same key. Its chain is set only when it is new.
func (t *Tx) PutSite(ctx context.Context, s Site) error {
	if s.ClusterID.Validate() != nil || !s.Company.Valid() || len(s.PublicKey) == 0 {
		return fmt.Errorf("%w: site %q", ErrInvalid, s.ClusterID)
	}
	orEmpty := func(v []string) []string {
		if v == nil {
			return []string{}
		}
		return v
	}
	_, err := t.exec(ctx, "site "+string(s.ClusterID), `INSERT INTO sites (`+siteCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL, $9, $10, $11)
		ON CONFLICT (cluster_id) DO UPDATE SET company_id = excluded.company_id, products = excluded.products,
			master_versions = excluded.master_versions, collector_versions = excluded.collector_versions,
			last_contact_at = excluded.last_contact_at`,
		s.ClusterID, s.Company, string(s.PublicKey), jsonText(orEmpty(s.Products)), jsonText(orEmpty(s.MasterVersions)),
		jsonText(orEmpty(s.CollectorVersions)), ms(s.RegisteredAt), ms(s.LastContactAt), int64(s.ChainSeq), s.ChainHash, s.Zone)
	return err
}

// Site returns the site of a cluster.
func (t *Tx) Site(ctx context.Context, id license.ClusterID) (Site, error) {
	s, err := scanSite(t.tx.QueryRowContext(ctx, `SELECT `+siteReadCols+` FROM sites WHERE cluster_id = $1`, id))
	if err != nil {
		return Site{}, t.wrap("site "+string(id), err)
	}
	return s, nil
}

// ListSites returns the sites of one company, or all, by cluster ID.
func (t *Tx) ListSites(ctx context.Context, company CompanyID, reseller ResellerID) ([]Site, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+prefixed("s.", siteReadCols)+` FROM sites s JOIN companies c ON c.id = s.company_id
		WHERE ($1 = '' OR s.company_id = $1) AND ($2 = '' OR c.reseller_id = $2) ORDER BY s.cluster_id`, string(company), string(reseller))
	if err != nil {
		return nil, t.wrap("sites", err)
	}
	return collect(rows, scanSite)
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// TouchSite records a contact from the site: via "online" or "file", or
// "" for a contact that carried no usage (a license check).
func (t *Tx) TouchSite(ctx context.Context, id license.ClusterID, via string, at time.Time) error {
	q := `UPDATE sites SET last_contact_at = $1 WHERE cluster_id = $2`
	switch via {
	case "online":
		q = `UPDATE sites SET last_contact_at = $1, last_online_at = $1 WHERE cluster_id = $2`
	case "file":
		q = `UPDATE sites SET last_contact_at = $1, last_file_at = $1 WHERE cluster_id = $2`
	}
	r, err := t.exec(ctx, "site "+string(id), q, ms(at), id)
	if err != nil {
		return err
	}
	return affectedOne(r, "site "+string(id))
}

// SetSiteBacklog records what the site said still waits to be sent.
func (t *Tx) SetSiteBacklog(ctx context.Context, id license.ClusterID, n int64) error {
	_, err := t.exec(ctx, "site "+string(id), `UPDATE sites SET backlog = $1 WHERE cluster_id = $2`, max(n, 0), id)
	return err
}

// SetSiteVersions records the versions the site's masters and collectors
// run, as its license check said.
func (t *Tx) SetSiteVersions(ctx context.Context, id license.ClusterID, masters, collectors []string) error {
	if masters == nil {
		masters = []string{}
	}
	if collectors == nil {
		collectors = []string{}
	}
	_, err := t.exec(ctx, "site "+string(id), `UPDATE sites SET master_versions = $1, collector_versions = $2 WHERE cluster_id = $3`,
		jsonText(masters), jsonText(collectors), id)
	return err
}

// BatchHash returns the hash of batch seq of a site's chain, and whether
// the hub holds it.
func (t *Tx) BatchHash(ctx context.Context, id license.ClusterID, seq uint64) (string, bool, error) {
	var h string
	err := t.tx.QueryRowContext(ctx, `SELECT hash FROM usage_batches WHERE cluster_id = $1 AND seq = $2`, id, int64(seq)).Scan(&h)
	if err == sql.ErrNoRows {
		return "", false, nil
	}
	if err != nil {
		return "", false, t.wrap("batch", err)
	}
	return h, true, nil
}

// AppendBatch stores a batch that follows the site's chain: its records,
// its place in the chain, the site's new head. The caller has checked it
// follows; the head update checks again, so two writers cannot both
// append the same place.
func (t *Tx) AppendBatch(ctx context.Context, b *upstream.Batch, hash, via string, at time.Time) error {
	site, err := t.Site(ctx, b.ClusterID)
	if err != nil {
		return err
	}
	r, err := t.exec(ctx, "chain", `UPDATE sites SET chain_seq = $1, chain_hash = $2, zone = $3 WHERE cluster_id = $4 AND chain_seq = $5 AND chain_hash = $6`,
		int64(b.Seq), hash, b.Zone, b.ClusterID, int64(b.Seq-1), b.Prev)
	if err != nil {
		return err
	}
	if err := affectedOne(r, fmt.Sprintf("chain head %d of site %s", b.Seq-1, b.ClusterID)); err != nil {
		return fmt.Errorf("%w: batch %d does not follow the chain the hub holds", ErrConflict, b.Seq)
	}
	if _, err := t.exec(ctx, "batch", `INSERT INTO usage_batches (cluster_id, seq, hash, via, records, received_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		b.ClusterID, int64(b.Seq), hash, via, b.Records(), ms(at)); err != nil {
		return err
	}
	seq, now := int64(b.Seq), ms(at)
	touched := map[usage.InstallationID]bool{}
	for _, m := range b.Months {
		if err := t.putMonth(ctx, b.ClusterID, m, seq, now); err != nil {
			return err
		}
		touched[m.Installation] = true
	}
	if err := t.putDays(ctx, b.ClusterID, b.Days, seq); err != nil {
		return err
	}
	for _, c := range b.Credits {
		if _, err := t.exec(ctx, "credits", `INSERT INTO usage_credits (cluster_id, license_id, unit, bought, consumed, seq, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (cluster_id, license_id) DO UPDATE SET unit = excluded.unit, bought = excluded.bought, consumed = excluded.consumed,
				seq = excluded.seq, received_at = excluded.received_at`,
			b.ClusterID, c.License, c.Unit, c.Bought, c.Consumed, seq, now); err != nil {
			return err
		}
	}
	for _, s := range b.Seats {
		if _, err := t.exec(ctx, "seats", `INSERT INTO usage_seats (cluster_id, pool, seats, held, peak, overage_grants, last_overage_at, seq, received_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (cluster_id, pool) DO UPDATE SET seats = excluded.seats, held = excluded.held, peak = excluded.peak,
				overage_grants = excluded.overage_grants, last_overage_at = excluded.last_overage_at, seq = excluded.seq, received_at = excluded.received_at`,
			b.ClusterID, s.Pool, s.Seats, s.Held, s.Peak, int64(s.OverageGrants), nullMS(s.LastOverageAt), seq, now); err != nil {
			return err
		}
	}
	for inst := range touched {
		if err := t.refreshInstallation(ctx, site, inst, now); err != nil {
			return err
		}
	}
	return nil
}

// daysPerStatement bounds the rows of one multi-row upsert of days, well
// under both engines' limits on bound parameters.
const daysPerStatement = 500

// putDays upserts a batch's days, many rows a statement: a monthly batch
// is one installation's thirty days, and a statement each would cost a
// round trip each. A day given twice keeps its last state, as applying
// them one by one would.
func (t *Tx) putDays(ctx context.Context, cluster license.ClusterID, days []upstream.Day, seq int64) error {
	type key struct {
		inst usage.InstallationID
		day  usage.DayKey
	}
	last := make(map[key]int, len(days))
	for i, d := range days {
		last[key{d.Installation, d.Day}] = i
	}
	var rows []upstream.Day
	for i, d := range days {
		if last[key{d.Installation, d.Day}] == i {
			rows = append(rows, d)
		}
	}
	for chunk := range slices.Chunk(rows, daysPerStatement) {
		var q strings.Builder
		q.WriteString(`INSERT INTO usage_days (cluster_id, installation, day, samples, stats, seq) VALUES `)
		args := make([]any, 0, 6*len(chunk))
		for i, d := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6)
			args = append(args, cluster, d.Installation, d.Day.String(), int64(d.Samples), jsonText(d.DayStats), seq)
		}
		q.WriteString(` ON CONFLICT (cluster_id, installation, day) DO UPDATE SET samples = excluded.samples, stats = excluded.stats, seq = excluded.seq`)
		if _, err := t.exec(ctx, "days", q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

func nullMS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: ms(t), Valid: true}
}

// putMonth stores a month's state. A month the hub holds closed never
// changes again (promise P3): only what arrived late, kept beside it, may.
func (t *Tx) putMonth(ctx context.Context, cluster license.ClusterID, m upstream.Month, seq, now int64) error {
	var late sql.NullString
	if m.Late != nil {
		late = sql.NullString{String: jsonText(m.Late), Valid: true}
	}
	mt := m.Metrics
	_, err := t.exec(ctx, "month", `INSERT INTO usage_months (cluster_id, installation, month, closed, closed_at, users, users_max, cases, cases_max,
			metrics, late, seq, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (cluster_id, installation, month) DO UPDATE SET
			closed = excluded.closed, closed_at = excluded.closed_at, users = excluded.users, users_max = excluded.users_max,
			cases = excluded.cases, cases_max = excluded.cases_max, metrics = excluded.metrics, late = excluded.late,
			seq = excluded.seq, received_at = excluded.received_at
		WHERE usage_months.closed = 0`,
		cluster, m.Installation, m.Month.String(), btoi(m.Closed), nullMS(m.ClosedAt), mt.UserCountLatest, mt.UserCountMax,
		mt.CaseCountLatest, mt.CaseCountMax, jsonText(mt), late, seq, now)
	if err != nil || !m.Closed {
		return err
	}
	_, err = t.exec(ctx, "late", `UPDATE usage_months SET late = $1 WHERE cluster_id = $2 AND installation = $3 AND month = $4 AND closed = 1`,
		late, cluster, m.Installation, m.Month.String())
	return err
}

// refreshInstallation sets the sales monitor's row of one installation
// from its latest month.
func (t *Tx) refreshInstallation(ctx context.Context, site Site, inst usage.InstallationID, now int64) error {
	var month string
	var users, usersMax, cases, casesMax int64
	err := t.tx.QueryRowContext(ctx, `SELECT month, users, users_max, cases, cases_max FROM usage_months
		WHERE cluster_id = $1 AND installation = $2 ORDER BY month DESC LIMIT 1`, site.ClusterID, inst).
		Scan(&month, &users, &usersMax, &cases, &casesMax)
	if err != nil {
		return t.wrap("latest month", err)
	}
	_, err = t.exec(ctx, "installation", `INSERT INTO installations (cluster_id, installation, company_id, month, users, users_max, cases, cases_max, last_report_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (cluster_id, installation) DO UPDATE SET company_id = excluded.company_id, month = excluded.month, users = excluded.users,
			users_max = excluded.users_max, cases = excluded.cases, cases_max = excluded.cases_max, last_report_at = excluded.last_report_at`,
		site.ClusterID, inst, site.Company, month, users, usersMax, cases, casesMax, now)
	return err
}

// InstallationRow is one product installation as the sales monitor lists
// it.
type InstallationRow struct {
	ClusterID    license.ClusterID
	Installation usage.InstallationID
	Company      CompanyID
	CompanyName  string
	Products     []string
	Month        string
	Users        int64
	UsersMax     int64
	Cases        int64
	CasesMax     int64
	LastReportAt time.Time
	LastOnlineAt time.Time
	LastFileAt   time.Time
	// OverLimit: one of the site's pools peaked above its seats or
	// recorded overage grants.
	OverLimit bool
}

// Arrival says how the installation's site sends usage.
func (r InstallationRow) Arrival() string {
	return Site{LastOnlineAt: r.LastOnlineAt, LastFileAt: r.LastFileAt}.Arrival()
}

// InstallationFilter selects sales monitor rows.
type InstallationFilter struct {
	Company  CompanyID
	Reseller ResellerID
	Cluster  license.ClusterID
}

// ListInstallations returns the sales monitor's rows by company name, then
// cluster and installation.
func (t *Tx) ListInstallations(ctx context.Context, f InstallationFilter) ([]InstallationRow, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT i.cluster_id, i.installation, i.company_id, c.name, s.products, i.month, i.users, i.users_max,
			i.cases, i.cases_max, i.last_report_at, s.last_online_at, s.last_file_at,
			EXISTS (SELECT 1 FROM usage_seats u WHERE u.cluster_id = i.cluster_id AND (u.peak > u.seats OR u.overage_grants > 0))
		FROM installations i JOIN companies c ON c.id = i.company_id JOIN sites s ON s.cluster_id = i.cluster_id
		WHERE ($1 = '' OR i.company_id = $1) AND ($2 = '' OR c.reseller_id = $2) AND ($3 = '' OR i.cluster_id = $3)
		ORDER BY c.name, i.cluster_id, i.installation`, string(f.Company), string(f.Reseller), string(f.Cluster))
	if err != nil {
		return nil, t.wrap("installations", err)
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (InstallationRow, error) {
		var x InstallationRow
		var products string
		var last int64
		var online, file sql.NullInt64
		err := r.Scan(&x.ClusterID, &x.Installation, &x.Company, &x.CompanyName, &products, &x.Month, &x.Users, &x.UsersMax,
			&x.Cases, &x.CasesMax, &last, &online, &file, &x.OverLimit)
		if err == nil {
			err = json.Unmarshal([]byte(products), &x.Products)
		}
		x.LastReportAt, x.LastOnlineAt, x.LastFileAt = fromMS(last), fromNullMS(online), fromNullMS(file)
		return x, err
	})
}

// UsageMonth is one installation's month as the hub holds it.
type UsageMonth struct {
	ClusterID    license.ClusterID
	Installation usage.InstallationID
	Company      CompanyID
	CompanyName  string
	Month        usage.MonthKey
	Closed       bool
	ClosedAt     time.Time
	Metrics      usage.Metrics
	Late         *usage.LateArrivals
	Seq          uint64
	ReceivedAt   time.Time
}

// MonthFilter selects months: of one installation, of one company, or of
// one month across every company.
type MonthFilter struct {
	Cluster      license.ClusterID
	Installation usage.InstallationID
	Company      CompanyID
	Reseller     ResellerID
	Month        string
}

// ListMonths returns the months f selects, newest first, then by company
// name and installation.
func (t *Tx) ListMonths(ctx context.Context, f MonthFilter) ([]UsageMonth, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT m.cluster_id, m.installation, s.company_id, c.name, m.month, m.closed, m.closed_at, m.metrics,
			COALESCE(m.late, ''), m.seq, m.received_at
		FROM usage_months m JOIN sites s ON s.cluster_id = m.cluster_id JOIN companies c ON c.id = s.company_id
		WHERE ($1 = '' OR m.cluster_id = $1) AND ($2 = '' OR m.installation = $2) AND ($3 = '' OR s.company_id = $3)
		  AND ($4 = '' OR c.reseller_id = $4) AND ($5 = '' OR m.month = $5)
		ORDER BY m.month DESC, c.name, m.cluster_id, m.installation`,
		string(f.Cluster), string(f.Installation), string(f.Company), string(f.Reseller), f.Month)
	if err != nil {
		return nil, t.wrap("months", err)
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (UsageMonth, error) {
		var x UsageMonth
		var month, metrics, late string
		var closed int
		var closedAt sql.NullInt64
		var seq, recv int64
		if err := r.Scan(&x.ClusterID, &x.Installation, &x.Company, &x.CompanyName, &month, &closed, &closedAt, &metrics, &late, &seq, &recv); err != nil {
			return x, err
		}
		k, err := usage.ParseMonthKey(month)
		if err != nil {
			return x, err
		}
		x.Month, x.Closed, x.ClosedAt, x.Seq, x.ReceivedAt = k, closed == 1, fromNullMS(closedAt), uint64(seq), fromMS(recv)
		if err := json.Unmarshal([]byte(metrics), &x.Metrics); err != nil {
			return x, err
		}
		if late != "" {
			x.Late = new(usage.LateArrivals)
			if err := json.Unmarshal([]byte(late), x.Late); err != nil {
				return x, err
			}
		}
		return x, nil
	})
}

// UsageMonths lists the months on record across all sites, newest first:
// the all-subscribers grid's month drop-down.
func (t *Tx) UsageMonths(ctx context.Context) ([]string, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT DISTINCT month FROM usage_months ORDER BY month DESC`)
	if err != nil {
		return nil, t.wrap("months", err)
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (string, error) {
		var s string
		return s, r.Scan(&s)
	})
}

// ListDays returns one installation's days, newest first.
func (t *Tx) ListDays(ctx context.Context, cluster license.ClusterID, inst usage.InstallationID) ([]usage.DayStats, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT stats FROM usage_days WHERE cluster_id = $1 AND installation = $2 ORDER BY day DESC`, cluster, inst)
	if err != nil {
		return nil, t.wrap("days", err)
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (usage.DayStats, error) {
		var s string
		var d usage.DayStats
		if err := r.Scan(&s); err != nil {
			return d, err
		}
		return d, json.Unmarshal([]byte(s), &d)
	})
}

// SeatRow is one pool of a site as its last batch described it.
type SeatRow struct {
	ClusterID license.ClusterID
	upstream.Seats
}

// ListSeats returns a site's pools.
func (t *Tx) ListSeats(ctx context.Context, cluster license.ClusterID) ([]SeatRow, error) {
	return t.seats(ctx, cluster)
}

// seats returns a site's pools, or every site's when cluster is empty.
func (t *Tx) seats(ctx context.Context, cluster license.ClusterID) ([]SeatRow, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT cluster_id, pool, seats, held, peak, overage_grants, last_overage_at FROM usage_seats
		WHERE ($1 = '' OR cluster_id = $1) ORDER BY cluster_id, pool`, string(cluster))
	if err != nil {
		return nil, t.wrap("seats", err)
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (SeatRow, error) {
		var x SeatRow
		var og int64
		var last sql.NullInt64
		err := r.Scan(&x.ClusterID, &x.Pool, &x.Seats.Seats, &x.Held, &x.Peak, &og, &last)
		x.OverageGrants, x.LastOverageAt = uint64(og), fromNullMS(last)
		return x, err
	})
}

// ListCredits returns a site's usage credits.
func (t *Tx) ListCredits(ctx context.Context, cluster license.ClusterID) ([]upstream.Credit, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT license_id, unit, bought, consumed FROM usage_credits WHERE cluster_id = $1 ORDER BY license_id`, cluster)
	if err != nil {
		return nil, t.wrap("credits", err)
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (upstream.Credit, error) {
		var c upstream.Credit
		return c, r.Scan(&c.License, &c.Unit, &c.Bought, &c.Consumed)
	})
}

// ClusterLicenses returns the licenses bound to a cluster: those in force
// (neither superseded nor revoked) and those revoked. A license whose
// replacement (or its replacement's, and so on) was revoked counts as
// revoked too: a site that never saw the replacement still holds it, and
// must drop it.
func (t *Tx) ClusterLicenses(ctx context.Context, cluster license.ClusterID) (current, revoked []License, err error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+licenseCols+` FROM licenses WHERE cluster_id = $1 ORDER BY issued_at, id`, cluster)
	if err != nil {
		return nil, nil, t.wrap("cluster licenses", err)
	}
	all, err := collect(rows, scanLicense)
	if err != nil {
		return nil, nil, err
	}
	byID := make(map[LicenseID]License, len(all))
	for _, l := range all {
		byID[l.ID] = l
	}
	for _, l := range all {
		head := l
		// Chains are short and acyclic (only a current license can be
		// superseded); the bound is a guard, not a limit.
		for i := 0; head.SupersededBy != "" && i < 1000; i++ {
			next, ok := byID[head.SupersededBy]
			if !ok {
				if next, err = t.License(ctx, head.SupersededBy); err != nil {
					return nil, nil, err
				}
				byID[next.ID] = next
			}
			head = next
		}
		switch {
		case l.SupersededBy == "" && l.RevokedAt.IsZero():
			current = append(current, l)
		case !head.RevokedAt.IsZero():
			revoked = append(revoked, l)
		}
	}
	return current, revoked, nil
}
